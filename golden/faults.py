"""Host faults: what a host can do wrong to a query's score stream, and what the DRE answers
(docs/dre.md, "Host faults"; the RTL's score guard, ``rtl/guard.py``).

A query whose score stream is cut is answered with an empty selection: its ``o_select`` beats
are all zero and its ``o_desc`` carries the end beat alone. Nothing stored changes (clusters,
counts, pages), so every later query is answered as if the cut one had never been asked.
Cuts with a cause set that cause's sticky bit in ERROR, and ERROR.QUERY keeps the first cut
query's number since CLEAR; a CLEAR forgets everything, faults included.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .config import RUNTIME, Config

__all__ = ["HostFault", "FAULT_KINDS", "FaultState", "check_faults", "pack_error",
           "random_faults"]

# "last_early": ``last`` on a beat that does not end a row (the ``beats``-th beat sent).
# "timeout": the host stops after ``beats`` beats without ``last`` and waits for the end beat
#     (also ``last`` missing: ``beats`` at or past the query's whole stream).
# "clear": the host stops after ``beats`` beats and writes CLEAR; the query ends, then the
#     DRE forgets every cluster and page.
FAULT_KINDS = ("last_early", "timeout", "clear")

# ERROR's fields (interface/registers.py packs them for the RTL; the golden model packs its
# own so that it does not depend on the interface layer).
_ERROR_BITS = {"last_early": 0, "timeout": 1}
_QUERY_LSB, _QUERY_BITS = 16, 16


@dataclasses.dataclass(frozen=True)
class HostFault:
    """The fault a host commits in one query's score stream: ``kind`` (:data:`FAULT_KINDS`)
    after ``beats`` of its score beats."""

    kind: str
    beats: int

    def __post_init__(self):
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind {self.kind!r}: not one of {', '.join(FAULT_KINDS)}")
        if isinstance(self.beats, bool) or not isinstance(self.beats, int) or self.beats < 0:
            raise ValueError(f"fault beats must be a count, not {self.beats!r}")
        if self.kind == "last_early" and self.beats == 0:
            raise ValueError("fault last_early needs a beat to carry last: beats >= 1")


def check_faults(faults, writes, config: Config) -> tuple[dict, dict]:
    """``faults`` and ``writes`` as dicts (empty for None), refused with the offending entry
    named if a key is not a query index or a write not a runtime setting in its range."""
    faults = dict(faults or {})
    writes = {q: dict(w) for q, w in (writes or {}).items()}
    for what, table in (("faults", faults), ("writes", writes)):
        for q in table:
            if isinstance(q, bool) or not isinstance(q, int) or q < 0:
                raise ValueError(f"{what}: key {q!r} is not a query index")
    for q, fault in faults.items():
        if not isinstance(fault, HostFault):
            raise ValueError(f"faults[{q}]: {fault!r} is not a HostFault")
    for q, settings in writes.items():
        for name, value in settings.items():
            if name not in RUNTIME:
                raise ValueError(f"writes[{q}]: {name!r} is not one of {', '.join(RUNTIME)}")
            try:
                dataclasses.replace(config, **{name: value})
            except ValueError as error:
                raise ValueError(f"writes[{q}].{name}: {error}") from None
    return faults, writes


def pack_error(causes: set, query: int) -> int:
    """The ERROR register for sticky ``causes`` and the first cut query's number."""
    word = sum(1 << _ERROR_BITS[c] for c in causes)
    return word | (query % (1 << _QUERY_BITS)) << _QUERY_LSB if causes else word


class FaultState:
    """The DRE's fault record since reset or CLEAR, advanced query by query."""

    def __init__(self):
        self.causes: set = set()
        self.first = 0          # the first cut query's number (queries answered before it)
        self.queries = 0        # queries answered since CLEAR

    def cut(self, fault: HostFault) -> None:
        """The current query's stream is cut by ``fault``."""
        if fault.kind in _ERROR_BITS:
            if not self.causes:
                self.first = self.queries
            self.causes.add(fault.kind)

    def answered(self) -> None:
        self.queries += 1

    def register(self) -> int:
        """ERROR as the host reads it now."""
        return pack_error(self.causes, self.first)


def random_faults(arrays: dict, config: Config, rng, *, rate: float = 0.5,
                  clear_share: float = 0.15, write_rate: float = 0.2) -> tuple[dict, dict]:
    """A random fault plan for a ``dre`` vector: about ``rate`` of the queries that see a
    cluster get a fault (CLEAR among them with ``clear_share``), and about ``write_rate`` of
    all queries a register write (a random runtime setting). Walks the vector's clustering
    to know how many clusters (so beats a row) each query sees."""
    from .hcu import HcuModel
    from .walk import Frame, dre_walk

    faults, writes = {}, {}
    hcu = HcuModel(config)
    rows = np.asarray(arrays["query_rows"]).reshape(-1)
    for step in dre_walk(arrays["frame_end"], arrays["query_after"], rows):
        if isinstance(step, Frame):
            hcu.push(arrays["hashes"][step.start:step.end])
            continue
        q, n = step.index, hcu.n
        if n and rng.random() < rate:
            row_beats = -(-n // config.wtu_lanes)
            total = int(rows[q]) * row_beats
            kind = "clear" if rng.random() < clear_share else \
                FAULT_KINDS[int(rng.integers(2))]
            if kind == "last_early":
                if row_beats == 1:
                    kind = "timeout"            # every beat ends a row: last cannot be early
                else:
                    beats = int(rng.integers(1, total + row_beats))
                    beats += beats % row_beats == 0
            if kind != "last_early":
                beats = int(rng.integers(0, total + 2))     # at the end or past it: no last
            faults[q] = HostFault(kind, beats)
            if kind == "clear":
                hcu = HcuModel(hcu.config)
        if rng.random() < write_rate:
            name = RUNTIME[int(rng.integers(len(RUNTIME)))]
            writes[q] = {name: _random_setting(name, config, rng)}
            hcu.config = dataclasses.replace(hcu.config, **writes[q])
    return faults, writes


def _random_setting(name: str, config: Config, rng) -> int:
    if name == "th_hd":
        return int(rng.integers(0, config.hash_bits + 2))
    if name == "ratio":
        return int(rng.integers(0, 1 << 16))
    if name == "buckets":
        return int(rng.integers(1, config.max_buckets + 1))
    return int(rng.integers(0, 3))
