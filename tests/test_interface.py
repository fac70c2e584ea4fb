"""The interface layer: one registry of units, register fields packed by name, and stream
layouts as wide as the golden model's own widths."""

import numpy as np
import pytest
from amaranth.lib import wiring

from conftest import small_config
from vrex.golden.config import load_config
from vrex.golden.vectors import UNITS as VECTOR_UNITS
from vrex.interface.dre import DreProgress, lane_beats, score_beats
from vrex.interface.layouts import POP_STREAMS, PUSH_STREAMS, dre_layouts, row_layout
from vrex.interface.registers import ID_MAGIC, PARAMETERS, RegisterMap
from vrex.interface.units import UNITS, unit, vector_units


def test_the_registry_has_the_vector_format_units():
    assert vector_units() == VECTOR_UNITS
    assert all(UNITS[name].testbench for name in VECTOR_UNITS)
    with pytest.raises(ValueError, match="unit must be one of hcu, wtu, controller"):
        unit("kvmu")


@pytest.mark.parametrize("name", list(UNITS))
def test_every_unit_builds_alone_and_as_in_the_dre(name):
    config = small_config(wtu_lanes=2, kv_bytes=64)
    alone = UNITS[name].build(config)
    inside = UNITS[name].build(config, as_in_dre=True)
    for component in (alone, inside):
        assert isinstance(component, wiring.Component)
    if name == "hcu":     # the DRE's HCU reads counts a WTU beat at a time
        assert len(inside.rd_counts.as_value()) == 2 * len(alone.rd_counts.as_value())
    from amaranth.back import rtlil
    for component in (alone, inside):
        rtlil.convert(component)


def test_register_fields_round_trip(rng):
    regs = RegisterMap(load_config("default"))
    for reg in regs:
        if not reg.fields:
            continue
        values = {name: int(rng.integers(0, 1 << width)) for name, _, width in reg.fields}
        assert regs.unpack(reg.name, regs.pack(reg.name, **values)) == values
    # The documented layout: hcu_lanes in bits 15..0, wtu_lanes in 31..16.
    assert regs.pack("LANES", HCU_LANES=3, WTU_LANES=5) == 3 | 5 << 16
    with pytest.raises(ValueError, match="STATUS.BUSY is 1 bits wide: 2 does not fit"):
        regs.pack("STATUS", BUSY=2)
    with pytest.raises(KeyError, match="register 'NOPE': not one of ID, CTRL"):
        regs.offset("NOPE")


def test_parameter_registers_hold_the_configuration():
    config = load_config("default")
    values = RegisterMap(config).parameter_values()
    assert set(values) == set(PARAMETERS)
    assert values["MAX_PAGES"] == config.max_pages
    assert values["LANES"] == config.hcu_lanes | config.wtu_lanes << 16


@pytest.mark.parametrize("preset", ["default", "small"])
def test_layouts_are_as_wide_as_the_golden_widths(preset):
    c = load_config(preset)
    layouts = dre_layouts(c)
    assert tuple(layouts) == PUSH_STREAMS + POP_STREAMS
    assert layouts["o_slot"]["slot"].width == c.slot_bits
    assert layouts["i_score"].size == c.wtu_lanes * c.score_bits + 1
    total = row_layout(c.value_bits, c.count_bits, c.max_clusters, c.max_buckets)["total"]
    assert total.width == c.total_bits


def test_score_beats_pad_each_row_and_end_the_batch():
    rows = np.array([[1, -2, 3], [4, 5, 6]])
    beats = score_beats(rows, 2)
    assert [b["scores"] for b in beats] == [[1, -2], [3, 0], [4, 5], [6, 0]]
    assert [b["last"] for b in beats] == [False, False, False, True]
    assert score_beats(rows[:0], 2) == []
    assert lane_beats([7], 3, fill=-1) == [[7, -1, -1]]


def test_progress_counts_end_beats_as_they_arrive():
    class Desc:
        def __init__(self, end):
            self.end = end
    progress, descs = DreProgress(), []
    for end in (0, 1, 0, 0, 1):
        descs.append(Desc(end))
        progress.update([None] * 3, descs)
    assert progress.ends == 2 and progress.done(3, 2) and not progress.done(4, 2)


def test_the_systemrdl_holds_the_table(tmp_path):
    from systemrdl import RDLCompiler

    from vrex.interface.regmap import systemrdl
    table = RegisterMap(load_config("default")).registers
    path = tmp_path / "dre.rdl"
    path.write_text(systemrdl(table, "dre"))
    compiler = RDLCompiler()
    compiler.compile_file(str(path))
    root = compiler.elaborate(top_def_name="dre")
    compiled = {reg.inst_name: reg for reg in root.top.registers()}
    assert list(compiled) == [r.name for r in table]
    for r in table:
        node = compiled[r.name]
        assert node.absolute_address == r.offset
        fields = {f.inst_name: f for f in node.fields()}
        assert {n: (f.lsb, f.width) for n, f in fields.items()} == \
            ({n: (lsb, w) for n, lsb, w in r.fields} or {"value": (0, r.width)})
        if r.access == "rw":
            assert fields["value"].get_property("reset") == r.reset
        if r.name in ("ID", "MAX_PAGES"):      # constants: their value is their reset
            want = ID_MAGIC if r.name == "ID" else load_config("default").max_pages
            assert fields["value"].get_property("reset") == want
            assert not fields["value"].is_hw_writable
        assert node.has_sw_writable == (r.access != "ro")


def test_every_vector_unit_has_stimulus_and_a_registry_entry():
    # The golden model's table of vector units, its stimulus and the interface's registry
    # name the same units, so a unit added to one is missing from none.
    from vrex.golden import stimulus
    from vrex.golden.vectors import VECTOR_UNITS
    from vrex.interface.units import vector_units
    assert tuple(VECTOR_UNITS) == vector_units()
    from vrex.golden.config import Config
    cfg = Config(max_clusters=16, max_buckets=4, buckets=4)
    for name in VECTOR_UNITS:
        vectors = stimulus.random_vectors(name, cfg, 1, tokens=40)
        assert vectors.unit == name
    with pytest.raises(ValueError, match="unit must be one of hcu, wtu, dre, not 'x'"):
        stimulus.random_vectors("x", cfg, 1)
