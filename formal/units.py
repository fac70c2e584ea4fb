"""The proofs `vrex formal` runs: per unit, its harness, the mode and the depth."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .controller import controller_harness
from .hcu import hcu_miter
from .sby import ProofResult, run_sby

__all__ = ["PROOFS", "run_proofs"]


@dataclasses.dataclass(frozen=True)
class Proof:
    unit: str
    harness: object             # () -> (module, ports)
    mode: str
    depth: int
    properties: tuple           # what it checks, for the docs and the report


PROOFS = [
    Proof("controller", controller_harness, "bmc", 10, (
        "o_slot and o_desc: a valid beat stays, payload unchanged, until taken",
        "no slot handed out twice between clears",
        "every slot inside the page pool (or no_slot); PAGES <= max_pages; descriptor "
        "pages < max_pages",
        )),
    Proof("controller", controller_harness, "cover", 12, (
        "cover: the page pool exhausted (PAGE_OVERFLOW set)",)),
    Proof("hcu", hcu_miter, "bmc", 30, (
        "early exit is exact: with and without it, every token gets the same cluster and "
        "founding flag (3 tokens of free hashes, free threshold, a 2-cluster table so the "
        "full-table rule is reached too)",
        "every token leaves both units within 24 cycles, so depth 30 compares them all")),
]


def run_proofs(units=None, *, build: Path = Path("build/formal"), depth: int | None = None,
               progress=None) -> list[ProofResult]:
    known = {p.unit for p in PROOFS}
    for unit in units or ():
        if unit not in known:
            raise ValueError(f"unit must be one of {', '.join(sorted(known))}, not {unit!r}")
    results = []
    for proof in PROOFS:
        if units and proof.unit not in units:
            continue
        module, ports = proof.harness()
        result = run_sby(module, ports, proof.unit, mode=proof.mode,
                         depth=depth or proof.depth,
                         workdir=Path(build) / f"{proof.unit}-{proof.mode}")
        if progress:
            progress(result.line())
        results.append(result)
    return results
