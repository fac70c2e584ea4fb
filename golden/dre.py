"""DRE golden model: frames through the HCU and controller, queries through the WTU (SPEC 6).

Frames are clustered and laid out in order; after frame ``f`` every query whose
``query_after`` is ``f`` scores the clusters that exist at that moment, with their counts at that
moment, and its OR-ed selection becomes fetch descriptors.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .config import Config
from .controller import PagedLayout
from .hcu import HcuModel
from .wtu import run_wtu

__all__ = ["DreResult", "QueryBatch", "run_dre", "DESCRIPTOR_CYCLES"]

# Cycles per emitted descriptor. Provisional until the DRE RTL (issue 5) pins the sequencing.
DESCRIPTOR_CYCLES = 1


@dataclasses.dataclass
class QueryBatch:
    """One query as the WTU saw it: its rows over the ``n`` clusters of the moment, their
    counts then, and the WTU's answer."""

    scores: np.ndarray        # int64[rows, n]
    counts: np.ndarray        # int64[n]
    result: object            # vrex.golden.wtu.WtuResult


@dataclasses.dataclass
class DreResult:
    """Outputs of one DRE run (SPEC 6 ``dre`` keys); ``slot`` holds ``no_slot`` where no page
    was free (the vector file reports it as -1)."""

    cluster: np.ndarray       # int64[N]
    slot: np.ndarray          # int64[N]
    select: np.ndarray        # bool[Q, max_clusters]
    descriptors: np.ndarray   # int64[D, 3]: (query, page, tokens_in_page)
    cluster_overflow: bool
    page_overflow: bool
    cycles: int
    # Per query (None where no cluster existed yet): a QueryBatch, for reports.
    queries: list = dataclasses.field(default_factory=list)

    def as_dict(self, no_slot: int) -> dict[str, np.ndarray]:
        return {
            "cluster": self.cluster,
            "slot": np.where(self.slot == no_slot, -1, self.slot),
            "select": self.select,
            "descriptors": self.descriptors,
            "cluster_overflow": np.bool_(self.cluster_overflow),
            "page_overflow": np.bool_(self.page_overflow),
            "cycles": np.int64(self.cycles),
        }


def run_dre(hashes, frame_end, query_after, query_rows, scores, config: Config) -> DreResult:
    """Run a whole stream of frames and queries from reset."""
    hashes = np.asarray(hashes, dtype=np.uint64).reshape(-1)
    frame_end = np.asarray(frame_end, dtype=np.int64).reshape(-1)
    query_after = np.asarray(query_after, dtype=np.int64).reshape(-1)
    query_rows = np.asarray(query_rows, dtype=np.int64).reshape(-1)
    scores = np.asarray(scores, dtype=np.int64)
    hcu = HcuModel(config)
    layout = PagedLayout(config)
    cluster = np.empty(hashes.size, dtype=np.int64)
    slot = np.empty(hashes.size, dtype=np.int64)
    select = np.zeros((query_after.size, config.max_clusters), dtype=bool)
    descriptors = []
    queries = []
    wtu_cycles = 0
    row = 0
    query = 0
    start = 0
    for frame, end in enumerate(frame_end.tolist()):
        ids = hcu.push(hashes[start:end])
        cluster[start:end] = ids
        slot[start:end] = layout.place(ids)
        start = end
        while query < query_after.size and query_after[query] == frame:
            rows = scores[row:row + query_rows[query], :hcu.n]
            row += int(query_rows[query])
            batch = None
            if hcu.n:
                counts = hcu.counts.copy()
                result = run_wtu(rows, counts, config)
                select[query, :hcu.n] = result.select
                wtu_cycles += result.cycles
                for page, tokens in layout.descriptors(result.select).tolist():
                    descriptors.append((query, page, tokens))
                batch = QueryBatch(scores=rows, counts=counts, result=result)
            queries.append(batch)
            query += 1
    cycles = hcu.cycles + wtu_cycles + DESCRIPTOR_CYCLES * len(descriptors)
    return DreResult(
        cluster=cluster,
        slot=slot,
        select=select,
        descriptors=np.array(descriptors, dtype=np.int64).reshape(-1, 3),
        cluster_overflow=hcu.overflow,
        page_overflow=layout.overflow,
        cycles=cycles,
        queries=queries,
    )
