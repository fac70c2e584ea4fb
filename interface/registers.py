"""The DRE's registers: one table that the register file, the register map documents, the
testbenches and the host driver all read, and :class:`RegisterMap` to pack and unpack their
named fields (no hand-written shifts anywhere else)."""

from __future__ import annotations

import dataclasses
import numbers

from amaranth.hdl import Value

__all__ = ["Register", "RegisterMap", "dre_registers", "register_addr_width", "kv_base_bits",
           "ID_MAGIC", "TIMEOUT_MAX",
           "COUNTERS", "PARAMETERS"]

ID_MAGIC = 0x56524558            # "VREX"

# The score watchdog waits 2**TIMEOUT to 2**(TIMEOUT + 1) cycles, TIMEOUT up to 24: by default
# a slow host (a UART bridge at 12 MHz) has over a second between score beats. A power of two
# from the cycle count: a 5-bit register, no counter (the iCEBreaker's LCs are nearly all
# used).
TIMEOUT_MAX = 24


@dataclasses.dataclass(frozen=True)
class Register:
    name: str           # upper case; the register file's member is its lower-case name
    offset: int         # byte address
    access: str         # "ro": read only; "rw": read/write; "w1": write-one strobe
    width: int
    doc: str
    reset: int = 0      # "rw" only
    lo: int = 0         # "rw" writes are clamped to lo..hi, and read back as stored
    hi: int | None = None
    fields: tuple = ()  # (name, lowest bit, width) of named bit fields, if any
    constant: int | None = None     # "ro" only: the value it always reads, if fixed


def dre_registers(config) -> list[Register]:
    """The register map of the DRE generated for ``config``."""
    c = config
    regs = [
        ("ID", "ro", 32, f"Reads {ID_MAGIC:#010x} (\"VREX\"): the DRE is there."),
        ("CTRL", "w1", 1, "Bit 0 CLEAR: forget every cluster and page, clear the overflow "
                          "flags and counters once the DRE is idle (STATUS.BUSY low)."),
        ("STATUS", "ro", 5, "Bit 0 BUSY: a token, query or clear in progress. Bit 1 "
                            "CLUSTER_OVERFLOW, bit 2 PAGE_OVERFLOW (sticky until CLEAR). "
                            "Bit 3 CLEAR_PENDING. Bit 4 PROTOCOL_ERROR: a query's score "
                            "stream was cut, the cause in ERROR (sticky until CLEAR)."),
        ("TH_HD", "rw", (c.hash_bits + 1).bit_length(),
         "Hamming threshold: a token joins a cluster at distance below it. Sampled per token."),
        ("RATIO", "rw", 16, "WiCSum ratio, unsigned Q0.16 (0.3 = 19660). Sampled per query."),
        ("BUCKETS", "rw", c.max_buckets.bit_length(), "WTU buckets B. Sampled per query."),
        ("MODE", "rw", 2, "Score values: 0 shift (s - min s), 1 clamp (max(s, 0)), 2 exp "
                          "(2**(s - max s), log2-unit scores). Sampled per query."),
        ("TOKENS", "ro", 32, "Tokens clustered since CLEAR (wraps)."),
        ("CLUSTERS", "ro", 32, "Clusters in the table."),
        ("PAGES", "ro", 32, "KV pages handed out."),
        ("QUERIES", "ro", 32, "Queries answered since CLEAR (wraps)."),
        ("DESCRIPTORS", "ro", 32, "Descriptors emitted since CLEAR (wraps)."),
        ("CYCLES", "ro", 32, "Clock cycles since CLEAR (wraps)."),
        ("HASH_BITS", "ro", 32, "Generator parameter hash_bits."),
        ("MAX_CLUSTERS", "ro", 32, "Generator parameter max_clusters."),
        ("MAX_PAGES", "ro", 32, "Generator parameter max_pages."),
        ("PAGE_TOKENS", "ro", 32, "Generator parameter page_tokens."),
        ("LANES", "ro", 32, "Generator parameters: hcu_lanes (bits 15..0), wtu_lanes "
                            "(bits 31..16)."),
        ("ERROR", "ro", 32, "Host faults since CLEAR (docs/dre.md): bit 0 LAST_EARLY, a "
                            "score beat with last that did not end a row; bit 1 "
                            "SCORE_TIMEOUT, no score beat for over 2**TIMEOUT cycles while one "
                            "was due; bits 31..16 QUERY, the first cut query's number since "
                            "CLEAR (wraps). Each cut query is answered with an empty selection."),
        ("TIMEOUT", "rw", TIMEOUT_MAX.bit_length(),
         f"A query waiting for its next score beat is cut (SCORE_TIMEOUT) after more than "
         f"2**TIMEOUT and at most 2**(TIMEOUT + 1) cycles; 0..{TIMEOUT_MAX}, default "
         f"{TIMEOUT_MAX}. In force at once."),
    ]
    if c.kv_bytes:                      # the KV memory engine (SPEC 7)
        regs.append(("KV_BASE", "rw", kv_base_bits(c),
                     "KV memory engine: bus address of KV slot 0 in 4 KB units (kv_base = "
                     "KV_BASE * 4096). Write it while no token is stored or fetched."))
    resets = {"TH_HD": (c.th_hd, 0, c.hash_bits + 1), "RATIO": (c.ratio, 0, 65535),
              "BUCKETS": (c.buckets, 1, c.max_buckets), "MODE": (int(c.mode), 0, 2),
              "TIMEOUT": (TIMEOUT_MAX, 0, TIMEOUT_MAX)}
    fields = {"CTRL": (("CLEAR", 0, 1),),
              "STATUS": (("BUSY", 0, 1), ("CLUSTER_OVERFLOW", 1, 1), ("PAGE_OVERFLOW", 2, 1),
                         ("CLEAR_PENDING", 3, 1), ("PROTOCOL_ERROR", 4, 1)),
              "ERROR": (("LAST_EARLY", 0, 1), ("SCORE_TIMEOUT", 1, 1), ("QUERY", 16, 16)),
              "LANES": (("HCU_LANES", 0, 16), ("WTU_LANES", 16, 16))}
    # What the constant registers read: the magic, and the generator's parameters.
    constants = {"ID": ID_MAGIC, "HASH_BITS": c.hash_bits, "MAX_CLUSTERS": c.max_clusters,
                 "MAX_PAGES": c.max_pages, "PAGE_TOKENS": c.page_tokens,
                 "LANES": _pack_int(fields["LANES"], HCU_LANES=c.hcu_lanes,
                                    WTU_LANES=c.wtu_lanes)}
    out = []
    for i, (name, access, width, doc) in enumerate(regs):
        reset, lo, hi = resets.get(name, (0, 0, None))
        out.append(Register(name, 4 * i, access, width, doc, reset, lo, hi,
                            fields.get(name, ()), constants.get(name)))
    return out


def kv_base_bits(config) -> int:
    """Width of KV_BASE: the 4 KB block number of an ``axi_addr_width``-bit address."""
    return min(32, config.axi_addr_width - 12)


def _pack_int(fields, **values) -> int:
    """Integer ``values`` placed in their named ``fields``; each must fit its field."""
    packed = 0
    for name, lsb, width in fields:
        if name in values:
            value = int(values.pop(name))
            if not 0 <= value < 1 << width:
                raise ValueError(f"field {name} is {width} bits wide: {value} does not fit")
            packed |= value << lsb
    if values:
        raise KeyError(f"no field {', '.join(values)}")
    return packed


def register_addr_width(registers: list[Register]) -> int:
    """Width of the Wishbone word address that reaches every register."""
    return max(1, (max(r.offset for r in registers) // 4).bit_length())

# Read-only registers: what the DRE counts since CLEAR, and the generator parameters it
# reports.
COUNTERS = ("TOKENS", "CLUSTERS", "PAGES", "QUERIES", "DESCRIPTORS", "CYCLES")
PARAMETERS = ("HASH_BITS", "MAX_CLUSTERS", "MAX_PAGES", "PAGE_TOKENS", "LANES")


class RegisterMap:
    """The registers of the DRE generated for ``config``, by name.

    ``pack`` places named field values where the table says (Python ints give an int,
    Amaranth values a value); ``unpack`` reads them back out of a register word."""

    def __init__(self, config):
        self.config = config
        self.registers = dre_registers(config)
        self._by_name = {r.name: r for r in self.registers}

    def __getitem__(self, name: str) -> Register:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"register {name!r}: not one of {', '.join(self._by_name)}") \
                from None

    def __iter__(self):
        return iter(self.registers)

    def offset(self, name: str) -> int:
        """Byte address of a register."""
        return self[name].offset

    def field(self, register: str, name: str) -> tuple[int, int]:
        """``(lowest bit, width)`` of a named field."""
        for field, lsb, width in self[register].fields:
            if field == name:
                return lsb, width
        raise KeyError(f"register {register} has no field {name!r}")

    def pack(self, register: str, **fields):
        for name in fields:
            self.field(register, name)                  # a field it has, or an error
        if all(isinstance(v, numbers.Integral) for v in fields.values()):
            try:
                return _pack_int(self[register].fields, **fields)
            except ValueError as error:
                raise ValueError(f"{register}.{error.args[0].removeprefix('field ')}") \
                    from None
        packed = 0
        for name, value in fields.items():
            packed = packed | (Value.cast(value) << self.field(register, name)[0])
        return packed

    def unpack(self, register: str, value: int) -> dict[str, int]:
        return {name: value >> lsb & ((1 << width) - 1)
                for name, lsb, width in self[register].fields}

    def parameter_values(self) -> dict[str, int]:
        """What each parameter register of this configuration's DRE reads."""
        return {name: self[name].constant for name in PARAMETERS}
