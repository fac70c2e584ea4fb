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

__all__ = ["UNITS", "targets_for", "unit_component", "synth_report", "verdict_of", "WHY"]

UNITS = tuple(REGISTRY)

# Targets: each unit of the default preset against the paper's area at 14 nm (the paper's
# figures are for its configuration; synth/area.py converts), and each preset's Fmax on the
# device it is sized for.
_TARGETS = {
    "default": {"area": True, "fmax_mhz": {"ecp5": 100.0}},
    "small": {"area": False, "fmax_mhz": {"ice40": 30.0}},
}

# Why a target is missed, one line each, and where the docs say more.
WHY = {
    "area": {"wtu": "the 16 lane multipliers, adder trees and their pipeline flip-flops "
                    "(docs/synth.md#where-the-area-goes)",
             "dre": "the WTU's share (docs/synth.md#where-the-area-goes)",
             "controller": "its chain and page tables in SRAM (docs/synth.md#where-the-area-goes)",
             "hcu": "its 1024 x 32-bit table in SRAM (docs/synth.md#where-the-area-goes)"},
    "fmax_mhz": {"dre": "block-RAM-to-logic paths and routing "
                        "(docs/synth.md#what-the-clock-cost-and-what-limits-it-now)"},
}


def targets_for(config: Config) -> dict:
    """The targets that apply to ``config``: those of the preset it equals, else none."""
    for preset, targets in _TARGETS.items():
        if config == load_config(preset):
            return {"preset": preset, **targets}
    return {"preset": None, "area": False, "fmax_mhz": {}}


def unit_component(unit: str, config: Config):
    """The Amaranth component of ``unit`` as the DRE builds it."""
    return registry_unit(unit).build(config, as_in_dre=True)


def verdict_of(value: float | None, target: float | None, unit: str, *, at_most: bool,
            why: str | None = None) -> str:
    """One line: the target, met, or missed by how much (as a ratio when ``unit`` is "x" of
    a reference) and why."""
    if target is None or value is None:
        return ""
    met = value <= target if at_most else value >= target
    word = "<=" if at_most else ">="
    if met:
        return f"{word} {target:g} {unit}: met"
    by = f"{value / target:.2f}x the target" if unit == "mm2" else \
        f"by {abs(value - target):.1f} {unit}"
    return f"{word} {target:g} {unit}: MISSED, {by}" + (f": {why}" if why else "")


def synth_report(config: Config, *, units=None, families=tuple(FAMILIES),
                 build_root: Path = Path("build/synth"), jobs: int = 2, before: bool = True,
                 progress: Callable[[str], None] | None = None) -> dict:
    """Synthesize ``units`` of ``config`` to generic gates and, for each of ``families``,
    place and route them; print the tables and return the figures (JSON-ready). ``before``:
    also the WTU without mode exp, to show what the mode costs. ``units`` defaults to every
    unit the DRE of ``config`` has."""
    if units is None:
        units = [u for u in UNITS if REGISTRY[u].present(config)]
    for unit in units:                   # before anything is elaborated
        registry_unit(unit).check_present(config)
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
          f"{'memory bits':>12s}")
    for unit in units:
        report = CellReport(**results[unit, "generic"])
        print(f"{unit:12s} {report.cells:>8d} {report.flops:>6d} {report.kge:>8.2f} "
              f"{report.transistors:>12d} {report.memory_bits:>12d}")
        figures[unit] = report.summary()
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
            verdict = verdict_of(report.fmax_mhz, target, "MHz", at_most=False,
                                 why=WHY["fmax_mhz"].get(unit)) if unit == "dre" else ""
            print(f"{unit:12s} " + " ".join(f"{k} {v}" for k, v in report.resources.items())
                  + f"  {fmax}" + (f"  ({verdict})" if verdict else ""))
            figures[unit][family] = {**report.summary(),
                                     "target_fmax_mhz": target if unit == "dre" else None}
    area = paper_comparison(figures, with_paper=targets["area"])
    for unit, row in area["units"].items():
        line = verdict_of(row["total_mm2"], row["paper_mm2"], "mm2", at_most=True,
                          why=WHY["area"].get(unit))
        row["verdict"] = line or None
        if line:
            print(f"{unit:12s} area at 14 nm, at most the paper's {line}")
    return {"preset": targets["preset"], "units": figures, "area_14nm": area}
