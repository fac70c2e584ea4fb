"""Generic cell counts: Yosys's technology-independent gates after ABC, memories apart.

The count is what ``synth -flatten`` reaches before any vendor mapping: ``$_AND_``, ``$_XOR_``,
``$_MUX_``, flip-flops and so on, one cell each. Flip-flops are plain ``$_DFF_P_``: after ABC
their enables and synchronous resets become gates (``dfflegalize``; before ABC they would merge
every enable domain into one ABC run, 6 minutes instead of 1 for the histogram WTU), as in a
standard-cell library without such flops, so every logic cell is costed. Memories stay
``$mem_v2`` cells (``memory -nomap``) and are reported as bits: they would be SRAM macros or
block RAM, not logic.

Gate equivalents (kGE): each generic cell counts as the area of the standard cell that
implements it, over the area of a two-input NAND (:data:`GATE_AREA`); Yosys's CMOS transistor
estimate (``stat -tech cmos``) is reported beside it.

Multipliers are built as radix-4 Booth multipliers with a carry-save adder tree (``synth -booth``),
as an ASIC synthesis tool builds them (DesignWare's and Genus's datapath generators): Yosys's
default is an array of ripple adders, larger, and a shape no standard-cell flow would produce.

ABC runs the mapping steps of its default script (``&dch -f; &nf``) without the SAT sweeping
before them (``&fraig -x``, ``scorr``, ``dc2``, ``dretime``): with it, the default WTU's sixteen
multipliers kept the WebAssembly Yosys busy for over 9 minutes, without it 28 s; on the small
WTU the count is 1.8% above the full script's (9975 against 9796 cells).

Results are cached under ``build/synth`` by a hash of the design, the scripts and the tool
version, so a repeated report is instant.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable

from amaranth.lib import wiring

from .yosys import SynthError, ToolRun, design_text

__all__ = ["CellReport", "GATE_AREA", "gate_equivalents", "generic_cells", "generic_run",
           "parse_stat", "ABC_SCRIPT", "GENERIC_SCRIPT"]

# Area of each generic cell in two-input NAND equivalents: the X1 cells of the NanGate FreePDK45
# Open Cell Library (um^2: NAND2/NOR2/BUF 0.798, INV 0.532, AND2/OR2/AOI21/OAI21 1.064,
# AOI22/OAI22 1.330, XOR2/XNOR2 1.596, MUX2 1.862, DFF 4.522), divided by NAND2_X1's 0.798.
# The library has no AND-with-inverted-input cell: ANDNOT is INV + NOR2, ORNOT INV + NAND2,
# NMUX MUX2 + INV. Flip-flops are plain D flip-flops here (enables and resets are gates).
GATE_AREA = {
    "$_BUF_": 1.0, "$_NOT_": 0.667,
    "$_NAND_": 1.0, "$_NOR_": 1.0, "$_AND_": 1.333, "$_OR_": 1.333,
    "$_ANDNOT_": 1.667, "$_ORNOT_": 1.667,
    "$_XOR_": 2.0, "$_XNOR_": 2.0,
    "$_MUX_": 2.333, "$_NMUX_": 3.0,
    "$_AOI3_": 1.333, "$_OAI3_": 1.333, "$_AOI4_": 1.667, "$_OAI4_": 1.667,
    "$_DFF_P_": 5.667,
}


def gate_equivalents(by_type: dict) -> float:
    """NAND2 equivalents of a generic netlist's logic cells (memories excluded); a cell type
    outside :data:`GATE_AREA` is refused, not counted as nothing."""
    total = 0.0
    for cell, count in by_type.items():
        if cell.startswith("$mem"):
            continue
        if cell not in GATE_AREA:
            raise SynthError(f"cell type {cell!r} has no entry in the gate-area table")
        total += GATE_AREA[cell] * count
    return total


ABC_SCRIPT = "strash; &get -n; &dch -f; &nf; &put\n"

GENERIC_SCRIPT = """\
read_rtlil design.il
hierarchy -top top
tee -q -o memories.json stat -json
synth -flatten -booth -top top -run begin:fine
opt -fast -full
techmap
opt -fast
abc -script fast.abc
opt -fast
dfflegalize -cell $_DFF_P_ 01
opt_clean
tee -q -o stat.json stat -json -tech cmos
"""


@dataclasses.dataclass(frozen=True)
class CellReport:
    design: str
    cells: int              # logic cells, flip-flops included, memories not
    flops: int              # flip-flop bits
    by_type: dict           # cell type -> count, memories included
    memory_bits: int
    transistors: int        # Yosys's CMOS estimate of the logic cells
    seconds: float          # Yosys wall time when it ran (the cached run's, if cached)

    @property
    def kge(self) -> float:
        """Thousands of two-input NAND gate equivalents, by :data:`GATE_AREA`."""
        return gate_equivalents(self.by_type) / 1000

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def summary(self) -> dict:
        """The figures of a report, without the per-type breakdown."""
        return {"cells": self.cells, "flops": self.flops, "kge": round(self.kge, 2),
                "transistors": self.transistors, "memory_bits": self.memory_bits}


def parse_stat(stat: dict, memories: dict, design: str, seconds: float) -> CellReport:
    """A :class:`CellReport` from Yosys's ``stat -json -tech cmos`` of the mapped design and
    ``stat -json`` of the design as read (where memories still count their bits)."""
    try:
        totals = stat["design"]
        by_type = {str(k): int(v) for k, v in totals["num_cells_by_type"].items()
                   if str(k) != "$scopeinfo"}        # hierarchy notes, not cells
        transistors = int(str(totals["estimated_num_transistors"]).rstrip("+"))
        memory_bits = int(memories["design"]["num_memory_bits"])
    except (KeyError, TypeError, ValueError) as error:
        raise SynthError(f"unexpected Yosys stat report for {design}: {error!r}") from None
    memory_cells = sum(n for t, n in by_type.items() if t.startswith("$mem"))
    flops = sum(n for t, n in by_type.items() if "DFF" in t or "DLATCH" in t)
    return CellReport(design=design, cells=sum(by_type.values()) - memory_cells, flops=flops,
                      by_type=by_type, memory_bits=memory_bits, transistors=transistors,
                      seconds=seconds)


def generic_run(component, design: str) -> ToolRun:
    """The cached Yosys job that reports ``component``'s generic cells."""
    def parse(work, seconds):
        return parse_stat(json.loads((work / "stat.json").read_text()),
                          json.loads((work / "memories.json").read_text()), design,
                          seconds).as_dict()
    return ToolRun(design, design_text(component), GENERIC_SCRIPT, parse,
                   files={"fast.abc": ABC_SCRIPT})


def generic_cells(component: wiring.Component, design: str, *,
                  build_root: Path = Path("build/synth"),
                  progress: Callable[[str], None] | None = None,
                  timeout: float | None = 3600) -> CellReport:
    """Synthesize ``component`` to generic cells (cached) and report its size."""
    report = CellReport(**generic_run(component, design).run(build_root, progress=progress,
                                                             timeout=timeout))
    if progress:
        progress(f"synth {design}: {report.cells} cells, {report.kge:.2f} kGE")
    return report
