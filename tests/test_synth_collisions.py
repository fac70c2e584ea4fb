"""The memories' read-during-write semantics in Yosys: a ``no_rw_check`` memory's read ports
are marked don't-care on a collision, and the ECP5 mapping then builds no soft logic beside
its block RAM; a memory without the attribute keeps Amaranth's old-word behaviour."""

import json

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from vrex.synth.collisions import collision_commands, with_free_collisions
from vrex.synth.yosys import design_text, run_tool


class TwoMemories(wiring.Component):
    """One simple dual-port memory that never needs the old word, one that does."""
    wa: In(10)
    wd: In(31)
    ra: In(10)
    free: Out(31)
    kept: Out(31)

    def __init__(self, *, flag_free=True):
        self._flag = flag_free
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        attrs = {"no_rw_check": 1} if self._flag else {}
        m.submodules.free_mem = free = Memory(shape=31, depth=1024, init=[], attrs=attrs)
        m.submodules.kept_mem = kept = Memory(shape=31, depth=1024, init=[])
        for mem, out in ((free, self.free), (kept, self.kept)):
            w, r = mem.write_port(), mem.read_port()
            m.d.comb += [w.addr.eq(self.wa), w.data.eq(self.wd), w.en.eq(1),
                         r.addr.eq(self.ra), out.eq(r.data)]
        return m


class OneMemory(wiring.Component):
    wa: In(10)
    wd: In(31)
    ra: In(10)
    rd: Out(31)

    def __init__(self, *, flag):
        self._flag = flag
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = Memory(shape=31, depth=1024, init=[],
                                        attrs={"no_rw_check": 1} if self._flag else {})
        w, r = mem.write_port(), mem.read_port()
        m.d.comb += [w.addr.eq(self.wa), w.data.eq(self.wd), w.en.eq(1), r.addr.eq(self.ra),
                     self.rd.eq(r.data)]
        return m


def test_commands_name_only_the_flagged_memory():
    text = design_text(TwoMemories())
    commands = collision_commands(text)
    assert len(commands) == 1
    assert commands[0].startswith("setparam -set COLLISION_X_MASK 1'b1 top/")
    assert collision_commands(design_text(TwoMemories(flag_free=False))) == []


def test_commands_follow_every_read():
    script = "read_rtlil a.il\nsynth\n  read_rtlil b.il\n"
    out = with_free_collisions(script, design_text(TwoMemories())).splitlines()
    assert [i for i, line in enumerate(out) if line.startswith("setparam")] == [1, 4]
    assert with_free_collisions(script, design_text(TwoMemories(flag_free=False))) == script


def _ecp5_cells(tmp_path, component, *, free):
    text = design_text(component)
    (tmp_path / "design.il").write_text(text)
    script = ("read_rtlil design.il\nsynth_ecp5 -top top -run :map_luts\nabc -dress -lut 4:7\n"
              "clean\nsynth_ecp5 -top top -run map_cells:\ntee -q -o stat.json stat -json\n")
    if free:
        script = with_free_collisions(script, text)
    (tmp_path / "run.ys").write_text(script)
    run_tool("yosys", ["-q", "-l", "yosys.log", "run.ys"], tmp_path, "yosys.log")
    return json.loads((tmp_path / "stat.json").read_text())["design"]["num_cells_by_type"]


@pytest.mark.parametrize("flag", [True, False], ids=["flagged", "not_flagged"])
def test_ecp5_builds_collision_logic_only_where_needed(tmp_path, flag):
    # Each memory on its own write port signals, so that Yosys shares no logic between them.
    cells = _ecp5_cells(tmp_path, OneMemory(flag=flag), free=True)
    assert cells.get("DP16KD") == 2
    if flag:
        assert cells.get("TRELLIS_FF", 0) == 0 and cells.get("LUT4", 0) == 0
    else:
        # The old word: write data and address a cycle late, then a compare and a
        # multiplexer on every output bit.
        assert cells.get("TRELLIS_FF", 0) > 31 and cells.get("LUT4", 0) > 31
