"""The registry of the DRE's units: for each, what the rest of the project dispatches on.

A unit with ``vectors`` has SPEC 6 vector files (golden run and stimulus in
:mod:`vrex.golden.vectors` and :mod:`vrex.golden.stimulus`, a cocotb testbench); every unit has
RTL that synthesis reports on. The RTL and testbench are named as ``module:attribute``
strings, resolved on use, so this layer imports neither (they import it).
"""

from __future__ import annotations

import dataclasses
import importlib

__all__ = ["Unit", "UNITS", "unit", "vector_units"]


@dataclasses.dataclass(frozen=True)
class Unit:
    name: str
    doc: str
    rtl: str                    # "module:Class"; the class has from_config(config, **options)
    vectors: bool = False       # SPEC 6 vector files: golden run, stimulus, testbench
    testbench: str | None = None
    early_exit: bool = False    # from_config takes early_exit=
    in_dre: dict = dataclasses.field(default_factory=dict)  # options as the DRE builds it
    needs: str | None = None    # a parameter that must be non-zero for the unit to exist

    def present(self, config) -> bool:
        """Whether the DRE generated for ``config`` has this unit."""
        return self.needs is None or bool(getattr(config, self.needs))

    def check_present(self, config) -> None:
        """Refuse, naming the parameter, a unit the DRE of ``config`` does not have."""
        if not self.present(config):
            raise ValueError(f"unit {self.name!r} needs {self.needs} > 0, not "
                             f"{getattr(config, self.needs)} (e.g. --set {self.needs}=256)")

    def component_class(self):
        module, name = self.rtl.split(":")
        return getattr(importlib.import_module(module), name)

    def build(self, config, *, early_exit: bool = True, as_in_dre: bool = False, **options):
        """The unit's component for ``config``: on its own (as generated and simulated), or
        ``as_in_dre`` (as the DRE instantiates it, as synthesis reports it)."""
        self.check_present(config)
        if self.early_exit:
            options["early_exit"] = early_exit
        if as_in_dre:
            options.update({k: getattr(config, v) for k, v in self.in_dre.items()})
        return self.component_class().from_config(config, **options)


UNITS = {u.name: u for u in (
    Unit("hcu", "hash-bit cluster unit: tokens' hashes -> cluster ids",
         "vrex.rtl.hcu:HCU", vectors=True, testbench="vrex.testbench.cocotb_hcu",
         early_exit=True, in_dre={"count_lanes": "wtu_lanes"}),
    Unit("wtu", "WiCSum threshold unit: score rows -> selection masks",
         "vrex.rtl.wtu:WTU", vectors=True, testbench="vrex.testbench.cocotb_wtu",
         early_exit=True),
    Unit("controller", "retrieval controller (KVMU): slots, chains and descriptors",
         "vrex.rtl.controller:Controller"),
    Unit("kv", "KV memory engine: K and V stored at their slots, descriptors fetched (AXI4)",
         "vrex.rtl.kv.engine:KvEngine", needs="kv_bytes"),
    Unit("registers", "the Wishbone register file",
         "vrex.rtl.registers:RegisterFile"),
    Unit("dre", "the whole Dynamic Retrieval Engine",
         "vrex.rtl.dre:DRE", vectors=True, testbench="vrex.testbench.cocotb_dre"),
)}


def unit(name: str) -> Unit:
    """The unit called ``name``, or an error naming the choices."""
    try:
        return UNITS[name]
    except KeyError:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}, not {name!r}") from None


def vector_units() -> tuple[str, ...]:
    """The units with SPEC 6 vector files, in registry order."""
    return tuple(name for name, u in UNITS.items() if u.vectors)
