"""``vrex generate``: readable Verilog of a DRE unit plus a JSON of its parameters and ports."""

from __future__ import annotations

import hashlib
import re
import json
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Shape
from amaranth.lib import wiring

from vrex.golden.config import Config

__all__ = ["UNITS", "build_unit", "port_map", "generate", "config_key", "strip_zero_init",
           "icarus_time_zero"]

# An `initial` block that only zeroes a memory, one line per word: thousands of lines that say
# nothing (the DRE never reads an entry it has not written), so the emitted Verilog drops them.
_ZERO_INIT = re.compile(r"\n  initial begin\n(?:    \S+\[\d+\] = \d+'[hd]0+;\n)+  end")


def strip_zero_init(text: str) -> str:
    return _ZERO_INIT.sub("", text)


# Yosys reads a dummy register in every `always @*` block so that a change of it evaluates them
# all, but nothing changes it: Icarus never runs a block whose inputs keep their time-zero value
# (amaranth-lang/amaranth#1629), leaving e.g. an FSM's outputs at X until its state first moves.
# One toggle at time zero, for Icarus only, runs every block once.
_DUMMY = re.compile(r"^  reg (\\\$auto\$verilog_backend\S+)\s+= 0;$", re.M)


def icarus_time_zero(text: str) -> str:
    def kick(match):
        return (f"{match.group(0)}\n`ifdef __ICARUS__\n"
                f"  initial #0 {match.group(1)} = 1'h1;\n`endif")
    return _DUMMY.sub(kick, text)

UNITS = ("hcu", "wtu", "dre")


def build_unit(unit: str, config: Config, *, early_exit: bool = True) -> wiring.Component:
    if unit == "hcu":
        from vrex.rtl.hcu import HCU
        return HCU.from_config(config, early_exit=early_exit)
    if unit == "wtu":
        from vrex.rtl.wtu import WTU
        return WTU.from_config(config, early_exit=early_exit)
    if unit == "dre":
        from vrex.rtl.dre import DRE
        return DRE(config)
    raise ValueError(f"unit must be one of {', '.join(UNITS)}, not {unit!r}")


def port_map(component: wiring.Component) -> list[dict]:
    """Verilog ports of a component: Amaranth joins the signature path with ``__``."""
    ports = [{"name": "clk", "direction": "input", "width": 1, "path": None},
             {"name": "rst", "direction": "input", "width": 1, "path": None}]
    for path, member, value in component.signature.flatten(component):
        name = "__".join(str(p) for p in path)
        ports.append({"name": name,
                      "direction": "input" if member.flow == wiring.In else "output",
                      "width": Shape.cast(member.shape).width,
                      "path": ".".join(str(p) for p in path)})
    return ports


def config_key(unit: str, config: Config, early_exit: bool = True) -> str:
    text = json.dumps({"unit": unit, "early_exit": early_exit, **config.as_dict()},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def generate(unit: str, config: Config, out: Path, *, early_exit: bool = True,
             name: str | None = None) -> dict:
    """Write ``<name>.v`` and ``<name>.json`` into ``out``; returns the JSON description.

    The Verilog file is rewritten only when its text changes, so simulator builds that depend
    on it stay cached.
    """
    name = name or f"vrex_{unit}"
    component = build_unit(unit, config, early_exit=early_exit)
    ports = port_map(component)
    text = icarus_time_zero(strip_zero_init(
        verilog.convert(component, name=name, emit_src=False)))
    out.mkdir(parents=True, exist_ok=True)
    vfile = out / f"{name}.v"
    if not vfile.exists() or vfile.read_text() != text:
        vfile.write_text(text)
    description = {
        "unit": unit,
        "toplevel": name,
        "verilog": vfile.name,
        "early_exit": early_exit,
        "parameters": config.as_dict(),
        "ports": ports,
    }
    (out / f"{name}.json").write_text(json.dumps(description, indent=2) + "\n")
    return description
