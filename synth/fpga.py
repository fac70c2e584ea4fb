"""FPGA cost: resources from Yosys's iCE40 and ECP5 flows and Fmax from nextpnr.

Yosys synthesizes the design alone, for its resources, and wrapped in a
:class:`~vrex.synth.harness.ScanHarness` (four pins, registered boundaries), which nextpnr
places and routes on the family's device, constrained to the family's target clock. A design
that does not fit the device is not placed; the report names the resources that overflow and
by how much.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable

from .collisions import with_free_collisions
from .harness import HARNESS_DUT, ScanHarness
from .yosys import SynthError, ToolRun, ToolTimeout, design_text, run_tool

__all__ = ["FAMILIES", "Family", "FpgaReport", "fpga_run", "fpga_report", "count_resources",
           "clock_fmax"]


@dataclasses.dataclass(frozen=True)
class Family:
    device: str
    synth: str                  # Yosys's flow for the family, top module as {top}
    pnr_tool: str
    pnr_args: tuple             # device and package for nextpnr
    target_mhz: float           # clock nextpnr is constrained to (issue 6)
    capacity: dict              # resource class -> count on the device
    classes: dict               # resource class -> primitive name prefixes

    def count(self, by_type: dict) -> dict:
        return {name: sum(n for t, n in by_type.items() if t.startswith(prefixes))
                for name, prefixes in self.classes.items()}

    def overflows(self, resources: dict) -> dict:
        """Resource classes over the device's capacity, with how many too many."""
        return {k: resources.get(k, 0) - cap for k, cap in self.capacity.items()
                if resources.get(k, 0) > cap}


FAMILIES = {
    # The iCEBreaker's part: iCE40 UP5K in the SG48 package.
    "ice40": Family(
        device="iCE40 UP5K", synth="synth_ice40 -top {top} -dsp", pnr_tool="nextpnr-ice40",
        pnr_args=("--up5k", "--package", "sg48"), target_mhz=24.0,
        capacity={"lut4": 5280, "ff": 5280, "ebr": 30, "spram": 4, "dsp": 8},
        classes={"lut4": ("SB_LUT4",), "carry": ("SB_CARRY",), "ff": ("SB_DFF",),
                 "ebr": ("SB_RAM40_4K",), "spram": ("SB_SPRAM256KA",),
                 "dsp": ("SB_MAC16",)}),
    # The ULX3S-85F's part: LFE5U-85F, CABGA381, speed grade 6. LUTs are mapped by the classic
    # ABC instead of the flow's abc9: Yosys 0.70's abc9 fails assertions on some of the units
    # (``count_id(wire->name) == 0`` on the small HCU, ``GetSize(conn.first) ==
    # GetSize(conn.second)`` on the pipelined WTU) when it reintegrates the mapped netlist.
    "ecp5": Family(
        device="ECP5-85F",
        synth=("synth_ecp5 -top {top} -run :map_luts\nabc -dress -lut 4:7\nclean\n"
               "synth_ecp5 -top {top} -run map_cells:"),
        pnr_tool="nextpnr-ecp5",
        pnr_args=("--85k", "--package", "CABGA381", "--speed", "6",
                  "--lpf-allow-unconstrained"), target_mhz=100.0,
        capacity={"lut4": 83640, "ff": 83640, "ebr": 208, "dsp": 156},
        classes={"lut4": ("LUT4",), "carry": ("CCU2C",), "ff": ("TRELLIS_FF",),
                 "ebr": ("DP16KD", "PDPW16KD"), "lutram": ("TRELLIS_DPR16X4",),
                 "dsp": ("MULT18X18D", "ALU54B")}),
}

SEED = 1                        # nextpnr's placer seed: the same netlist gives the same Fmax
# nextpnr's router1 reaches a better Fmax than router2 on these designs (WTU on the ECP5: 83
# against 67 MHz), but on one default DRE it did not converge in 30 minutes (about 400 wires
# stayed overused) where router2 took one. So router1 gets this long, then router2 routes the
# same placement; the report says which router it is.
ROUTER1_BUDGET = 600            # seconds


def _family(family: str) -> Family:
    if family not in FAMILIES:
        raise SynthError(f"family must be one of {', '.join(FAMILIES)}, not {family!r}")
    return FAMILIES[family]


def count_resources(by_type: dict, family: str) -> dict:
    """Resource classes of a ``stat -json`` cell-type count."""
    return _family(family).count(by_type)


@dataclasses.dataclass(frozen=True)
class FpgaReport:
    design: str
    family: str
    resources: dict             # the design's resource classes
    by_type: dict               # the design's primitives
    harness: dict               # resource classes of the scan harness around it
    overflows: dict             # classes over the device's capacity (design and harness)
    fmax_mhz: float | None      # after place and route; None if not placed
    target_mhz: float
    critical_path: dict | None  # first and last cell of the slowest path, its delays
    note: str                   # why there is no Fmax, if there is none
    seconds: float

    @property
    def device(self) -> str:
        return FAMILIES[self.family].device

    @property
    def fits(self) -> bool:
        return not self.overflows

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def summary(self) -> dict:
        return {"device": self.device, **self.resources, "fits": self.fits,
                "overflows": self.overflows, "fmax_mhz": self.fmax_mhz,
                "target_mhz": self.target_mhz, "harness": self.harness,
                "critical_path": self.critical_path, "note": self.note}


def clock_fmax(pnr: dict, clock: str = "clk") -> tuple[float, dict | None]:
    """Achieved Fmax of the clock driven by port ``clock`` in a nextpnr ``--report``, and its
    critical path. nextpnr names clock nets after their driver (``clk$SB_IO_IN_$glb_clk``,
    ``$glbnet$clk``); nets it promoted from constants (``$PACKER_GND_NET``) are not clocks."""
    try:
        fmax = pnr["fmax"]
        names = [n for n in fmax if n.removeprefix("$glbnet$").split("$")[0] == clock]
        if len(names) != 1:
            raise SynthError(f"nextpnr report has no single clock {clock!r}: {sorted(fmax)}")
        achieved = float(fmax[names[0]]["achieved"])
        path = None
        for entry in pnr.get("critical_paths", []):
            if entry.get("from") == entry.get("to") == f"posedge {names[0]}" \
                    and entry.get("path"):
                steps = entry["path"]
                path = {"from": steps[0]["from"]["cell"], "to": steps[-1]["to"]["cell"],
                        "logic_ns": round(sum(s["delay"] for s in steps
                                              if s["type"] != "routing"), 2),
                        "routing_ns": round(sum(s["delay"] for s in steps
                                                if s["type"] == "routing"), 2)}
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise SynthError(f"unexpected nextpnr report: {error!r}") from None
    return achieved, path


def _script(family: Family) -> str:
    """Yosys synthesizes the design alone (its resources, ``stat.json``), then inside the
    harness (``harness.json``; the netlist nextpnr places). Two runs, not one with the design
    kept as a module: ``keep_hierarchy`` trips an assertion in Yosys 0.70's ECP5 flow."""
    dut = f"top.{HARNESS_DUT}"
    return (f"read_rtlil design.il\nhierarchy -top {dut}\n{family.synth.format(top=dut)}\n"
            f"tee -q -o stat.json stat -json\n"
            f"design -reset\nread_rtlil design.il\nhierarchy -top top\n"
            f"{family.synth.format(top='top')}\ntee -q -o harness.json stat -json\n"
            f"write_json netlist.json\n")


def _primitives(stat: dict, design: str) -> dict:
    try:
        cells = stat["design"]["num_cells_by_type"]
        return {str(k): int(v) for k, v in cells.items() if not str(k).startswith("$scope")}
    except (KeyError, TypeError, AttributeError) as error:
        raise SynthError(f"unexpected Yosys stat report for {design}: {error!r}") from None


def fpga_run(component, design: str, family: str) -> ToolRun:
    """The cached job that synthesizes ``component`` for ``family`` and places and routes it
    when it fits."""
    fam = _family(family)
    harness = ScanHarness(component)
    pnr_args = [*fam.pnr_args, "--json", "netlist.json", "--freq", f"{fam.target_mhz:g}",
                "--timing-allow-fail", "--seed", str(SEED), "--report", "pnr.json",
                "-q", "-l", "nextpnr.log"]

    def resources(work):
        by_type = _primitives(json.loads((work / "stat.json").read_text()), design)
        total = fam.count(_primitives(json.loads((work / "harness.json").read_text()), design))
        own = fam.count(by_type)
        wrapper = {k: total[k] - own[k] for k in own}
        return by_type, own, wrapper, fam.overflows(own), fam.overflows(total)

    def after(work, timeout):
        *_, over_design, over_total = resources(work)
        if over_design or over_total:
            return
        (work / "router.txt").unlink(missing_ok=True)
        budget = ROUTER1_BUDGET if timeout is None else min(ROUTER1_BUDGET, timeout)
        try:
            run_tool(fam.pnr_tool, pnr_args, work, "nextpnr.log", timeout=budget)
        except ToolTimeout:
            (work / "router.txt").write_text(
                f"router2: router1 did not finish within {budget:.0f} s\n")
            run_tool(fam.pnr_tool, [*pnr_args, "--router", "router2"], work, "nextpnr.log",
                     timeout=timeout)

    def parse(work, seconds):
        by_type, own, wrapper, over_design, over_total = resources(work)
        fmax, path, note = None, None, ""
        if over_design:
            note = "does not fit the " + fam.device + ": " + ", ".join(
                f"{k} over by {v}" for k, v in over_design.items())
        elif over_total:
            note = "fits the " + fam.device + " alone, but not with the scan harness: " + \
                ", ".join(f"{k} over by {v}" for k, v in over_total.items())
        else:
            fmax, path = clock_fmax(json.loads((work / "pnr.json").read_text()))
            fmax = round(fmax, 2)
            if (work / "router.txt").exists():
                note = (work / "router.txt").read_text().strip()
        return FpgaReport(design=design, family=family, resources=own, by_type=by_type,
                          harness=wrapper, overflows=over_design, fmax_mhz=fmax,
                          target_mhz=fam.target_mhz, critical_path=path, note=note,
                          seconds=round(seconds, 1)).as_dict()

    text = design_text(harness)
    return ToolRun(f"{design}-{family}", text, with_free_collisions(_script(fam), text), parse,
                   after=after, tools=("yosys", fam.pnr_tool),
                   extra_key=" ".join(pnr_args) + f" router1 for {ROUTER1_BUDGET} s")


def fpga_report(component, design: str, family: str, *,
                build_root: Path = Path("build/synth"),
                progress: Callable[[str], None] | None = None,
                timeout: float | None = 3600) -> FpgaReport:
    """Resources and Fmax of ``component`` on ``family``'s device (cached)."""
    return FpgaReport(**fpga_run(component, design, family).run(
        build_root, progress=progress, timeout=timeout))
