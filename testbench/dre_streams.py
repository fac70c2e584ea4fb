"""The ``dre`` vector as stream beats, and stream beats back as SPEC 6 outputs: shared by the
Amaranth, cocotb and plain-Verilog testbenches of the DRE."""

from __future__ import annotations

import numpy as np

from vrex.golden.config import Config

from .amaranth_wtu import beats_of

__all__ = ["dre_beats", "dre_outputs"]


def dre_beats(arrays: dict, config: Config, golden) -> tuple[list, list, list]:
    """The ``i_hash`` and ``i_score`` beats of a ``dre`` vector, and each query's ``n``: each
    frame's tokens, then a query marker per query after it; each query's rows over the ``n``
    clusters of its moment. ``golden`` is the golden model's ``DreResult`` of the vector: it
    only says how many clusters each query sees (the host learns that from the slot stream)."""
    hashes, frame_end, query_after = arrays["hashes"], arrays["frame_end"], arrays["query_after"]
    hash_beats, score_beats, ns = [], [], []
    start = q = 0
    for frame, end in enumerate(frame_end.tolist()):
        hash_beats += [{"hash": int(h), "query": 0} for h in hashes[start:end]]
        start = end
        while q < query_after.size and query_after[q] == frame:
            hash_beats.append({"hash": 0, "query": 1})
            batch = golden.queries[q]
            ns.append(0 if batch is None else batch.counts.size)
            rows = [] if batch is None else batch.scores
            for r, row in enumerate(rows):
                beats = beats_of(row, config.wtu_lanes)
                for i, beat in enumerate(beats):
                    last = r == len(rows) - 1 and i == len(beats) - 1
                    score_beats.append({"scores": beat, "last": last})
            q += 1
    return hash_beats, score_beats, ns


def dre_outputs(slots, selects, descs, ns, status: int, config: Config, cycles: int) -> dict:
    """SPEC 6 ``dre`` outputs from the beats taken off ``o_slot``, ``o_select``, ``o_desc``
    (as ``(cluster, slot)``, ``(mask, last)`` and ``(page, tokens, end)`` tuples) and the
    STATUS register."""
    no_slot = (1 << config.slot_bits) - 1
    lanes = config.wtu_lanes
    select = np.zeros((len(ns), config.max_clusters), dtype=bool)
    beats = iter(selects)
    for q, n in enumerate(ns):
        for k in range(-(-n // lanes)):
            mask, last = next(beats)
            for lane in range(lanes):
                if k * lanes + lane < n:
                    select[q, k * lanes + lane] = bool((mask >> lane) & 1)
    descriptors, q = [], 0
    for page, tokens, end in descs:
        if end:
            q += 1
        else:
            descriptors.append((q, page, tokens))
    return {
        "cluster": np.array([c for c, _ in slots], dtype=np.int64),
        "slot": np.array([-1 if s == no_slot else s for _, s in slots], dtype=np.int64),
        "select": select,
        "descriptors": np.array(descriptors, dtype=np.int64).reshape(-1, 3),
        "cluster_overflow": np.bool_(status >> 1 & 1),
        "page_overflow": np.bool_(status >> 2 & 1),
        "cycles": np.int64(cycles),
    }
