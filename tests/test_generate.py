"""Verilog generation: every unit converts, and the netlist grows with lanes, not beyond."""

import pytest

from vrex.golden.config import Config
from vrex.rtl.generate import UNITS, generate


@pytest.mark.parametrize("unit", UNITS)
def test_netlist_grows_linearly_with_lanes(unit, tmp_path):
    # A chain built from expressions used twice per step is copied into the netlist once per
    # use: its size then doubles with every lane. Chains must be built from signals.
    def lines(lanes):
        cfg = Config(max_clusters=64, hcu_lanes=lanes, wtu_lanes=lanes)
        out = tmp_path / f"{lanes}"
        generate(unit, cfg, out)
        return len((out / f"vrex_{unit}.v").read_text().splitlines())
    small, big = lines(2), lines(16)
    assert big < 8 * small, (small, big)


@pytest.mark.parametrize("schedule", ["scan", "histogram"])
@pytest.mark.parametrize("unit", UNITS)
def test_no_process_that_icarus_never_runs(unit, schedule, tmp_path):
    # Yosys writes a constant driving part of a register as "always @* x[1] = 0;": no signal
    # to wake it, so Icarus never runs it and the bit stays X (Verilator and Amaranth's
    # simulator show the init value). An output port a component never drives is one.
    import re
    cfg = Config(max_clusters=64, wtu_lanes=4, max_buckets=4, buckets=4, wtu_schedule=schedule)
    generate(unit, cfg, tmp_path)
    text = (tmp_path / f"vrex_{unit}.v").read_text()
    dead = re.findall(r"always @\*\n\s+(\S+ = \d+'[hbd][0-9a-fA-F_]+;)\n", text)
    assert dead == []


def test_dre_ip_package(tmp_path):
    import json
    import shutil
    import subprocess

    from vrex.interface.registers import ID_MAGIC, dre_registers

    cfg = Config(max_clusters=64, max_buckets=8, buckets=5)
    description = generate("dre", cfg, tmp_path)
    files = description["files"]
    for name in [description["verilog"], *files.values()]:
        assert (tmp_path / name).stat().st_size > 0, name
    regs = json.loads((tmp_path / files["registers_json"]).read_text())["registers"]
    table = dre_registers(cfg)
    assert [(r["name"], r["offset"]) for r in regs] == [(r.name, r.offset) for r in table]
    assert {r["name"]: r["reset"] for r in regs}["BUCKETS"] == 5
    core = (tmp_path / files["fusesoc_core"]).read_text()
    assert core.startswith("CAPI=2:") and f"- {description['verilog']}" in core
    # The C header and the documents come from the PeakRDL exporters, via SystemRDL.
    header = tmp_path / files["registers_h"]
    text = header.read_text()
    assert "#define VREX_DRE__BUCKETS__VALUE_reset 0x5" in text
    assert "#define VREX_DRE__STATUS__PAGE_OVERFLOW_bm 0x4" in text
    assert f"#define VREX_DRE__ID__VALUE_reset {ID_MAGIC:#x}" in text
    assert "BUCKETS register" in (tmp_path / files["registers_md"]).read_text()
    assert "ipxact" in (tmp_path / files["registers_xml"]).read_text().lower()
    # The integrator's top: AXI4-Stream names, every payload field's bit range in the JSON.
    from vrex.interface.layouts import dre_layouts
    top = (tmp_path / files["soc_top"]).read_text()
    assert "module vrex_dre_top (" in top and "localparam integer MAX_CLUSTERS  = 64;" in top
    for stream, layout in dre_layouts(cfg).items():
        fields = description["streams"][stream]["fields"]
        assert {n: (f["lsb"], f["width"]) for n, f in fields.items()} == \
            {n: (v.offset, v.width) for n, v in layout}
        assert all(f" {f['port']}," in top or f" {f['port']} " in top for f in fields.values())
    if shutil.which("cc"):
        subprocess.run(["cc", "-fsyntax-only", "-Wall", "-Werror", "-x", "c", str(header)],
                       check=True)


def test_dre_with_the_kv_engine_shows_its_axi_port_and_kv_base(tmp_path):
    # SPEC 7: an SoC tool connects the standard AXI4 names; the register map has KV_BASE.
    import json

    cfg = Config(max_clusters=64, max_buckets=8, buckets=5, kv_bytes=256, axi_addr_width=40)
    description = generate("dre", cfg, tmp_path)
    ports = {p["name"]: p for p in description["ports"]}
    for channel, signals in (("aw", "id addr len size burst valid ready"),
                             ("w", "data strb last valid ready"), ("b", "id resp valid ready"),
                             ("ar", "id addr len size burst valid ready"),
                             ("r", "id data resp last valid ready")):
        for signal in signals.split():
            assert f"m_axi_{channel}{signal}" in ports, (channel, signal)
    assert ports["m_axi_araddr"]["width"] == 40 and ports["m_axi_rdata"]["width"] == 128
    assert ports["m_axi_arready"]["direction"] == "input"
    assert {"i_kv__payload", "o_token__payload"} <= set(ports)
    regs = json.loads((tmp_path / description["files"]["registers_json"]).read_text())
    kv_base = {r["name"]: r for r in regs["registers"]}["KV_BASE"]
    assert kv_base["width"] == 28                       # a 40-bit address in 4 KB blocks
    top = (tmp_path / description["files"]["soc_top"]).read_text()
    assert ".m_axi_araddr(m_axi_araddr)" in top and "s_kv_tvalid" in top
    # Without the engine none of it is there.
    plain = generate("dre", cfg.replace(kv_bytes=0), tmp_path / "plain")
    assert not any(p["name"].startswith(("m_axi_", "i_kv", "o_token"))
                   for p in plain["ports"])
