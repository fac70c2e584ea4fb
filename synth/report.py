"""``vrex synth``: what the DRE and each of its units cost, as generic gates (kGE, transistors,
memory bits), as FPGA resources and as Fmax after place and route.

Each unit is synthesized as the DRE instantiates it (the HCU with its counts in words of the
WTU's lanes), then the whole DRE. Every tool run is cached (:class:`vrex.synth.yosys.ToolRun`);
the runs that are not cached go on ``jobs`` at a time.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from vrex.golden.config import Config, load_config
from vrex.interface.units import UNITS as REGISTRY
from vrex.interface.units import unit as registry_unit

from .area import paper_comparison
from .cells import CellReport, generic_run
from .fpga import FAMILIES, FpgaReport, fpga_run

__all__ = ["UNITS", "targets_for", "unit_component", "synth_report"]

UNITS = tuple(REGISTRY)

# Issue 6's budgets: logic of the default DRE in kGE (memories excluded), and Fmax of each
# preset on the device it is sized for.
_TARGETS = {
    "default": {"kge": {"hcu": 1.0, "wtu": 25.0, "controller": 5.0, "dre": 30.0},
                "fmax_mhz": {"ecp5": 100.0}},
    "small": {"kge": {}, "fmax_mhz": {"ice40": 24.0}},
}


def targets_for(config: Config) -> dict:
    """The budgets that apply to ``config``: those of the preset it equals, else none."""
    for preset, targets in _TARGETS.items():
        if config == load_config(preset):
            return {"preset": preset, **targets}
    return {"preset": None, "kge": {}, "fmax_mhz": {}}


def unit_component(unit: str, config: Config):
    """The Amaranth component of ``unit`` as the DRE builds it."""
    return registry_unit(unit).build(config, as_in_dre=True)


def _verdict(value: float | None, target: float | None, unit: str, *, at_most: bool) -> str:
    if target is None or value is None:
        return ""
    met = value <= target if at_most else value >= target
    word = "<=" if at_most else ">="
    return (f"{word} {target:g} {unit}: " + ("met" if met else
            f"MISSED by {abs(value - target):.1f} {unit}"))


def synth_report(config: Config, *, units=UNITS, families=tuple(FAMILIES),
                 build_root: Path = Path("build/synth"), jobs: int = 2, before: bool = True,
                 progress: Callable[[str], None] | None = None) -> dict:
    """Synthesize ``units`` of ``config`` to generic gates and, for each of ``families``,
    place and route them; print the tables and return the figures (JSON-ready). ``before``:
    also the WTU without mode exp, to show what the mode costs."""
    for family in families:
        if family not in FAMILIES:
            raise ValueError(f"family must be one of {', '.join(FAMILIES)}, not {family!r}")
    targets = targets_for(config)
    # Elaborate here, in one thread; the tools then run in parallel. The whole DRE first:
    # its runs are the longest.
    runs = {}
    for unit in sorted(units, key=lambda u: u != "dre"):
        runs[unit, "generic"] = generic_run(unit_component(unit, config), unit)
        for family in families:
            runs[unit, family] = fpga_run(unit_component(unit, config), unit, family)
    before = before and "wtu" in units
    if before:                           # the WTU as it was before mode exp, beside it
        from vrex.rtl.wtu import WTU
        runs["wtu-no-exp", "generic"] = generic_run(WTU.from_config(config, exp=False),
                                                    "wtu-no-exp")
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {key: pool.submit(run.run, build_root, progress=progress)
                   for key, run in runs.items()}
        results = {key: future.result() for key, future in futures.items()}

    figures = {}
    print(f"{'unit':12s} {'cells':>8s} {'flops':>6s} {'kGE':>8s} {'transistors':>12s} "
          f"{'memory bits':>12s}  target")
    for unit in units:
        report = CellReport(**results[unit, "generic"])
        target = targets["kge"].get(unit)
        print(f"{unit:12s} {report.cells:>8d} {report.flops:>6d} {report.kge:>8.2f} "
              f"{report.transistors:>12d} {report.memory_bits:>12d}  "
              f"{_verdict(report.kge, target, 'kGE', at_most=True)}")
        figures[unit] = {**report.summary(), "target_kge": target}
    if before:
        without = CellReport(**results["wtu-no-exp", "generic"])
        grown = figures["wtu"]["kge"] / without.kge - 1
        print(f"(wtu without mode exp: {without.kge:.2f} kGE; mode exp costs "
              f"{100 * grown:+.1f}%)")
        figures["wtu"]["kge_without_exp"] = round(without.kge, 2)
    for family in families:
        fam = FAMILIES[family]
        target = targets["fmax_mhz"].get(family)
        print(f"\n{family}: {fam.device} ("
              + ", ".join(f"{k} {v}" for k, v in fam.capacity.items())
              + f"), placed and routed at {fam.target_mhz:g} MHz")
        for unit in units:
            report = FpgaReport(**results[unit, family])
            fmax = (f"Fmax {report.fmax_mhz:6.1f} MHz" + (f" [{report.note}]" if report.note
                                                          else "")
                    if report.fmax_mhz is not None else "no Fmax: " + report.note)
            verdict = _verdict(report.fmax_mhz, target, "MHz", at_most=False) \
                if unit == "dre" else ""
            print(f"{unit:12s} " + " ".join(f"{k} {v}" for k, v in report.resources.items())
                  + f"  {fmax}" + (f"  ({verdict})" if verdict else ""))
            figures[unit][family] = {**report.summary(),
                                     "target_fmax_mhz": target if unit == "dre" else None}
    return {"preset": targets["preset"], "units": figures,
            "area_14nm": paper_comparison(figures, with_paper=targets["preset"] == "default")}
