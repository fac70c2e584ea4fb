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

__all__ = ["HostFault", "FAULT_KINDS", "ErrorRecord", "FaultPlan", "FaultState",
           "random_faults"]

# "last_early": ``last`` on a beat that does not end a row (the ``beats``-th beat sent).
# "timeout": the host stops after ``beats`` beats without ``last`` and waits for the end beat
#     (also ``last`` missing: ``beats`` at or past the query's whole stream).
# "clear": the host stops after ``beats`` beats and writes CLEAR; the query ends, then the
#     DRE forgets every cluster and page.
FAULT_KINDS = ("last_early", "timeout", "clear")


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


@dataclasses.dataclass(frozen=True)
class ErrorRecord:
    """What the ERROR register says (its fields by name; the interface layer packs them):
    the sticky causes since CLEAR and the first cut query's number (0 while none)."""

    LAST_EARLY: bool = False
    SCORE_TIMEOUT: bool = False
    QUERY: int = 0

    @property
    def any(self) -> bool:
        """STATUS.PROTOCOL_ERROR."""
        return self.LAST_EARLY or self.SCORE_TIMEOUT


# The fault kinds with an ERROR bit (a CLEAR forgets its own cut).
_CAUSES = {"last_early": "LAST_EARLY", "timeout": "SCORE_TIMEOUT"}


class FaultPlan:
    """The host's faults and register writes for a run, each given as a mapping from query
    index, or as a function that chooses as the run goes (``faults(query, clusters)``,
    ``writes(query)``; a random plan is made so). Every entry is checked as it is used, and
    :attr:`faults` and :attr:`writes` keep the plan as it was carried out."""

    def __init__(self, faults, writes, config: Config, queries: int):
        self._choose_fault = faults if callable(faults) else None
        self._choose_write = writes if callable(writes) else None
        self._config = config
        self.faults, self.writes = {}, {}
        for what, table in (("faults", faults), ("writes", writes)):
            if table is None or callable(table):
                continue
            for q in table:
                if isinstance(q, bool) or not isinstance(q, int) or not 0 <= q < queries:
                    raise ValueError(f"{what}: key {q!r} is not a query index of the vector "
                                     f"(0..{queries - 1})")
        self._fault_table = {} if self._choose_fault or faults is None else dict(faults)
        self._write_table = {} if self._choose_write or writes is None else dict(writes)

    def __bool__(self) -> bool:
        return bool(self._choose_fault or self._fault_table)

    def fault(self, query: int, clusters: int, row_beats: int) -> HostFault | None:
        """The fault of ``query``, which sees ``clusters`` clusters in rows of ``row_beats``."""
        fault = (self._choose_fault(query, clusters) if self._choose_fault
                 else self._fault_table.get(query))
        if fault is None:
            return None
        if not isinstance(fault, HostFault):
            raise ValueError(f"faults[{query}]: {fault!r} is not a HostFault")
        if not clusters:
            raise ValueError(f"faults[{query}]: the query sees no cluster, so it takes no "
                             f"scores to break")
        if fault.kind == "last_early" and fault.beats % row_beats == 0:
            raise ValueError(f"faults[{query}]: last on beat {fault.beats} ends a row of "
                             f"{row_beats} beats: a shorter query, not a fault")
        self.faults[query] = fault
        return fault

    def write(self, query: int) -> dict:
        """The runtime settings written while ``query`` runs (empty if none)."""
        settings = (self._choose_write(query) if self._choose_write
                    else self._write_table.get(query)) or {}
        for name, value in settings.items():
            if name not in RUNTIME:
                raise ValueError(f"writes[{query}]: {name!r} is not one of "
                                 f"{', '.join(RUNTIME)}")
            try:
                dataclasses.replace(self._config, **{name: value})
            except ValueError as error:
                raise ValueError(f"writes[{query}].{name}: {error}") from None
        if settings:
            self.writes[query] = dict(settings)
        return settings


class FaultState:
    """The DRE's fault record since reset or CLEAR, advanced query by query."""

    def __init__(self):
        self.causes: set = set()
        self.first = 0          # the first cut query's number (queries answered before it)
        self.queries = 0        # queries answered since CLEAR

    def cut(self, fault: HostFault) -> None:
        """The current query's stream is cut by ``fault``."""
        if fault.kind in _CAUSES:
            if not self.causes:
                self.first = self.queries
            self.causes.add(_CAUSES[fault.kind])

    def answered(self) -> None:
        self.queries += 1

    def record(self) -> ErrorRecord:
        """ERROR as the host reads it now."""
        return ErrorRecord(**{c: True for c in self.causes},
                           QUERY=self.first if self.causes else 0)


def random_faults(arrays: dict, config: Config, rng, *, rate: float = 0.5,
                  clear_share: float = 0.15, write_rate: float = 0.2) -> tuple[dict, dict]:
    """A random fault plan for a ``dre`` vector: about ``rate`` of the queries that see a
    cluster get a fault (CLEAR among them with ``clear_share``), and about ``write_rate`` of
    all queries a register write (a random runtime setting). Chosen as the golden model runs
    the vector, so each fault fits the clusters its query sees; returns ``(faults, writes)``
    as mappings for :func:`vrex.golden.dre.run_dre`."""
    from .dre import run_dre

    rows = np.asarray(arrays["query_rows"]).reshape(-1)

    def choose_fault(query: int, clusters: int) -> HostFault | None:
        if not clusters or rng.random() >= rate:
            return None
        row_beats = -(-clusters // config.wtu_lanes)
        total = int(rows[query]) * row_beats
        kind = "clear" if rng.random() < clear_share else FAULT_KINDS[int(rng.integers(2))]
        if kind == "last_early" and row_beats > 1:
            beats = int(rng.integers(1, total + row_beats))
            return HostFault(kind, beats + (beats % row_beats == 0))
        # Every beat ends a row when a row is one beat: last cannot come early.
        kind = "timeout" if kind == "last_early" else kind
        return HostFault(kind, int(rng.integers(0, total + 2)))   # at or past the end: no last

    def choose_write(query: int) -> dict:
        if rng.random() >= write_rate:
            return {}
        name = RUNTIME[int(rng.integers(len(RUNTIME)))]
        return {name: _random_setting(name, config, rng)}

    result = run_dre(arrays["hashes"], arrays["frame_end"], arrays["query_after"], rows,
                     arrays["scores"], config, faults=choose_fault, writes=choose_write)
    return result.faults, result.writes


def _random_setting(name: str, config: Config, rng) -> int:
    if name == "th_hd":
        return int(rng.integers(0, config.hash_bits + 2))
    if name == "ratio":
        return int(rng.integers(0, 1 << 16))
    if name == "buckets":
        return int(rng.integers(1, config.max_buckets + 1))
    return int(rng.integers(0, 3))
