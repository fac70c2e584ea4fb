"""``vrex synth``: what the DRE and each of its units cost in logic, as generic gates.

Each unit is synthesized as the DRE instantiates it (the HCU with its counts in words of the
WTU's lanes), then the whole DRE; memories are reported apart, in bits. FPGA resources and
Fmax join this report with their flows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from vrex.golden.config import Config

from .cells import CellReport, generic_cells

__all__ = ["UNITS", "TARGETS_KGE", "unit_component", "synth_report"]

UNITS = ("hcu", "wtu", "controller", "registers", "dre")

# Logic budgets of the default configuration (issue 6), in kGE, memories excluded.
TARGETS_KGE = {"hcu": 1.0, "wtu": 25.0, "controller": 5.0, "dre": 30.0}


def unit_component(unit: str, config: Config):
    """The Amaranth component of ``unit`` as the DRE builds it."""
    if unit == "hcu":
        from vrex.rtl.hcu import HCU
        return HCU.from_config(config, count_lanes=config.wtu_lanes)
    if unit == "wtu":
        from vrex.rtl.wtu import WTU
        return WTU.from_config(config)
    if unit == "controller":
        from vrex.rtl.controller import Controller
        return Controller.from_config(config)
    if unit == "registers":
        from vrex.rtl.registers import RegisterFile, dre_registers
        return RegisterFile(dre_registers(config))
    if unit == "dre":
        from vrex.rtl.dre import DRE
        return DRE(config)
    raise ValueError(f"unit must be one of {', '.join(UNITS)}, not {unit!r}")


def synth_report(config: Config, *, units=UNITS, build_root: Path = Path("build/synth"),
                 progress: Callable[[str], None] | None = None,
                 targets: dict | None = None, fpga=()) -> dict:
    """Synthesize ``units`` of ``config`` (cached) and return their figures; prints a table.
    ``fpga`` names families (``ice40``, ``ecp5``) whose resources to add."""
    reports: dict[str, CellReport] = {}
    for unit in units:
        reports[unit] = generic_cells(unit_component(unit, config), unit,
                                      build_root=build_root, progress=progress)
    print(f"{'unit':12s} {'cells':>8s} {'flops':>6s} {'kGE':>8s} {'transistors':>12s} "
          f"{'memory bits':>12s}  target")
    figures = {}
    for unit, report in reports.items():
        target = (targets or {}).get(unit)
        verdict = ""
        if target is not None:
            verdict = (f"<= {target:g} kGE: " + ("met" if report.kge <= target else
                       f"MISSED by {report.kge - target:.1f} kGE"))
        print(f"{unit:12s} {report.cells:>8d} {report.flops:>6d} {report.kge:>8.2f} "
              f"{report.transistors:>12d} {report.memory_bits:>12d}  {verdict}")
        figures[unit] = {**report.summary(), "target_kge": target}
    for family in fpga:
        from .fpga import DEVICES, fpga_resources
        device, capacity = DEVICES[family]
        print(f"\n{family} resources (Yosys {family} flow; {device}: "
              + ", ".join(f"{k} {v}" for k, v in capacity.items()) + ")")
        for unit in units:
            report = fpga_resources(unit_component(unit, config), unit, family,
                                    build_root=build_root, progress=progress)
            over = report.overflows()
            fits = ("fits" if not over else "does NOT fit: "
                    + ", ".join(f"{k} over by {v}" for k, v in over.items()))
            print(f"{unit:12s} " + " ".join(f"{k} {v}" for k, v in report.resources.items())
                  + (f"  ({fits})" if unit == "dre" else ""))
            figures[unit][family] = {**report.resources, "overflows": over}
    return figures
