"""FPGA resources: Yosys's iCE40 and ECP5 flows, counted by primitive and checked against a
device's capacity. (Fmax after place and route joins with the board top levels, whose few
pins nextpnr can place; the bare DRE has more ports than an UP5K has pins.)"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable

from .yosys import SynthError, cached_run

__all__ = ["FAMILIES", "DEVICES", "FpgaReport", "fpga_resources", "count_resources"]

FAMILIES = {
    "ice40": "synth_ice40 -top top -dsp",
    "ecp5": "synth_ecp5 -top top",
}

# Resource classes by primitive name prefix, per family.
_CLASSES = {
    "ice40": {"lut4": ("SB_LUT4",), "carry": ("SB_CARRY",), "ff": ("SB_DFF",),
              "ebr": ("SB_RAM40_4K",), "spram": ("SB_SPRAM256KA",), "dsp": ("SB_MAC16",)},
    "ecp5": {"lut4": ("LUT4",), "carry": ("CCU2C",), "ff": ("TRELLIS_FF",),
             "ebr": ("DP16KD", "PDPW16KD"), "lutram": ("TRELLIS_DPR16X4",),
             "dsp": ("MULT18X18D", "ALU54B")},
}

# Capacities of the devices the issues name.
DEVICES = {
    "ice40": ("iCE40 UP5K", {"lut4": 5280, "ff": 5280, "ebr": 30, "spram": 4, "dsp": 8}),
    "ecp5": ("ECP5-85F", {"lut4": 83640, "ff": 83640, "ebr": 208, "dsp": 156}),
}


@dataclasses.dataclass(frozen=True)
class FpgaReport:
    design: str
    family: str
    resources: dict          # class -> count
    by_type: dict            # primitive -> count
    seconds: float

    def overflows(self) -> dict:
        """Resource classes that exceed the family's device, with how many too many."""
        _, capacity = DEVICES[self.family]
        return {k: self.resources.get(k, 0) - cap for k, cap in capacity.items()
                if self.resources.get(k, 0) > cap}

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def count_resources(by_type: dict, family: str) -> dict:
    """Resource classes of a ``stat -json`` cell-type count."""
    out = {}
    for name, prefixes in _CLASSES[family].items():
        out[name] = sum(n for t, n in by_type.items() if t.startswith(prefixes))
    return out


def fpga_resources(component, design: str, family: str, *,
                   build_root: Path = Path("build/synth"),
                   progress: Callable[[str], None] | None = None,
                   timeout: float | None = 3600) -> FpgaReport:
    """Run Yosys's ``family`` flow on ``component`` (cached) and count its primitives."""
    if family not in FAMILIES:
        raise SynthError(f"family must be one of {', '.join(FAMILIES)}, not {family!r}")
    script = f"read_rtlil design.il\n{FAMILIES[family]}\ntee -q -o stat.json stat -json\n"

    def parse(work, seconds):
        try:
            by_type = {str(k): int(v) for k, v in json.loads((work / "stat.json").read_text())
                       ["design"]["num_cells_by_type"].items()
                       if not str(k).startswith("$scope")}
        except (KeyError, TypeError, ValueError) as error:
            raise SynthError(f"unexpected Yosys stat report for {design}: {error!r}") from None
        return FpgaReport(design=design, family=family,
                          resources=count_resources(by_type, family), by_type=by_type,
                          seconds=seconds).as_dict()

    return FpgaReport(**cached_run(component, f"{design}-{family}", script, parse,
                                   build_root=build_root, progress=progress, timeout=timeout))
