"""The DRE's register map for people and programs, from the one register table
(:func:`vrex.interface.registers.dre_registers`): SystemRDL written out of it, and from that
the C header, Markdown and IP-XACT of the PeakRDL exporters (the ecosystem's tools, so no
renderer of our own to keep in step); a JSON of the table for scripts; and a FuseSoC core
description of the generated IP."""

from __future__ import annotations

import json
import shutil
import tempfile
from importlib import metadata
from pathlib import Path

from .registers import ID_MAGIC, Register

__all__ = ["systemrdl", "write_regmap", "regmap_json", "fusesoc_core"]

# SystemRDL software and hardware access of each kind of register: "ro" registers show what
# the DRE drives, "rw" ones hold what the host wrote, "w1" ones pulse for one cycle.
_ACCESS = {"ro": "sw = r; hw = w;", "rw": "sw = rw; hw = r;", "w1": "sw = w; hw = r; singlepulse;"}


def _text(doc: str) -> str:
    return doc.replace("\\", "\\\\").replace('"', '\\"')


def systemrdl(registers: list[Register], toplevel: str) -> str:
    """The register table as a SystemRDL ``addrmap`` named ``toplevel``."""
    lines = [f"addrmap {toplevel} {{",
             f'    desc = "Registers of {toplevel}: Wishbone B4 classic, 32-bit data, word '
             f'addresses; every access is acknowledged one cycle after it starts; unmapped '
             f'offsets read 0.";',
             "    default regwidth = 32;"]
    for reg in registers:
        doc = reg.doc + (f" Writes are clamped to {reg.lo}..{reg.hi}."
                         if reg.access == "rw" and reg.hi is not None else "")
        lines += ["    reg {", f'        desc = "{_text(doc)}";']
        constant = reg.constant is not None
        access = "sw = r; hw = na;" if constant else _ACCESS[reg.access]
        # Resets: a constant's value, what an "rw" register holds after reset, 0 for a pulse.
        reset = reg.constant if constant else {"rw": reg.reset, "w1": 0}.get(reg.access)
        for name, lsb, width in reg.fields or (("value", 0, reg.width),):
            value = "" if reset is None else f" = {reset >> lsb & ((1 << width) - 1):#x}"
            lines.append(f"        field {{ {access} }} {name}[{lsb + width - 1}:{lsb}]{value};")
        lines.append(f"    }} {reg.name} @ {reg.offset:#x};")
    lines.append("};")
    return "\n".join(lines) + "\n"


def write_regmap(registers: list[Register], toplevel: str, out: Path) -> dict[str, str]:
    """Write ``toplevel``'s SystemRDL, C header, Markdown, IP-XACT and JSON register map into
    ``out``; returns their file names by kind."""
    from peakrdl_cheader.exporter import CHeaderExporter
    from peakrdl_ipxact import IPXACTExporter
    from peakrdl_markdown import MarkdownExporter
    from systemrdl import RDLCompiler

    files = {"registers_rdl": f"{toplevel}.rdl", "registers_h": f"{toplevel}_regs.h",
             "registers_md": f"{toplevel}_regs.md", "registers_xml": f"{toplevel}_regs.xml",
             "registers_json": f"{toplevel}_regs.json"}
    # Everything is rendered in a scratch folder and moved into ``out`` only once the SystemRDL
    # compiled and every exporter ran: a failure leaves nothing half-written.
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        rdl = work / files["registers_rdl"]
        rdl.write_text(systemrdl(registers, toplevel))
        compiler = RDLCompiler()
        compiler.compile_file(str(rdl))
        root = compiler.elaborate(top_def_name=toplevel)
        CHeaderExporter().export(root, str(work / files["registers_h"]))
        MarkdownExporter().export(root, str(work / files["registers_md"]))
        IPXACTExporter().export(root, str(work / files["registers_xml"]))
        (work / files["registers_json"]).write_text(regmap_json(registers, toplevel))
        for name in files.values():
            shutil.move(work / name, out / name)
    return files


def regmap_json(registers: list[Register], toplevel: str) -> str:
    regs = [{"name": r.name, "offset": r.offset, "access": r.access, "width": r.width,
             "reset": r.reset if r.access == "rw" else None,
             "range": [r.lo, r.hi] if r.access == "rw" else None,
             "fields": [{"name": n, "lsb": lsb, "width": w} for n, lsb, w in r.fields],
             "constant": r.constant,
             "doc": r.doc} for r in registers]
    return json.dumps({"toplevel": toplevel, "bus": "wishbone-b4-classic", "data_width": 32,
                       "id_magic": ID_MAGIC, "registers": regs}, indent=2) + "\n"


def fusesoc_core(toplevel: str, files: list[str], description: str) -> str:
    version = metadata.version("vrex")
    listed = "\n".join(f"      - {f}" for f in files)
    return (f"CAPI=2:\n"
            f"name: vrex:dre:{toplevel}:{version}\n"
            f"description: {description}\n\n"
            f"filesets:\n"
            f"  rtl:\n"
            f"    files:\n{listed}\n"
            f"    file_type: verilogSource\n\n"
            f"targets:\n"
            f"  default: &default\n"
            f"    filesets: [rtl]\n"
            f"    toplevel: {toplevel}\n"
            f"  lint:\n"
            f"    <<: *default\n"
            f"    default_tool: verilator\n"
            f"    tools:\n"
            f"      verilator:\n"
            f"        mode: lint-only\n"
            f"        verilator_options: [-Wno-fatal]\n")
