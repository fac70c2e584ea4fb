"""One configuration object for every generator parameter and runtime register default.

The same :class:`Config` feeds the golden model, RTL generation, testbenches and reports, so a
parameter set is validated once, in one place, with messages that name the offending field.
Presets live beside this file as TOML (``configs/default.toml``, ``configs/small.toml``).
"""

from __future__ import annotations

import dataclasses
import enum
import tomllib
from importlib import resources
from pathlib import Path

__all__ = ["Mode", "Schedule", "Config", "ConfigError", "preset_names", "load_config",
           "wicsum_total_bits", "slot_bits", "KV_PARAMS", "parameter_range",
           "PARAMETER_DOCS"]


# What each parameter is, one table for every place that says so (the config listing, the
# flow's report, the integrator's top): name -> (unit, meaning).
PARAMETER_DOCS = {
    "hash_bits": ("bits", "bits of a key's random-hyperplane hash (N_hp)"),
    "max_clusters": ("clusters", "entries of the cluster table (HCU and WTU)"),
    "count_bits": ("bits", "width of a cluster's saturating token count"),
    "score_bits": ("bits", "width of a signed cluster score"),
    "exp_frac": ("bits", "mode exp: fraction bits of a log2-unit score"),
    "exp_bits": ("bits", "mode exp: width of an attention weight"),
    "page_tokens": ("tokens", "token slots in a KV page"),
    "max_pages": ("pages", "KV pages in the pool"),
    "kv_bytes": ("bytes", "KV engine: K and V bytes of a token (0: no engine)"),
    "bus_bytes": ("bytes", "KV engine: AXI4 data width"),
    "max_burst": ("beats", "KV engine: longest AXI4 burst"),
    "kv_outstanding": ("bursts", "KV engine: AXI4 bursts in flight"),
    "axi_addr_width": ("bits", "KV engine: AXI4 address width"),
    "digit": ("bits", "hash bits an HCU similarity unit compares a cycle"),
    "hcu_lanes": ("units", "HCU similarity units working in parallel"),
    "hcu_segment": ("bits", "segment of the HCU's early-exit lower bound (0: none)"),
    "wtu_lanes": ("scores", "scores the WTU takes a cycle"),
    "max_buckets": ("buckets", "largest bucket count the WTU supports"),
    "wtu_schedule": ("", "the WTU's selection order: scan (the paper's) or histogram"),
    "th_hd": ("bits", "Hamming threshold: a token joins a cluster at a distance below it"),
    "ratio": ("fraction", "WiCSum ratio: a row keeps its best clusters until their weighted "
                          "score passes this share of the row's total"),
    "buckets": ("buckets", "score buckets the WTU sorts a row into"),
    "mode": ("", "score values: shift (s - min s), clamp (max(s, 0), the paper's), exp "
                 "(attention mass, 2**(s - max s))"),
}


class ConfigError(ValueError):
    """A parameter set is illegal; the message names the field and its value."""


class Mode(enum.IntEnum):
    """How the WTU turns signed scores into non-negative values (SPEC 3)."""

    SHIFT = 0  # v = s - min(s)
    CLAMP = 1  # v = max(s, 0), the paper's raw-score rule for non-negative scores
    EXP = 2    # v = 2**(s - max(s)) in log2-unit scores: attention mass (SPEC 3.1)


class Schedule(enum.IntEnum):
    """Order in which the WTU finds a row's exit bucket (SPEC 5); both give the same bits."""

    SCAN = 0       # the paper's: one selection pass per bucket from the top, stop at the exit
    HISTOGRAM = 1  # one pass that accumulates every bucket's prefix sum at once


def wicsum_total_bits(value_bits: int, count_bits: int, max_clusters: int) -> int:
    """Width of the largest WiCSum total ``S``: every cluster at the largest value and count.
    The RTL's units take raw parameters, so the width is a function of them, used by both."""
    largest = max_clusters * ((1 << value_bits) - 1) * ((1 << count_bits) - 1)
    return max(1, largest.bit_length())


def slot_bits(max_pages: int, page_tokens: int) -> int:
    """Width of a KV slot address; its all-ones value is never a real slot."""
    return (max_pages * page_tokens).bit_length()


def _q16(name: str, value) -> int:
    """A fraction as a person types it (0.3, "0.3", "30%") in unsigned Q0.16, rounded down as
    the docs round it (0.3 -> 19660); an integer string is taken as Q0.16 already."""
    if isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError:
            pass
        try:
            value = float(value[:-1]) / 100 if value.endswith("%") else float(value)
        except ValueError:
            raise ConfigError(f"{name} must be a fraction in [0, 1) (0.3 or 30%) or Q0.16 "
                              f"integer, not {value!r}") from None
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"{name} must be a fraction in [0, 1) (0.3 or 30%) or Q0.16 "
                          f"integer 0..65535, not {value!r}")
    return int(value * (1 << 16))


# Fields that also take a fraction in [0, 1), stored as unsigned Q0.16.
_FRACTIONS = {"ratio"}

# Fields given by name as well as by number, in TOML and on the command line.
_ENUMS = {"mode": Mode, "wtu_schedule": Schedule}

# Legal ranges. Upper bounds keep every exact integer of the golden model inside int64:
# the WTU total is checked separately (see Config._check_total).
_RANGES = {
    # generator parameters
    "hash_bits": (1, 64),
    "max_clusters": (1, 1 << 16),
    "count_bits": (1, 32),
    "score_bits": (2, 32),
    "exp_frac": (0, 6),
    "exp_bits": (1, 24),
    "page_tokens": (1, 1 << 16),
    "max_pages": (1, 1 << 20),
    # the KV memory engine (SPEC 7): kv_bytes 0 leaves it out
    "kv_bytes": (0, 512),
    "bus_bytes": (4, 64),
    "max_burst": (1, 256),
    "kv_outstanding": (1, 256),
    "axi_addr_width": (16, 44),
    # microarchitecture parameters
    "digit": (1, 64),
    "hcu_lanes": (1, 1 << 16),
    "hcu_segment": (0, 64),
    "wtu_lanes": (1, 1 << 16),
    "max_buckets": (1, 1 << 10),
    "wtu_schedule": (0, 1),
    # runtime register defaults
    "th_hd": (0, 65),
    "ratio": (0, (1 << 16) - 1),
    "buckets": (1, 1 << 10),
    "mode": (0, 2),
}

# Fields a vector file must carry (SPEC 6) and those it may carry.
VECTOR_SCALARS = (
    "hash_bits", "max_clusters", "th_hd", "count_bits", "score_bits",
    "ratio", "buckets", "mode", "page_tokens", "max_pages",
)
MICROARCH = ("digit", "hcu_lanes", "hcu_segment", "wtu_lanes", "max_buckets", "wtu_schedule")
# Generator parameters a vector file may leave out (SPEC 6: mode exp's, defaults 4 and 16).
OPTIONAL = ("exp_frac", "exp_bits")
# The KV memory engine's generator parameters. A vector file carries the first three only with
# its ``kv`` array (SPEC 7); the other two are the RTL's alone.
KV_PARAMS = ("kv_bytes", "bus_bytes", "max_burst", "kv_outstanding", "axi_addr_width")
# The run-time settings: registers of the same name (upper case) set them on the DRE.
RUNTIME = ("th_hd", "ratio", "buckets", "mode")


@dataclasses.dataclass(frozen=True)
class Config:
    """Every parameter of the DRE.

    Parameters
    ----------
    hash_bits : int
        Bits per key hash (``N_hp``), 1..64.
    max_clusters : int
        Capacity of the cluster table, shared by the HCU and WTU.
    count_bits : int
        Width of a cluster's saturating token count.
    score_bits : int
        Width of a signed cluster score.
    exp_frac : int
        Mode ``exp``: fraction bits of a log2-unit score, 0..6 (SPEC 3.1).
    exp_bits : int
        Mode ``exp``: width of a value, 1..24; the ROM holds ``2**exp_frac`` such words.
    page_tokens : int
        Token slots per KV page (``P``).
    max_pages : int
        Pages in the KV pool.
    kv_bytes : int
        K and V bytes of a token of one KV head, 1..512, for the KV memory engine (SPEC 7);
        0 (the default) builds the DRE without it.
    bus_bytes : int
        The engine's AXI4 data width in bytes, a power of two 4..64.
    max_burst : int
        Beats of the engine's longest AXI4 burst, 1..256.
    kv_outstanding : int
        AXI4 read (and write) bursts the engine keeps in flight.
    axi_addr_width : int
        Bits of the engine's AXI4 addresses, 16..44.
    digit : int
        Hash bits each HCU similarity unit compares per cycle (1 = bit-serial).
    hcu_lanes : int
        HCU similarity units working in parallel.
    hcu_segment : int
        Bits per segment of the HCU's early-exit lower bound (SPEC 5): a comparison also stops
        once the differing bits so far plus ``|popcount(x_seg) - popcount(h_seg)|`` over the
        whole segments of the digits still to compare reach the bound; a digit holds
        ``digit // hcu_segment`` segments from its least significant bit. 0 (or more than
        ``digit``): the differing bits so far alone.
    wtu_lanes : int
        Scores the WTU handles per cycle.
    max_buckets : int
        Largest runtime bucket count the WTU supports.
    wtu_schedule : Schedule
        The WTU's selection schedule, ``scan`` (0) or ``histogram`` (1).
    th_hd : int
        Reset value of the Hamming threshold register: a token joins at distance ``< th_hd``.
    ratio : int
        Reset value of the WiCSum ratio register, unsigned Q0.16 (0.3 -> 19660); also given
        as a fraction in [0, 1) (``ratio = 0.3`` in TOML, ``--set ratio=0.3``).
    buckets : int
        Reset value of the bucket count register, 1..max_buckets.
    mode : Mode
        Reset value of the score mode register.
    """

    hash_bits: int = 32
    max_clusters: int = 1024
    count_bits: int = 16
    score_bits: int = 16
    exp_frac: int = 4
    exp_bits: int = 16
    page_tokens: int = 16
    max_pages: int = 4096
    kv_bytes: int = 0
    bus_bytes: int = 16
    max_burst: int = 256
    kv_outstanding: int = 8
    axi_addr_width: int = 32
    digit: int = 16
    hcu_lanes: int = 1
    hcu_segment: int = 4
    wtu_lanes: int = 8
    max_buckets: int = 16
    wtu_schedule: Schedule = Schedule.SCAN
    th_hd: int = 7
    ratio: int = 19660
    buckets: int = 16
    mode: Mode = Mode.CLAMP

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            kind = _ENUMS.get(field.name)
            if kind is not None and isinstance(value, str):
                try:
                    value = kind[value.upper()]
                except KeyError:
                    names = " or ".join(f"'{m.name.lower()}'" for m in kind)
                    raise ConfigError(f"{field.name} must be {names}, not {value!r}") from None
            if field.name in _FRACTIONS and isinstance(value, (float, str)):
                value = _q16(field.name, value)
            lo, hi = _RANGES[field.name]
            # bool is an int subclass, but True as a width is a mistake worth refusing
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{field.name} must be an integer, not {value!r}")
            if not lo <= value <= hi:
                raise ConfigError(f"{field.name} must be in {lo}..{hi}, not {value!r}")
            if kind is not None:
                value = kind(value)
            object.__setattr__(self, field.name, value)
        self._check_relations()

    def _check_relations(self):
        if self.digit > self.hash_bits:
            raise ConfigError(f"digit must be in 1..hash_bits={self.hash_bits}, "
                              f"not {self.digit!r}")
        if self.th_hd > self.hash_bits + 1:
            raise ConfigError(f"th_hd must be in 0..hash_bits+1={self.hash_bits + 1}, "
                              f"not {self.th_hd!r}")
        if self.buckets > self.max_buckets:
            raise ConfigError(f"buckets must be in 1..max_buckets={self.max_buckets}, "
                              f"not {self.buckets!r}")
        if self.hcu_lanes > self.max_clusters:
            raise ConfigError(f"hcu_lanes must be in 1..max_clusters={self.max_clusters}, "
                              f"not {self.hcu_lanes!r}")
        if self.wtu_lanes > self.max_clusters:
            raise ConfigError(f"wtu_lanes must be in 1..max_clusters={self.max_clusters}, "
                              f"not {self.wtu_lanes!r}")
        if self.max_pages * self.page_tokens > 1 << 31:
            raise ConfigError(f"max_pages * page_tokens must be at most 2**31, not "
                              f"{self.max_pages} * {self.page_tokens}")
        if self.bus_bytes & (self.bus_bytes - 1):
            raise ConfigError(f"bus_bytes must be a power of two, not {self.bus_bytes!r}")
        if self.kv_bytes and self.kv_region > 1 << self.axi_addr_width:
            raise ConfigError(f"axi_addr_width must address the KV pool's {self.kv_region} "
                              f"bytes (max_pages * page_tokens * stride), not "
                              f"{self.axi_addr_width!r}")
        if self.total_bits > 63:
            raise ConfigError(
                f"max(score_bits, exp_bits) + count_bits + log2(max_clusters) must fit a 63-bit "
                f"WiCSum total, not score_bits={self.score_bits}, exp_bits={self.exp_bits}, "
                f"count_bits={self.count_bits}, "
                f"max_clusters={self.max_clusters} ({self.total_bits} bits)")

    # Derived widths: the RTL sizes its datapath from these, the golden model checks against them.

    @property
    def count_max(self) -> int:
        """Saturation value of a cluster count."""
        return (1 << self.count_bits) - 1

    @property
    def score_min(self) -> int:
        return -(1 << (self.score_bits - 1))

    @property
    def score_max(self) -> int:
        return (1 << (self.score_bits - 1)) - 1

    @property
    def value_bits(self) -> int:
        """Width of an unsigned WTU value ``v``: ``s - min(s)`` spans the whole signed range,
        and a mode ``exp`` value is below ``2**exp_bits``."""
        return max(self.score_bits, self.exp_bits)

    @property
    def exp_table(self) -> tuple[int, ...]:
        """Mode ``exp``'s ROM ``E`` (SPEC 3.1), the same words for the golden model and the
        RTL (``WTU.from_config``)."""
        from .expweight import exp_table
        return exp_table(self.exp_frac, self.exp_bits)

    @property
    def total_bits(self) -> int:
        """Width that holds the largest legal WiCSum total ``S``."""
        return wicsum_total_bits(self.value_bits, self.count_bits, self.max_clusters)

    @property
    def slot_bits(self) -> int:
        """Width of a KV slot address; its all-ones value is never a real slot."""
        return slot_bits(self.max_pages, self.page_tokens)

    @property
    def kv_stride(self) -> int:
        """Bytes from a KV slot to the next: ``kv_bytes`` in whole bus beats (SPEC 7)."""
        from .kv import kv_stride
        return kv_stride(self.kv_bytes, self.bus_bytes)

    @property
    def kv_region(self) -> int:
        """Bytes of the KV pool in memory: every slot's stride."""
        return self.max_pages * self.page_tokens * self.kv_stride

    @property
    def no_slot(self) -> int:
        """The all-ones slot address reported for a token that got no page."""
        return (1 << self.slot_bits) - 1

    def replace(self, **changes) -> "Config":
        """A copy with ``changes`` applied and validated."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            name = sorted(unknown)[0]
            raise ConfigError(f"unknown parameter {name!r}; known: {', '.join(self.names())}")
        return dataclasses.replace(self, **changes)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def as_dict(self) -> dict[str, int]:
        return {name: int(getattr(self, name)) for name in self.names()}

    def to_toml(self) -> str:
        lines = []
        for name in self.names():
            value = getattr(self, name)
            lines.append(f'{name} = "{value.name.lower()}"' if name in _ENUMS
                         else f"{name} = {value}")
        return "\n".join(lines) + "\n"

    @classmethod
    def from_mapping(cls, mapping, *, where: str = "configuration") -> "Config":
        unknown = set(mapping) - set(cls.names())
        if unknown:
            name = sorted(unknown)[0]
            raise ConfigError(f"{where}: unknown parameter {name!r}; "
                              f"known: {', '.join(cls.names())}")
        try:
            return cls(**mapping)
        except ConfigError as error:
            raise ConfigError(f"{where}: {error}") from None


def parameter_range(name: str) -> tuple[int, int]:
    """The legal range of a parameter on its own (relations between them are checked too)."""
    return _RANGES[name]


def preset_names() -> list[str]:
    folder = resources.files(__package__) / "configs"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def load_config(name_or_path: str | Path | None = None) -> Config:
    """Load a preset by name (``default``, ``small``) or a TOML file by path."""
    if name_or_path is None:
        name_or_path = "default"
    path = Path(name_or_path)
    if str(name_or_path) in preset_names():
        text = (resources.files(__package__) / "configs" / f"{name_or_path}.toml").read_text()
        where = f"preset {name_or_path!r}"
    elif path.is_file():
        text = path.read_text()
        where = str(path)
    else:
        raise ConfigError(f"configuration must be a preset ({', '.join(preset_names())}) "
                          f"or a TOML file, not {str(name_or_path)!r}")
    try:
        mapping = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{where}: not valid TOML: {error}") from None
    return Config.from_mapping(mapping, where=where)
