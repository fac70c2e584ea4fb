"""Retrieval controller golden model: the cluster-paged KV layout and its descriptors (SPEC 4).

KV memory is split in pages of ``page_tokens`` slots. Each cluster owns a chain of pages that it
fills in order, so a selected cluster is fetched with one long burst per page.
"""

from __future__ import annotations

import numpy as np

from .config import Config

__all__ = ["PagedLayout", "descriptor_cycles"]


class PagedLayout:
    """Page allocator and per-cluster page chains.

    Members
    -------
    next_free : int
        The next page to hand out; pages are allocated counting up from 0 and never freed.
    overflow : bool
        Sticky ``page_overflow`` flag: some token found no free page.
    chains : list of list of int
        Pages of each cluster in link order.
    fill : list of int
        Tokens stored in each page.
    """

    def __init__(self, config: Config):
        self.config = config
        self.next_free = 0
        self.overflow = False
        self.chains: list[list[int]] = [[] for _ in range(config.max_clusters)]
        self.fill = [0] * config.max_pages

    def place(self, clusters) -> np.ndarray:
        """Give each token (by its cluster id, in order) a slot; ``no_slot`` where none is free."""
        cfg = self.config
        clusters = np.asarray(clusters, dtype=np.int64).reshape(-1)
        slots = np.empty(clusters.size, dtype=np.int64)
        for i, c in enumerate(clusters.tolist()):
            chain = self.chains[c]
            if chain and self.fill[chain[-1]] < cfg.page_tokens:
                page = chain[-1]
            elif self.next_free < cfg.max_pages:
                page = self.next_free            # link a fresh page to the end of the chain
                self.next_free += 1
                chain.append(page)
            else:
                slots[i] = cfg.no_slot           # nothing stored earlier is overwritten
                self.overflow = True
                continue
            slots[i] = page * cfg.page_tokens + self.fill[page]
            self.fill[page] += 1
        return slots

    def descriptors(self, select) -> np.ndarray:
        """``(page, tokens_in_page)`` for each page of each selected cluster, in id then link
        order, as ``int64[D, 2]``."""
        select = np.asarray(select, dtype=bool).reshape(-1)
        rows = [(page, self.fill[page])
                for c in np.flatnonzero(select).tolist()
                for page in self.chains[c]]
        return np.array(rows, dtype=np.int64).reshape(-1, 2)


def descriptor_cycles(select, layout: PagedLayout, lanes: int) -> int:
    """Cycles of the controller's descriptor walk (``rtl/controller.py``) for one query, from
    its first selection beat in to its end beat out, ``o_desc`` never held back.

    The selection arrives in ``W = ceil(n / lanes)`` beats, one a cycle (``W`` cycles, at least
    1: an empty query sends one empty beat); then one cycle to fetch the first word, and per
    word one to load it and one to find it exhausted; per selected cluster one to register its
    entry and one per page, one more when it has several pages (its head's successor is read
    once the head is registered), and one to pick it unless the cluster before it in the same
    word has pages (its last page's cycle picks the next); and the end beat, which leaves
    through the output register a cycle later.
    """
    select = np.asarray(select, dtype=bool).reshape(-1)
    words = max(1, -(-select.size // lanes))
    per_cluster, before = 0, None              # before: the word and pages of the last pick
    for c in np.flatnonzero(select).tolist():
        pages = len(layout.chains[c])
        picked_by_chain = before is not None and before[0] == c // lanes and before[1] > 0
        per_cluster += (0 if picked_by_chain else 1) + 1 + pages + (1 if pages > 1 else 0)
        before = (c // lanes, pages)
    return words + 1 + 2 * words + per_cluster + 1 + 1
