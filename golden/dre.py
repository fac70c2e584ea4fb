"""DRE golden model: frames through the HCU and controller, queries through the WTU (SPEC 6).

Frames are clustered and laid out in order; after frame ``f`` every query whose
``query_after`` is ``f`` scores the clusters that exist at that moment, with their counts at that
moment, and its OR-ed selection becomes fetch descriptors.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .config import Config
from .controller import PagedLayout, descriptor_cycles
from .faults import FaultPlan, FaultState
from .hcu import HCU_TOKEN_OVERHEAD, HcuModel
from .walk import Frame, dre_walk
from .wtu import run_wtu

__all__ = ["DreResult", "QueryBatch", "run_dre", "SLOT_LATENCY", "QUERY_AFTER_TOKEN",
           "QUERY_AFTER_MARKER", "SELECT_LATENCY"]

# The DRE's sequencing (rtl/dre.py), in cycles. A token's slot leaves this long after its id
# (the controller reads the cluster's chain entry, registers it, then decides). A query starts
# QUERY_AFTER_TOKEN after the EMIT cycle of the token before it: two cycles for that token's
# count, and its slot, to be written, one to see the DRE idle, one to take the query's
# settings. Without a token since the previous query (or at the start) it starts
# QUERY_AFTER_MARKER after the cycle its marker first shows.
SLOT_LATENCY = 2
QUERY_AFTER_TOKEN = 4
QUERY_AFTER_MARKER = 2
# The final mask passes a forward register between the WTU and the controller.
SELECT_LATENCY = 1


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
    # Per query (None where no cluster existed yet, or its scores were cut): a QueryBatch,
    # for reports.
    queries: list = dataclasses.field(default_factory=list)
    # Per query: the clusters it saw, and the ERROR register after its end beat (ErrorRecord).
    clusters: list = dataclasses.field(default_factory=list)
    errors: list = dataclasses.field(default_factory=list)
    # The host's faults and register writes as carried out, by query.
    faults: dict = dataclasses.field(default_factory=dict)
    writes: dict = dataclasses.field(default_factory=dict)

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


def run_dre(hashes, frame_end, query_after, query_rows, scores, config: Config, *,
            faults=None, writes=None) -> DreResult:
    """Run a whole stream of frames and queries from reset.

    ``faults`` maps a query's index to the :class:`vrex.golden.faults.HostFault` its host
    commits (docs/dre.md, "Host faults"); ``writes`` maps a query's index to runtime settings
    (``th_hd``, ``ratio``, ``buckets``, ``mode``) written while it runs, in force for the
    tokens and queries after it. Either may instead be a function that chooses as the run goes
    (:class:`vrex.golden.faults.FaultPlan`). With faults the cycles are not modelled (-1).
    """
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
    plan = FaultPlan(faults, writes, config, query_after.size)
    state = FaultState()
    clusters, errors = [], []
    # The timeline, in cycles from the first beat offered: when the next token is taken, the
    # EMIT cycle of the latest token, whether the beat before is a token, the last output.
    accept, emit, after_token, last_out, marker_seen = 0, 0, False, -1, 0
    for step in dre_walk(frame_end, query_after, query_rows):
        if isinstance(step, Frame):
            start, end = step.start, step.end
            before = hcu.compare_cycles
            ids = hcu.push(hashes[start:end])
            if end > start:
                # Back to back, each token is taken in the EMIT cycle of the one before.
                emit = (accept + (hcu.compare_cycles - before)
                        + (end - start) * HCU_TOKEN_OVERHEAD)
                accept, after_token = emit, True
                last_out = emit + SLOT_LATENCY           # the slot leaves after the id
            cluster[start:end] = ids
            slot[start:end] = layout.place(ids)
        else:
            query = step.index
            rows = scores[step.rows, :hcu.n]
            batch = None
            begin = (emit + QUERY_AFTER_TOKEN if after_token
                     else marker_seen + QUERY_AFTER_MARKER)
            clusters.append(hcu.n)
            fault = plan.fault(query, hcu.n, -(-hcu.n // config.wtu_lanes))
            if fault is not None:
                state.cut(fault)
                first_select = begin                # not modelled
            elif hcu.n:
                counts = hcu.counts.copy()
                result = run_wtu(rows, counts, config)
                select[query, :hcu.n] = result.select
                for page, tokens in layout.descriptors(result.select).tolist():
                    descriptors.append((query, page, tokens))
                batch = QueryBatch(scores=rows, counts=counts, result=result)
                # Counts are read a cycle before the WTU's first count beat; the controller
                # takes the final mask's beats SELECT_LATENCY after the WTU sends them, in the
                # last P of its cycles.
                beats = -(-hcu.n // config.wtu_lanes)
                first_select = begin + 1 + result.cycles - beats + SELECT_LATENCY
            else:
                first_select = begin                 # one empty selection beat
            end_beat = first_select + descriptor_cycles(select[query, :hcu.n], layout,
                                                        config.wtu_lanes) - 1
            queries.append(batch)
            errors.append(state.record())
            state.answered()
            if fault is not None and fault.kind == "clear":
                hcu, layout = HcuModel(config), PagedLayout(config)
                state = FaultState()
            written = plan.write(query)
            if written:
                config = dataclasses.replace(config, **written)
                hcu.config = config
            # The beat behind the marker waits for the end beat and is taken the cycle after.
            accept = marker_seen = end_beat + 1
            after_token, last_out = False, end_beat
    cycles = last_out + 1
    return DreResult(
        cluster=cluster,
        slot=slot,
        select=select,
        descriptors=np.array(descriptors, dtype=np.int64).reshape(-1, 3),
        cluster_overflow=hcu.overflow,
        page_overflow=layout.overflow,
        cycles=-1 if plan.faults else cycles,
        queries=queries,
        clusters=clusters,
        errors=errors,
        faults=plan.faults,
        writes=plan.writes,
    )
