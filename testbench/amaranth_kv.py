"""Cycle-level AXI4 memories around the KV engine's paths in the Amaranth simulator: each
burst answered after a fixed latency, one beat a cycle, in order (one ID), with optional random
idles on the inputs and stalls on every channel. They check the AXI4 rules SPEC 7 relies on as
they go; the tests compare what they saw with the golden model, ``vrex bench kv`` times a fetch
with them."""

from __future__ import annotations

import dataclasses

from amaranth.sim import Simulator

from vrex.golden.kv import AXI_BOUNDARY

__all__ = ["FetchTiming", "run_fetch", "run_store"]


@dataclasses.dataclass
class FetchTiming:
    """When a fetch used the bus: its first read address and last data beat (cycles), and the
    data beats between them."""

    first_address: int | None = None
    last_data: int | None = None
    beats: int = 0

    @property
    def share_of_peak(self) -> float:
        """Data beats per cycle from the first address to the last beat: the bus's peak is 1."""
        if self.first_address is None:
            return 0.0
        return self.beats / (self.last_data - self.first_address + 1)


def _simulate(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def run_fetch(dut, descs, memory, rng, *, base=0, idle=0.0, stall=0.0, latency=0,
              limit=20_000):
    """Cycle by cycle: descriptors offered with idles, an AXI4 memory that takes bursts with
    random stalls and answers each after ``latency`` cycles (also with gaps), an output that
    stalls. Returns the output beats ``(query, slot, last, end, data)``, the bursts seen
    ``(addr, beats)`` and :class:`FetchTiming`; checks the AXI rules as it goes."""
    bus, beats_out, bursts = dut.bus_bytes, [], []
    inflight, desc_i = [], 0
    ends = sum(1 for d in descs if d["end"])
    cycle = 0
    timing = FetchTiming()

    async def bench(ctx):
        nonlocal desc_i, cycle
        offered = showing = False
        ctx.set(dut.kv_base, base)
        while sum(1 for b in beats_out if b[3]) < ends:
            assert cycle < limit, (f"no end beat for every query within {limit} cycles: "
                                    f"{desc_i} descriptors taken, {len(bursts)} bursts, "
                                    f"{len(beats_out)} beats out, in flight {inflight}")
            # A beat once offered (descriptor or read data) stays until taken.
            offer = desc_i < len(descs) and (offered or rng.random() >= idle)
            offered = offer
            ctx.set(dut.i_desc.valid, offer)
            if offer:
                ctx.set(dut.i_desc.payload, descs[desc_i])
            ctx.set(dut.m_axi_arready, rng.random() >= stall)
            due = bool(inflight) and inflight[0][0] <= cycle and (showing or rng.random() >= idle)
            showing = due
            ctx.set(dut.m_axi_rvalid, due)
            if due:
                _, addr, left = inflight[0]
                ctx.set(dut.m_axi_rdata, int.from_bytes(memory[addr:addr + bus], "little"))
                ctx.set(dut.m_axi_rlast, left == 1)
            ctx.set(dut.o_token.ready, rng.random() >= stall)
            if offer and ctx.get(dut.i_desc.ready):
                desc_i += 1
                offered = False
            if ctx.get(dut.m_axi_arvalid) and ctx.get(dut.m_axi_arready):
                addr, n = ctx.get(dut.m_axi_araddr), ctx.get(dut.m_axi_arlen) + 1
                assert ctx.get(dut.m_axi_arburst) == 1 and 1 << ctx.get(dut.m_axi_arsize) == bus
                assert addr // AXI_BOUNDARY == (addr + n * bus - 1) // AXI_BOUNDARY
                assert n <= dut.max_burst
                bursts.append((addr, n))
                inflight.append([cycle + latency, addr, n])
                if timing.first_address is None:
                    timing.first_address = cycle
            if due and ctx.get(dut.m_axi_rready):
                showing = False
                timing.beats += 1
                timing.last_data = cycle
                inflight[0][1] += bus
                inflight[0][2] -= 1
                if inflight[0][2] == 0:
                    inflight.pop(0)
            if ctx.get(dut.o_token.valid) and ctx.get(dut.o_token.ready):
                t = ctx.get(dut.o_token.payload)
                beats_out.append((t.query, t.slot, t.last, t.end, t.data))
            await ctx.tick()
            cycle += 1

    _simulate(dut, bench)
    return beats_out, bursts, timing


def run_store(dut, slots, kv, memory, rng, *, base=0, idle=0.0, stall=0.0, latency=0,
              limit=20_000):
    """Cycle by cycle: slots and token beats offered with idles (held once offered), an AXI4
    memory that takes addresses and data with stalls, applies the strobes and answers each
    burst after ``latency`` cycles. Checks the AXI rules; returns the bursts."""
    bus, beats = dut.bus_bytes, dut.stride // dut.bus_bytes
    token_beats = [(t, b) for t in range(len(slots)) for b in range(beats)]
    aw, bursts, responses = [], [], []
    state = dict(slot_i=0, beat_i=0, slot_held=False, beat_held=False, b_held=False)
    cycle = 0

    async def bench(ctx):
        nonlocal cycle
        ctx.set(dut.kv_base, base)
        while (state["slot_i"] < len(slots) or state["beat_i"] < len(token_beats) or aw
               or responses or ctx.get(dut.busy)):
            assert cycle < limit, f"the store did not finish within {limit} cycles: {state}"
            s_offer = state["slot_i"] < len(slots) and (state["slot_held"] or rng.random() >= idle)
            state["slot_held"] = s_offer
            ctx.set(dut.i_slot.valid, s_offer)
            if s_offer:
                s = slots[state["slot_i"]]
                ctx.set(dut.i_slot.payload, {"slot": max(s, 0), "none": s < 0})
            k_offer = state["beat_i"] < len(token_beats) and (state["beat_held"]
                                                              or rng.random() >= idle)
            state["beat_held"] = k_offer
            ctx.set(dut.i_kv.valid, k_offer)
            if k_offer:
                t, b = token_beats[state["beat_i"]]
                word = kv[t].tobytes() + bytes(beats * bus - dut.kv_bytes)
                ctx.set(dut.i_kv.payload, {"data": int.from_bytes(word[b * bus:(b + 1) * bus],
                                                                  "little"),
                                           "last": b == beats - 1})
            ctx.set(dut.m_axi_awready, rng.random() >= stall)
            ctx.set(dut.m_axi_wready, rng.random() >= stall)
            b_due = bool(responses) and responses[0] <= cycle
            ctx.set(dut.m_axi_bvalid, b_due)
            if s_offer and ctx.get(dut.i_slot.ready):
                state["slot_i"] += 1
                state["slot_held"] = False
            if k_offer and ctx.get(dut.i_kv.ready):
                state["beat_i"] += 1
                state["beat_held"] = False
            if ctx.get(dut.m_axi_awvalid) and ctx.get(dut.m_axi_awready):
                addr, n = ctx.get(dut.m_axi_awaddr), ctx.get(dut.m_axi_awlen) + 1
                assert ctx.get(dut.m_axi_awburst) == 1 and 1 << ctx.get(dut.m_axi_awsize) == bus
                assert addr // AXI_BOUNDARY == (addr + n * bus - 1) // AXI_BOUNDARY
                assert n <= dut.max_burst
                aw.append([addr, n])
                bursts.append((addr, n))
            if ctx.get(dut.m_axi_wvalid) and ctx.get(dut.m_axi_wready):
                assert aw, "write data before its address"
                addr, left = aw[0]
                assert ctx.get(dut.m_axi_wlast) == (left == 1), "wlast on the wrong beat"
                word = int(ctx.get(dut.m_axi_wdata)).to_bytes(bus, "little")
                strb = ctx.get(dut.m_axi_wstrb)
                for i in range(bus):
                    if strb >> i & 1:
                        memory[addr + i] = word[i]
                aw[0] = [addr + bus, left - 1]
                if left == 1:
                    aw.pop(0)
                    responses.append(cycle + latency)
            if b_due:
                responses.pop(0)
            await ctx.tick()
            cycle += 1

    _simulate(dut, bench)
    return bursts
