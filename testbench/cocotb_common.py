"""Pieces every cocotb testbench of the DRE shares."""

import dataclasses
import os

from cocotb.triggers import RisingEdge

__all__ = ["Settings", "reset"]


@dataclasses.dataclass
class Settings:
    """What the runner asks of a testbench, passed through the environment."""

    vectors: str
    out: str
    idle: float = 0.0
    stall: float = 0.0
    seed: int = 0

    ENV = {"vectors": "VREX_VECTORS", "out": "VREX_OUT", "idle": "VREX_IDLE",
           "stall": "VREX_STALL", "seed": "VREX_SEED"}

    def to_env(self) -> dict[str, str]:
        return {var: str(getattr(self, field)) for field, var in self.ENV.items()}

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(vectors=os.environ["VREX_VECTORS"], out=os.environ["VREX_OUT"],
                   idle=float(os.environ.get("VREX_IDLE", 0)),
                   stall=float(os.environ.get("VREX_STALL", 0)),
                   seed=int(os.environ.get("VREX_SEED", 0)))


async def reset(dut, cycles: int = 2):
    """Synchronous active-high reset, as Amaranth generates it; inputs must be driven first."""
    dut.rst.value = 1
    for _ in range(cycles):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
