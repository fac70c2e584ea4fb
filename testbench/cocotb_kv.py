"""The memory behind the DRE's KV engine in cocotb: cocotbext-axi's AXI4 RAM on the ``m_axi_*``
port, stalled at random on every channel, with a monitor that counts the read bursts and checks
the AXI4 rules SPEC 7 relies on (INCR, whole beats, no burst over ``max_burst`` or across a
4 KB boundary).

cocotbext-axi is Alex Forencich's maintained AXI model set; it is used here rather than a model
of our own so that the engine is checked against an independent reading of AXI4.
"""

from __future__ import annotations

import warnings

import numpy as np
from cocotb.triggers import RisingEdge

from vrex.golden.kv import AXI_BOUNDARY, KvParams, store_kv

# cocotbext-axi 0.1.28 and cocotb-bus 0.3 still use names that cocotb 2 deprecates; their
# warnings say nothing about the DRE.
for _module in (r"cocotbext\.axi(\..*)?", r"cocotb_bus(\..*)?"):
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=_module)
from cocotbext.axi import AxiBus, AxiRam  # noqa: E402

__all__ = ["KvMemory", "kv_memory"]


def _pauses(rng, share: float, longest: int):
    """A channel's pause pattern: paused on about a ``share`` of the cycles, in runs of 1 to
    ``longest`` cycles (long runs on the write channels hold a token's bytes back while its
    query could already read them)."""
    while True:
        paused = bool(rng.random() < share)
        for _ in range(int(rng.integers(1, longest + 1))):
            yield paused


class KvMemory:
    """The AXI4 RAM holding the KV pool at ``base_block * 4096``, and what was seen on the bus.
    ``dut`` is the simulator's handle of the module with the ``m_axi_*`` ports, ``clock`` its
    clock; the RAM needs no reset (it starts idle and empty)."""

    def __init__(self, dut, clock, config, stall: float, seed: int, base_block: int):
        self.config = config
        self.params = KvParams(config.kv_bytes, config.bus_bytes, config.max_burst)
        self.base_block = base_block
        self.base = base_block * AXI_BOUNDARY
        size = 1 << max(12, (self.base + config.kv_region - 1).bit_length())
        self.ram = AxiRam(AxiBus.from_prefix(dut, "m_axi"), clock, None, size=size)
        if stall:
            rng = np.random.default_rng(seed + 1)
            for channel, longest in ((self.ram.write_if.aw_channel, 32),
                                     (self.ram.write_if.w_channel, 64),
                                     (self.ram.write_if.b_channel, 8),
                                     (self.ram.read_if.ar_channel, 8),
                                     (self.ram.read_if.r_channel, 4)):
                channel.set_pause_generator(_pauses(rng, stall, longest))
        self.bursts = 0
        self.dut, self.clock = dut, clock

    async def monitor(self) -> None:
        """Counts the read bursts and checks every address handshake against SPEC 7."""
        dut, bus = self.dut, self.params.bus_bytes
        while True:
            await RisingEdge(self.clock)
            for kind in ("ar", "aw"):
                if int(getattr(dut, f"m_axi_{kind}valid").value) and \
                        int(getattr(dut, f"m_axi_{kind}ready").value):
                    addr = int(getattr(dut, f"m_axi_{kind}addr").value)
                    beats = int(getattr(dut, f"m_axi_{kind}len").value) + 1
                    assert int(getattr(dut, f"m_axi_{kind}burst").value) == 1, "not INCR"
                    assert 1 << int(getattr(dut, f"m_axi_{kind}size").value) == bus, \
                        f"{kind}size is not the bus width"
                    assert addr % bus == 0, f"{kind}addr {addr:#x} is not beat-aligned"
                    assert beats <= self.params.max_burst, \
                        f"{kind} burst of {beats} beats, max_burst {self.params.max_burst}"
                    assert addr // AXI_BOUNDARY == (addr + beats * bus - 1) // AXI_BOUNDARY, \
                        f"{kind} burst at {addr:#x} of {beats} beats crosses 4 KB"
                    if kind == "ar":
                        self.bursts += 1

    def check_image(self, kv, slot) -> None:
        """The pool in memory equals the golden store's image, padding untouched."""
        want = store_kv(bytearray(self.config.kv_region), kv,
                        np.asarray(slot, dtype=np.int64), self.params)
        got = self.ram.read(self.base, self.config.kv_region)
        if got != bytes(want):
            at = next(i for i, (x, y) in enumerate(zip(got, want)) if x != y)
            raise AssertionError(f"KV memory differs from the golden store at byte {at} "
                                 f"(slot {at // self.params.stride}): {got[at]} != {want[at]}")


def kv_memory(dut, clock, config, settings, *, base_block: int = 0) -> KvMemory:
    """The RAM on ``dut``'s AXI4 port, stalled like the streams, its monitor running."""
    import cocotb
    memory = KvMemory(dut, clock, config, settings.stall, settings.seed, base_block)
    cocotb.start_soon(memory.monitor())
    return memory
