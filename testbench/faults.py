"""The host-fault campaign (``vrex sim faults``): a random ``dre`` stream and a random fault plan
through the generated Verilog (``cocotb_faults``), every outcome checked against the golden
model (docs/dre.md, "Host faults")."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from vrex.golden.config import Config
from vrex.golden.faults import random_faults
from vrex.golden.stimulus import random_vectors
from vrex.interface.registers import TIMEOUT_MAX

from .runner import simulate

__all__ = ["Campaign", "run_campaign"]


@dataclasses.dataclass
class Campaign:
    """What one campaign did: queries, faults by kind, register writes, register reads
    checked, cycles."""

    queries: int
    faults: int
    writes: int
    checked: int
    cycles: int
    kinds: dict

    def __str__(self) -> str:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.kinds.items()))
        return (f"{self.faults} host faults ({kinds}) and {self.writes} register writes in "
                f"{self.queries} queries, {self.cycles} cycles: every outcome as stated, "
                f"{self.checked} ERROR/STATUS reads equal to the golden model's, every "
                f"later query answered exactly")


def run_campaign(config: Config, seed: int, build_root: Path, *, queries: int = 100,
                 tokens: int | None = None, rate: float = 0.5, timeout: int = 5,
                 idle: float = 0.3, stall: float = 0.3, sim: str = "icarus",
                 limit: int = 5_000_000, progress=None) -> Campaign:
    """Run ``queries`` queries over ``tokens`` tokens (default four a query) with about
    ``rate`` of them faulty, the TIMEOUT register at ``timeout``; raises ``RunFailed`` on any
    outcome other than the stated one."""
    if queries < 1:
        raise ValueError(f"queries must be at least 1, not {queries!r}")
    if not 0 <= rate <= 1:
        raise ValueError(f"rate must be in 0..1, not {rate!r}")
    for name, value in (("idle", idle), ("stall", stall)):
        if not 0 <= value < 1:
            raise ValueError(f"{name} must be in 0..1 (exclusive), not {value!r}")
    if not 0 <= timeout <= TIMEOUT_MAX:
        raise ValueError(f"timeout must be in 0..{TIMEOUT_MAX}, not {timeout!r}")
    tokens = 4 * queries if tokens is None else tokens
    vectors = random_vectors("dre", config, seed, tokens=tokens, frames=max(1, queries // 2),
                             queries=queries)
    faults, writes = random_faults(vectors.arrays, config, np.random.default_rng(seed),
                                   rate=rate)
    build_dir = Path(build_root)
    build_dir.mkdir(parents=True, exist_ok=True)
    plan_file = build_dir / f"faults_{seed}.json"
    plan_file.write_text(json.dumps({
        "faults": {q: [f.kind, f.beats] for q, f in faults.items()},
        "writes": writes, "timeout": timeout, "limit": limit}))
    simulate(vectors, build_dir / f"faults_{seed}.npz", sim=sim, idle=idle, stall=stall,
             seed=seed, build_root=build_dir, log=f"faults_{seed}.log", progress=progress,
             testbench="vrex.testbench.cocotb_faults",
             extra_env={"VREX_PLAN": str(plan_file.resolve())})
    summary = json.loads(plan_file.read_text())["summary"]
    kinds = {k: summary[k] for k in ("last_early", "timeout", "clear") if k in summary}
    return Campaign(summary["queries"], summary["faults"], summary["writes"],
                    summary["registers_checked"], summary["cycles"], kinds)
