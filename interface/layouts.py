"""Payload layouts of every stream of the HCU, the WTU, the retrieval controller and the DRE.

Each layout is a function of the generator parameters it depends on, so that a unit built on
its own (with raw parameters) and the DRE built from a :class:`Config` share one definition.
:data:`DRE_STREAMS` fixes the DRE's streams and their order: the board bridge numbers its
FIFOs in that order, so it is part of the host protocol.
"""

from __future__ import annotations

from amaranth.hdl import signed
from amaranth.lib import data
from amaranth.utils import bits_for

from vrex.golden.config import slot_bits, wicsum_total_bits

__all__ = ["hash_layout", "id_layout", "slot_layout", "select_layout", "desc_layout",
           "score_layout", "count_layout", "row_layout", "mask_layout", "cluster_bits",
           "page_bits", "kv_beat_layout", "token_layout", "DRE_STREAMS", "PUSH_STREAMS",
           "POP_STREAMS", "KV_STREAMS", "QUERY_TAG_BITS", "dre_layouts", "kv_layouts"]


def cluster_bits(max_clusters: int) -> int:
    """Width of a cluster id."""
    return bits_for(max(max_clusters - 1, 1))


def page_bits(max_pages: int) -> int:
    """Width of a page number."""
    return bits_for(max(max_pages - 1, 1))


def hash_layout(hash_bits: int) -> data.StructLayout:
    """``i_hash``: a token's hash, or (``query`` set) a query marker."""
    return data.StructLayout({"hash": hash_bits, "query": 1})


def id_layout(max_clusters: int) -> data.StructLayout:
    """HCU ``o_id``: the token's cluster and whether the token founded it."""
    return data.StructLayout({"cluster": cluster_bits(max_clusters), "new": 1})


def slot_layout(max_clusters: int, page_tokens: int, max_pages: int) -> data.StructLayout:
    """``o_slot``: the token's cluster and its KV slot (all ones: no page free)."""
    return data.StructLayout({"cluster": cluster_bits(max_clusters),
                              "slot": slot_bits(max_pages, page_tokens)})


def select_layout(lanes: int) -> data.StructLayout:
    """``o_select`` (controller ``i_select``): ``lanes`` selection bits, ``last`` on a
    query's final beat."""
    return data.StructLayout({"mask": lanes, "last": 1})


def desc_layout(page_tokens: int, max_pages: int) -> data.StructLayout:
    """``o_desc``: a page and its tokens, or (``end``) the end of a query's list."""
    return data.StructLayout({"page": page_bits(max_pages), "tokens": range(page_tokens + 1),
                              "end": 1})


def score_layout(score_bits: int, lanes: int) -> data.StructLayout:
    """``i_score``: ``lanes`` signed scores (lane 0 at the LSB) and ``last``."""
    return data.StructLayout({"scores": data.ArrayLayout(signed(score_bits), lanes), "last": 1})


def count_layout(count_bits: int, lanes: int) -> data.ArrayLayout:
    """WTU ``i_count``: ``lanes`` cluster token counts."""
    return data.ArrayLayout(count_bits, lanes)


def row_layout(value_bits: int, count_bits: int, max_clusters: int,
               max_buckets: int) -> data.StructLayout:
    """WTU ``o_row``: the row's exit bucket, threshold ``T`` and total ``S``; ``value_bits``
    is ``max(score_bits, exp_bits)``."""
    total = wicsum_total_bits(value_bits, count_bits, max_clusters)
    return data.StructLayout({"exit_bucket": range(max_buckets), "threshold": total,
                              "total": total})


def mask_layout(lanes: int) -> data.StructLayout:
    """WTU ``o_mask``: ``lanes`` selection bits and whether this is the final mask."""
    return data.StructLayout({"mask": lanes, "final": 1})


def kv_beat_layout(bus_bytes: int) -> data.StructLayout:
    """``i_kv``: one bus beat of a token's K and V bytes (byte 0 lowest), ``last`` on its
    last beat (SPEC 7)."""
    return data.StructLayout({"data": 8 * bus_bytes, "last": 1})


def token_layout(bus_bytes: int, query_bits: int, slots: int) -> data.StructLayout:
    """``o_token``: one bus beat of a fetched token (``last``: the token's last), or (``end``)
    the end of a query's tokens, carrying no data; ``query`` counts queries and wraps."""
    return data.StructLayout({"data": 8 * bus_bytes, "query": query_bits,
                              "slot": range(slots), "last": 1, "end": 1})


# Width of the query count that tags the KV engine's fetched tokens.
QUERY_TAG_BITS = 16

# The DRE's streams: (name, direction seen from the DRE, layout of a Config). Pushes first,
# then pops, in the bridge's FIFO order.
DRE_STREAMS = (
    ("i_hash", "in", lambda c: hash_layout(c.hash_bits)),
    ("i_score", "in", lambda c: score_layout(c.score_bits, c.wtu_lanes)),
    ("o_slot", "out", lambda c: slot_layout(c.max_clusters, c.page_tokens, c.max_pages)),
    ("o_select", "out", lambda c: select_layout(c.wtu_lanes)),
    ("o_desc", "out", lambda c: desc_layout(c.page_tokens, c.max_pages)),
)
PUSH_STREAMS = tuple(name for name, way, _ in DRE_STREAMS if way == "in")
POP_STREAMS = tuple(name for name, way, _ in DRE_STREAMS if way == "out")


def dre_layouts(config) -> dict[str, data.Layout]:
    """Every DRE stream's payload layout for ``config``, in :data:`DRE_STREAMS` order."""
    return {name: layout(config) for name, _, layout in DRE_STREAMS}


# The KV memory engine's streams (SPEC 7), present when ``kv_bytes`` is not 0; the board
# bridge does not carry them.
KV_STREAMS = (
    ("i_kv", "in", lambda c: kv_beat_layout(c.bus_bytes)),
    ("o_token", "out", lambda c: token_layout(c.bus_bytes, QUERY_TAG_BITS,
                                              c.max_pages * c.page_tokens)),
)


def kv_layouts(config) -> dict[str, data.Layout]:
    """The KV engine's stream layouts for ``config``; none without the engine."""
    return {name: layout(config) for name, _, layout in KV_STREAMS} if config.kv_bytes else {}
