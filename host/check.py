"""The bring-up check: DRE vectors through the board (or the simulated board) against the
golden model, every output but the cycle count compared."""

from __future__ import annotations

import dataclasses
import time

from vrex.golden.config import RUNTIME, VECTOR_SCALARS
from vrex.golden.stimulus import random_vectors
from vrex.golden.vectors import Vectors, compare_outputs, run_golden
from vrex.interface.expect import Taken, expected_beats, fields, first_difference

from .driver import DreDriver

__all__ = ["CheckResult", "bringup_check", "check_vectors_on"]

# What a vector file must share with the board; its run-time settings are written to it.
GENERATOR = tuple(k for k in VECTOR_SCALARS if k not in RUNTIME)


@dataclasses.dataclass
class CheckResult:
    name: str
    tokens: int
    queries: int
    mismatches: list        # SPEC 6 keys that differ from the golden model
    seconds: float
    first_beat: str | None = None           # the first output beat that differs, if any
    vectors: Vectors | None = dataclasses.field(default=None, repr=False)

    @property
    def passed(self) -> bool:
        return not self.mismatches

    def line(self) -> str:
        verdict = "PASS" if self.passed else f"FAIL ({', '.join(self.mismatches)} differ" + \
            (f"; first: {self.first_beat})" if self.first_beat else ")")
        return (f"{self.name}: {self.tokens} tokens, {self.queries} queries: {verdict} "
                f"({self.seconds:.1f} s)")


def check_vectors_on(driver: DreDriver, vectors: Vectors, name: str) -> CheckResult:
    """One ``dre`` vector through ``driver``; the board's outputs against the golden model's.
    ``cycles`` is left out: the board's count includes the link's time."""
    if vectors.unit != "dre":
        raise ValueError(f"{name}: a bring-up check needs a dre vector file, not "
                         f"{vectors.unit!r}")
    mine, theirs = driver.config, vectors.config
    for field in GENERATOR:
        if getattr(theirs, field) != getattr(mine, field):
            raise ValueError(f"{name}: {field} = {getattr(theirs, field)} in the vector file, "
                             f"{getattr(mine, field)} on the board")
    if theirs.buckets > mine.max_buckets:
        raise ValueError(f"{name}: buckets = {theirs.buckets} in the vector file, the board "
                         f"supports at most {mine.max_buckets}")
    start = time.monotonic()
    got = driver.run(vectors.arrays, settings=theirs)
    want = run_golden(vectors)
    got.update(unit=want["unit"], cycles=want["cycles"])
    differs = compare_outputs(want, got)
    first = None
    if differs:
        taken = {name: [Taken(fields(driver.layouts[name], b)) for b in beats]
                 for name, beats in driver.last_beats.items()}
        found = first_difference(expected_beats(vectors, want), taken)
        first = "; ".join(d.describe() for d in found) or None
    return CheckResult(name, int(vectors.arrays["hashes"].size),
                       int(vectors.arrays["query_after"].size), differs,
                       time.monotonic() - start, first, vectors)


def bringup_check(driver: DreDriver, *, seeds=(1, 2), tokens: int = 40, frames: int = 3,
                  queries: int = 3, extra=(), progress=None) -> list[CheckResult]:
    """The board answers, is built for the driver's configuration, and runs random vectors
    (and any ``extra`` ``(name, Vectors)``) exactly as the golden model does."""
    driver.check_board()
    runs = [(f"random seed {s}", random_vectors("dre", driver.config, s, tokens=tokens,
                                                frames=frames, queries=queries))
            for s in seeds] + list(extra)
    results = []
    for name, vectors in runs:
        result = check_vectors_on(driver, vectors, name)
        if progress:
            progress(result.line())
        results.append(result)
    return results
