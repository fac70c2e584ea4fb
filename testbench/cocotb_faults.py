"""cocotb fault campaign of the generated DRE Verilog: a ``dre`` vector streamed by a host that
breaks query score streams (``last`` early, a stream that stops, CLEAR in the middle) and
writes settings while queries run, as a plan (``vrex.golden.faults.random_faults``) says.

The host works query by query, as a driver would: a query's marker, then its score beats (all,
or as many as the fault allows), the next frame's tokens straight behind. After each faulty
query (and each write) it waits for the query's end beat and reads ERROR and STATUS, which must
be the golden model's; at the end every output (clusters, slots, selections, descriptors,
flags) must equal the golden model's run of the same plan, so every query after a fault is
answered exactly. Inputs idle and outputs stall at random (``Settings``). The plan comes from
the runner in a JSON file (``VREX_PLAN``: faults, writes, TIMEOUT, a cycle limit); a summary
is written back to it.
"""

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge

from vrex.golden.dre import run_dre
from vrex.golden.faults import HostFault
from vrex.golden.vectors import compare_outputs, load_vectors, write_npz
from vrex.golden.walk import Frame, dre_walk
from vrex.interface.dre import QUERY_MARKER, dre_outputs, lane_beats, token_beats
from vrex.interface.layouts import dre_layouts
from vrex.interface.registers import RegisterMap

from .cocotb_dre import wishbone
from .cocotb_common import Settings, reset

SINKS = ("o_slot", "o_select", "o_desc")


class Streams:
    """Every stream of the DRE, cycle by cycle: sources offer the beats the host queued (after
    random idles), sinks take beats at random."""

    def __init__(self, dut, layouts, rng, idle: float, stall: float, limit: int):
        self.dut, self.layouts, self.rng = dut, layouts, rng
        self.idle, self.stall, self.limit = idle, stall, limit
        self.queues = {"i_hash": [], "i_score": []}
        self.offered = {name: False for name in self.queues}
        self.got = {name: [] for name in SINKS}
        self.ends = 0            # o_desc end beats taken
        self.cycle = 0

    def push(self, name: str, beats) -> None:
        self.queues[name] += [self.layouts[name].const(b).as_bits() for b in beats]

    def empty(self, name: str) -> bool:
        return not self.queues[name]

    async def run(self):
        dut = self.dut
        while True:
            for name, queue in self.queues.items():
                if not self.offered[name] and queue and self.rng.random() >= self.idle:
                    self.offered[name] = True
                    getattr(dut, f"{name}__payload").value = queue[0]
                getattr(dut, f"{name}__valid").value = int(self.offered[name])
            ready = {name: self.rng.random() >= self.stall for name in SINKS}
            for name, r in ready.items():
                getattr(dut, f"{name}__ready").value = int(r)
            await RisingEdge(dut.clk)
            for name, queue in self.queues.items():
                if self.offered[name] and getattr(dut, f"{name}__ready").value:
                    queue.pop(0)
                    self.offered[name] = False
            for name in SINKS:
                if ready[name] and getattr(dut, f"{name}__valid").value:
                    beat = self.layouts[name].from_bits(int(getattr(dut, f"{name}__payload").value))
                    self.got[name].append(beat)
                    self.ends += name == "o_desc" and bool(beat.end)
            self.cycle += 1
            assert self.cycle < self.limit, f"no end after {self.limit} cycles: the DRE hangs"

    async def until(self, condition):
        while not condition():
            await RisingEdge(self.dut.clk)


def score_stream(rows, lanes: int, fault: HostFault | None, rng, score_bits: int) -> list:
    """The ``i_score`` beats a host sends for one query: all of them with ``last`` on the final
    one, or (with a fault) the first ``fault.beats`` (random beats past the end), ``last`` on
    the final one only if the fault is ``last_early``."""
    chunks = [c for row in rows for c in lane_beats(row, lanes)]
    if fault is None:
        return [{"scores": c, "last": i == len(chunks) - 1} for i, c in enumerate(chunks)]
    lo, hi = -(1 << score_bits - 1), 1 << score_bits - 1
    while len(chunks) < fault.beats:
        chunks.append([int(v) for v in rng.integers(lo, hi, lanes)])
    beats = [{"scores": c, "last": False} for c in chunks[:fault.beats]]
    if fault.kind == "last_early":
        beats[-1]["last"] = True
    return beats


@cocotb.test()
async def dre_faults(dut):
    settings = Settings.from_env()
    plan = json.loads(open(os.environ["VREX_PLAN"]).read())
    vectors = load_vectors(settings.vectors)
    cfg, a = vectors.config, vectors.arrays
    faults = {int(q): HostFault(*f) for q, f in plan["faults"].items()}
    writes = {int(q): w for q, w in plan["writes"].items()}
    rng = np.random.default_rng(settings.seed)
    regs = RegisterMap(cfg)
    want = run_dre(a["hashes"], a["frame_end"], a["query_after"], a["query_rows"], a["scores"],
                   cfg, faults=faults, writes=writes)
    layouts = dre_layouts(cfg)

    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    for name in ("i_hash__valid", "i_hash__payload", "i_score__valid", "i_score__payload",
                 *(f"{s}__ready" for s in SINKS),
                 "bus__adr", "bus__dat_w", "bus__sel", "bus__cyc", "bus__stb", "bus__we"):
        getattr(dut, name).value = 0
    await reset(dut)
    for name in ("th_hd", "ratio", "buckets", "mode"):
        await wishbone(dut, regs.offset(name.upper()), int(getattr(cfg, name)))
    await wishbone(dut, regs.offset("TIMEOUT"), plan["timeout"])
    io = Streams(dut, layouts, rng, settings.idle, settings.stall, plan["limit"])
    cocotb.start_soon(io.run())

    checked = 0
    for step in dre_walk(a["frame_end"], a["query_after"], a["query_rows"]):
        if isinstance(step, Frame):
            io.push("i_hash", token_beats(a["hashes"][step.start:step.end]))
            continue
        q, n = step.index, want.clusters[step.index]
        fault = faults.get(q)
        io.push("i_hash", [QUERY_MARKER])
        await io.until(lambda: io.empty("i_hash"))
        beats = [] if n == 0 else score_stream(a["scores"][step.rows, :n], cfg.wtu_lanes,
                                               fault, rng, cfg.score_bits)
        if q in writes:
            # Written while the query runs, once its first beat is taken (the settings were
            # sampled before it), or after its end if it takes none: in force from the next
            # query and for the tokens after this one.
            if beats:
                io.push("i_score", beats[:1])
                await io.until(lambda: io.empty("i_score"))
            else:
                await io.until(lambda: io.ends == q + 1)
            for name, value in writes[q].items():
                await wishbone(dut, regs.offset(name.upper()), int(value))
            beats = beats[1:]
        io.push("i_score", beats)
        if fault is not None and fault.kind == "clear":
            await io.until(lambda: io.empty("i_score"))
            await wishbone(dut, regs.offset("CTRL"), regs.pack("CTRL", CLEAR=1))
        if fault is not None or q in writes:
            await io.until(lambda: io.ends == q + 1)
            if fault is not None and fault.kind == "clear":
                while regs.unpack("STATUS", await wishbone(dut, regs.offset("STATUS")))[
                        "CLEAR_PENDING"]:
                    pass
                status = regs.unpack("STATUS", await wishbone(dut, regs.offset("STATUS")))
                error = await wishbone(dut, regs.offset("ERROR"))
                assert error == 0 and not any(status.values()), \
                    f"query {q}: after CLEAR, ERROR {error:#x} and STATUS {status}"
                checked += 1
            else:
                error = regs.unpack("ERROR", await wishbone(dut, regs.offset("ERROR")))
                record = want.errors[q]
                expected = {name: int(getattr(record, name)) % (1 << width)
                            for name, _, width in regs["ERROR"].fields}
                assert error == expected, f"query {q} ({fault}): ERROR {error}, golden {expected}"
                status = regs.unpack("STATUS", await wishbone(dut, regs.offset("STATUS")))
                assert status["PROTOCOL_ERROR"] == record.any, \
                    f"query {q}: STATUS.PROTOCOL_ERROR {status['PROTOCOL_ERROR']}"
                checked += 1
    queries = len(want.clusters)
    await io.until(lambda: io.ends == queries and len(io.got["o_slot"]) == a["hashes"].size)
    status = await wishbone(dut, regs.offset("STATUS"))
    got = dre_outputs(io.got["o_slot"], io.got["o_select"], io.got["o_desc"], want.clusters,
                      status, cfg, -1)
    write_npz(settings.out, {"unit": np.array("dre"), **got})
    differ = compare_outputs(got, want.as_dict(cfg.no_slot))
    assert differ == [], f"outputs differ from the golden model's: {', '.join(differ)}"
    kinds = [f.kind for f in faults.values()]
    plan["summary"] = {"queries": queries, "faults": len(faults), "writes": len(writes),
                       "registers_checked": checked, "cycles": io.cycle,
                       **{kind: kinds.count(kind) for kind in sorted(set(kinds))}}
    with open(os.environ["VREX_PLAN"], "w") as f:
        json.dump(plan, f)
