"""Read-during-write semantics of the design's memories, as Yosys should map them.

Amaranth's memories return the old word when a read meets a write to the same address in
the same cycle. FPGA block RAMs guarantee that within one port at most; across ports (a
simple dual-port RAM's read and write) the word read is undefined, so Yosys's
``memory_libmap`` builds the old-word behaviour in soft logic: the write's data and address
delayed a cycle, an address compare and a multiplexer after the RAM's output, exactly where
the slowest paths of the design begin.

A memory whose read never uses a word written in its cycle (forwarded where it could, proved
where it matters) carries the ``no_rw_check`` attribute. Yosys honours that attribute only in
``memory_dff``, when it merges flip-flops into an asynchronous read port; Amaranth emits
synchronous ports, which that pass leaves alone. :func:`collision_commands` therefore marks
their read ports itself, right after the RTLIL is read (``COLLISION_X_MASK``: the read
returns don't-care on a collision with that write port), and the soft logic is not built.
"""

from __future__ import annotations

import re

__all__ = ["collision_commands", "with_free_collisions"]

_MODULE = re.compile(r"^module (\S+)$")
_MEMORY = re.compile(r"^memory .*?(\S+)$")
_CELL = re.compile(r"^cell \$memrd_v2 (\S+)$")
_MEMID = re.compile(r'^parameter \\MEMID "\\\\(.+)"$')
_MASK = re.compile(r"^parameter \\COLLISION_X_MASK (\d+)'([01x]+)$")


def _rtlil_name(name: str) -> str:
    return name.removeprefix("\\")


def collision_commands(rtlil: str) -> list[str]:
    """One ``setparam`` per read port of a ``no_rw_check`` memory in the RTLIL text, naming
    the port by module and cell so that no other memory is touched."""
    commands, module, flagged, attrs, cell = [], None, set(), [], None
    memid = width = None
    for raw in rtlil.splitlines():
        line = raw.strip()
        if m := _MODULE.match(line):
            module, flagged, attrs, cell = _rtlil_name(m[1]), set(), [], None
        elif line.startswith("attribute "):
            attrs.append(line)
        elif m := _MEMORY.match(line):
            if "attribute \\no_rw_check 1" in attrs:
                flagged.add(_rtlil_name(m[1]))
            attrs = []
        elif m := _CELL.match(line):
            cell, memid, width, attrs = m[1], None, None, []
        elif cell is not None and (m := _MEMID.match(line)):
            memid = m[1]
        elif cell is not None and (m := _MASK.match(line)):
            width = int(m[1])
        elif line == "end" and cell is not None:
            if memid in flagged and width:
                commands.append(f"setparam -set COLLISION_X_MASK {width}'b{'1' * width} "
                                f"{module}/{cell}")
            cell = None
        elif not line.startswith(("parameter ", "connect ")):
            attrs = [] if not line.startswith("attribute ") else attrs
    return commands


def with_free_collisions(script: str, rtlil: str) -> str:
    """``script`` with :func:`collision_commands` after each of its ``read_rtlil`` lines."""
    commands = collision_commands(rtlil)
    if not commands:
        return script
    lines = []
    for line in script.splitlines():
        lines.append(line)
        if line.lstrip().startswith("read_rtlil"):
            lines.extend(commands)
    return "\n".join(lines) + ("\n" if script.endswith("\n") else "")
