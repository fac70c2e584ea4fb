"""The integrator's top (``rtl/soc_top.py``) seen through the generated DRE's own port names,
so that the DRE's cocotb testbench drives the top unchanged: AXI4-Stream handshakes map to
``valid``/``ready``, a payload is packed from and split into its field ports, ``rst`` drives
the active-low ``aresetn``, ``bus__*`` is ``wb_*``."""

__all__ = ["TopPorts"]


class _Payload:
    """One packed payload over the field ports of the top."""

    def __init__(self, dut, fields: dict):
        self._ports = [(getattr(dut, f["port"]), f["lsb"], f["width"]) for f in fields.values()]

    @property
    def value(self) -> int:
        return sum(int(handle.value) << lsb for handle, lsb, _ in self._ports)

    @value.setter
    def value(self, bits: int) -> None:
        for handle, lsb, width in self._ports:
            handle.value = int(bits) >> lsb & ((1 << width) - 1)


class _ActiveLow:
    def __init__(self, handle):
        self._handle = handle

    @property
    def value(self) -> int:
        return 1 - int(self._handle.value)

    @value.setter
    def value(self, level: int) -> None:
        self._handle.value = 1 - int(level)


class TopPorts:
    """``dut`` (the top) under the generated DRE's port names; ``streams`` is the generator
    JSON's ``streams`` entry."""

    def __init__(self, dut, streams: dict):
        self._dut = dut
        self._map = {"clk": dut.aclk, "rst": _ActiveLow(dut.aresetn)}
        for name, s in streams.items():
            self._map[f"{name}__valid"] = getattr(dut, f"{s['prefix']}_tvalid")
            self._map[f"{name}__ready"] = getattr(dut, f"{s['prefix']}_tready")
            self._map[f"{name}__payload"] = _Payload(dut, s["fields"])

    def __getattr__(self, name: str):
        if name.startswith("bus__"):
            return getattr(self._dut, f"wb_{name[5:]}")
        try:
            return self._map[name]
        except KeyError:
            raise AttributeError(f"the top has no port for {name!r}") from None
