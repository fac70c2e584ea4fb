"""KV memory engine golden model (SPEC 7): where each token's K and V bytes are stored, what a
query's descriptors fetch, and how many AXI4 read bursts that takes, against the same
selection fetched from a token-order layout.

Addresses are bytes from ``kv_base`` (0 in vector files). A token's slot ``s`` holds its
``kv_bytes`` at ``s * stride``, ``stride`` being ``kv_bytes`` rounded up to whole bus beats, so
every token starts on a beat. A region of contiguous bytes is read in INCR bursts of at most
``max_burst`` beats, cut where a burst would cross a 4 KB boundary and nowhere else.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["kv_stride", "KvParams", "KvFetch", "burst_plan", "fetch_kv", "token_order_bursts",
           "store_kv", "AXI_BOUNDARY"]

# AXI4: no burst may cross a 4 KB address boundary.
AXI_BOUNDARY = 4096


def kv_stride(kv_bytes: int, bus_bytes: int) -> int:
    """Bytes from one slot to the next: ``kv_bytes`` rounded up to whole bus beats, so every
    token starts on a beat. The one place this is computed (golden model, Config, RTL)."""
    return -(-kv_bytes // bus_bytes) * bus_bytes


@dataclasses.dataclass(frozen=True)
class KvParams:
    """The engine's parameters (SPEC 7), checked on construction; an error names the field."""

    kv_bytes: int             # K and V bytes of one token of one head, 1..512
    bus_bytes: int            # AXI4 data width in bytes: a power of two, 4..64
    max_burst: int            # beats of the longest burst, 1..256

    def __post_init__(self):
        for name, lo, hi in (("kv_bytes", 1, 512), ("bus_bytes", 4, 64), ("max_burst", 1, 256)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                    or not lo <= value <= hi:
                raise ValueError(f"{name} must be an integer in [{lo}, {hi}], not {value!r}")
        if self.bus_bytes & (self.bus_bytes - 1):
            raise ValueError(f"bus_bytes must be a power of two, not {self.bus_bytes}")

    @property
    def stride(self) -> int:
        """Bytes from one slot to the next: ``kv_bytes`` in whole beats."""
        return kv_stride(self.kv_bytes, self.bus_bytes)

    @property
    def beats(self) -> int:
        """Beats of one token."""
        return self.stride // self.bus_bytes


def burst_plan(start: int, length: int, params: KvParams) -> list[tuple[int, int]]:
    """``(address, beats)`` of the bursts that read ``length`` bytes from beat-aligned
    ``start``: as long as ``max_burst`` allows, each cut short only where it would cross a
    4 KB boundary."""
    bus = params.bus_bytes
    if start % bus or length % bus or length < 0:
        raise ValueError(f"a region must be whole beats: start {start}, length {length}, "
                         f"bus_bytes {bus}")
    bursts, address, end = [], start, start + length
    while address < end:
        to_boundary = (AXI_BOUNDARY - address % AXI_BOUNDARY) // bus
        beats = min(params.max_burst, to_boundary, (end - address) // bus)
        bursts.append((address, beats))
        address += beats * bus
    return bursts


@dataclasses.dataclass
class KvFetch:
    """What a run's descriptors fetch: every token's bytes in descriptor order, its slot and
    query, and the bursts of the cluster-paged layout (SPEC 7's vector keys) and of the
    token-order baseline."""

    fetched: np.ndarray        # uint8[M, kv_bytes]
    fetched_slot: np.ndarray   # int64[M]
    fetched_query: np.ndarray  # int64[M]
    bursts: int
    baseline_bursts: int
    beats: int                 # data beats read (the same in both layouts)

    def as_dict(self) -> dict[str, np.ndarray]:
        """The vector-file keys (SPEC 7)."""
        return {"fetched": self.fetched, "fetched_slot": self.fetched_slot,
                "bursts": np.int64(self.bursts)}


def _check_run(kv, slot, descriptors, params: KvParams, page_tokens: int) -> tuple:
    kv = np.asarray(kv)
    slot = np.asarray(slot, dtype=np.int64)
    descriptors = np.asarray(descriptors, dtype=np.int64).reshape(-1, 3)
    if kv.dtype != np.uint8 or kv.ndim != 2 or kv.shape != (slot.size, params.kv_bytes):
        raise ValueError(f"kv must be uint8[{slot.size}, kv_bytes={params.kv_bytes}] (one row "
                         f"per token), not {kv.dtype}{list(kv.shape)}")
    placed = slot[slot >= 0]
    if np.unique(placed).size != placed.size:
        raise ValueError("slot: a slot is handed out twice")
    if np.any(descriptors[:, 2] < 1) or np.any(descriptors[:, 2] > page_tokens):
        raise ValueError(f"descriptors: tokens_in_page must be 1..page_tokens={page_tokens}")
    return kv, slot, descriptors


def store_kv(memory: bytearray, kv, slot, params: KvParams, base: int = 0) -> bytearray:
    """The memory image after the store: each token with a slot (``slot`` -1: none) has its
    ``kv_bytes`` at ``base + slot * stride``; nothing else is written (the stride's padding
    included)."""
    for row, s in zip(np.asarray(kv, dtype=np.uint8), np.asarray(slot).tolist()):
        if s >= 0:
            at = base + s * params.stride
            memory[at:at + params.kv_bytes] = row.tobytes()
    return memory


def fetch_kv(kv, slot, descriptors, params: KvParams, page_tokens: int) -> KvFetch:
    """Store every token with a slot (``slot`` -1: none, nothing written), then fetch each
    descriptor ``(query, page, tokens)``: the tokens at slots ``page * page_tokens`` onwards,
    in slot order, one burst plan per descriptor."""
    kv, slot, descriptors = _check_run(kv, slot, descriptors, params, page_tokens)
    token_of = {int(s): t for t, s in enumerate(slot.tolist()) if s >= 0}
    rows, slots, queries, bursts, beats = [], [], [], 0, 0
    for query, page, tokens in descriptors.tolist():
        first = page * page_tokens
        for s in range(first, first + tokens):
            if s not in token_of:
                raise ValueError(f"descriptors: query {query} fetches slot {s}, which no "
                                 f"token holds")
            rows.append(kv[token_of[s]])
            slots.append(s)
            queries.append(query)
        bursts += len(burst_plan(first * params.stride, tokens * params.stride, params))
        beats += tokens * params.beats
    fetched = np.array(rows, dtype=np.uint8).reshape(-1, params.kv_bytes)
    baseline = token_order_bursts([token_of[s] for s in slots], queries, params)
    return KvFetch(fetched=fetched, fetched_slot=np.array(slots, dtype=np.int64),
                   fetched_query=np.array(queries, dtype=np.int64), bursts=bursts,
                   baseline_bursts=baseline, beats=beats)


def token_order_bursts(tokens, queries, params: KvParams) -> int:
    """Bursts that fetch the same tokens from a token-order layout (token ``t`` at
    ``t * stride``): per query, one region per maximal run of consecutive tokens, cut by the
    same two rules."""
    total = 0
    by_query: dict[int, list[int]] = {}
    for token, query in zip(tokens, queries):
        by_query.setdefault(int(query), []).append(int(token))
    for chosen in by_query.values():
        chosen = sorted(set(chosen))
        run_start = previous = chosen[0] if chosen else None
        for token in chosen[1:] + [None]:
            if token is not None and token == previous + 1:
                previous = token
                continue
            count = previous - run_start + 1
            total += len(burst_plan(run_start * params.stride, count * params.stride, params))
            run_start = previous = token
    return total
