"""Pieces every cocotb testbench of the DRE shares."""

import dataclasses
import json
import os

from cocotb.triggers import RisingEdge
from cocotb.utils import get_sim_time

__all__ = ["Settings", "reset", "drive_streams", "report_progress", "BeatLog"]


@dataclasses.dataclass
class Settings:
    """What the runner asks of a testbench, passed through the environment."""

    vectors: str
    out: str
    idle: float = 0.0
    stall: float = 0.0
    seed: int = 0
    top: str = ""       # the generator JSON of the integrator's top to drive, if any
    progress: str = ""  # a file to write "<input beats taken> <of all>" to now and then
    beats: str = ""     # a file to log every output beat taken to, with its time

    ENV = {"vectors": "VREX_VECTORS", "out": "VREX_OUT", "idle": "VREX_IDLE",
           "stall": "VREX_STALL", "seed": "VREX_SEED", "top": "VREX_TOP",
           "progress": "VREX_PROGRESS", "beats": "VREX_BEATS"}

    def to_env(self) -> dict[str, str]:
        return {var: str(getattr(self, field)) for field, var in self.ENV.items()}

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(vectors=os.environ["VREX_VECTORS"], out=os.environ["VREX_OUT"],
                   idle=float(os.environ.get("VREX_IDLE", 0)),
                   stall=float(os.environ.get("VREX_STALL", 0)),
                   seed=int(os.environ.get("VREX_SEED", 0)),
                   top=os.environ.get("VREX_TOP", ""),
                   progress=os.environ.get("VREX_PROGRESS", ""),
                   beats=os.environ.get("VREX_BEATS", ""))


async def reset(dut, cycles: int = 2):
    """Synchronous active-high reset, as Amaranth generates it; inputs must be driven first."""
    dut.rst.value = 1
    for _ in range(cycles):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


class BeatLog:
    """Every output beat a testbench takes, with the simulation time of its handshake, written
    (JSON: ``{"stream": [[time_ps, "hex bits"], ...]}``) for the runner to find where a run
    first left the golden model. Written on close, so a testbench that fails midway still
    leaves what it saw."""

    def __init__(self, path: str, streams):
        self.path = path
        self.beats = {name: [] for name in streams}

    def take(self, stream: str, bits: int) -> None:
        if self.path:
            self.beats[stream].append([int(get_sim_time("ps")), f"{int(bits):x}"])

    def close(self) -> None:
        if self.path:
            with open(self.path, "w") as f:
                json.dump(self.beats, f)


def report_progress(settings: "Settings", taken: int, total: int) -> None:
    """Input beats taken so far, for the runner's progress bar (if it asked for them)."""
    if settings.progress:
        with open(settings.progress, "w") as f:
            f.write(f"{taken} {total}\n")


async def drive_streams(dut, sources: dict, sinks: dict, done, settings: "Settings", rng,
                        *, limit: int = 1_000_000):
    """Drive streams cycle by cycle until ``done(received)`` and every source is empty.

    ``sources`` maps a port name to its list of packed payloads; each beat is offered after
    random idle cycles (``settings.idle``) and held until taken. ``sinks`` maps a port name to
    the layout its payloads are unpacked with; a sink stalls at random (``settings.stall``).
    Returns ``(received, first_in, last_out)``: payloads per sink, the cycle of the first beat
    offered and of the last output handshake. Every beat taken is logged (``BeatLog``).
    """
    log = BeatLog(settings.beats, sinks)
    try:
        return await _drive(dut, sources, sinks, done, settings, rng, limit, log)
    finally:
        log.close()


async def _drive(dut, sources, sinks, done, settings, rng, limit, log):
    state = {name: [list(beats), False] for name, beats in sources.items()}
    received = {name: [] for name in sinks}
    first_in = last_out = None
    cycle = 0
    total = sum(len(beats) for beats in sources.values())

    def report():
        report_progress(settings, total - sum(len(p) for p, _ in state.values()), total)

    while not done(received) or any(pending for pending, _ in state.values()):
        if cycle % 2000 == 0:
            report()
        for name, entry in state.items():
            pending, offered = entry
            if not offered and pending and rng.random() >= settings.idle:
                entry[1] = offered = True
                getattr(dut, f"{name}__payload").value = pending[0]
            getattr(dut, f"{name}__valid").value = int(offered)
            if offered and first_in is None:
                first_in = cycle
        ready = {name: rng.random() >= settings.stall for name in sinks}
        for name, r in ready.items():
            getattr(dut, f"{name}__ready").value = int(r)
        await RisingEdge(dut.clk)
        for name, entry in state.items():
            if entry[1] and getattr(dut, f"{name}__ready").value:
                entry[0].pop(0)
                entry[1] = False
        for name, layout in sinks.items():
            if ready[name] and getattr(dut, f"{name}__valid").value:
                bits = int(getattr(dut, f"{name}__payload").value)
                received[name].append(layout.from_bits(bits))
                log.take(name, bits)
                last_out = cycle
        cycle += 1
        assert cycle < limit, f"no end after {limit} cycles: the design hangs"
    for name in sources:
        getattr(dut, f"{name}__valid").value = 0
    report()
    return received, first_in, last_out
