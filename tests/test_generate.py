"""Verilog generation: every unit converts, and the netlist grows with lanes, not beyond."""

import pytest

from vrex.golden.config import Config
from vrex.scripts.generate import UNITS, generate


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


def test_dre_ip_package(tmp_path):
    import json
    import shutil
    import subprocess

    from vrex.rtl.registers import dre_registers

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
    header = tmp_path / files["registers_h"]
    assert "#define VREX_DRE_BUCKETS 0x14u" in header.read_text()
    if shutil.which("cc"):
        subprocess.run(["cc", "-fsyntax-only", "-Wall", "-Werror", "-x", "c", str(header)],
                       check=True)
