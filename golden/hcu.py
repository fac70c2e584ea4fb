"""HCU golden model: leader clustering of hashes by Hamming distance (SPEC 2) and its cycles.

The functional rule and the cycle model sit side by side: the cycle model walks the same
comparisons in the order the hardware makes them (SPEC 5) and counts the cycles they take,
with early exit or without it. See docs/golden.md for the schedule in prose.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .config import Config

__all__ = ["HcuResult", "HcuModel", "run_hcu", "HCU_TOKEN_OVERHEAD", "HCU_LATENCY"]

# Cycles the HCU spends on a token outside its comparisons: the id leaves one cycle after the
# last comparison, and the next hash is taken in that same cycle (rtl/hcu.py). The first hash
# of a stream adds one cycle. The cocotb and Amaranth tests hold the RTL to this model.
HCU_TOKEN_OVERHEAD = 1
HCU_LATENCY = 1


def digits(hash_bits: int, digit: int) -> int:
    """Cycles one full comparison takes: ``ceil(hash_bits / digit)``."""
    return -(-hash_bits // digit)


@dataclasses.dataclass
class HcuResult:
    """Outputs of one HCU run (SPEC 6 ``hcu`` keys)."""

    cluster: np.ndarray        # int64[N]: cluster id per token
    counts: np.ndarray         # int64[n]: saturating token count per cluster
    cluster_hash: np.ndarray   # uint64[n]: leader hash per cluster
    cluster_overflow: bool     # sticky: some token was forced into a cluster
    cycles: int                # cycle model: first input beat to last output beat

    def as_dict(self) -> dict[str, np.ndarray]:
        return {
            "cluster": self.cluster,
            "counts": self.counts,
            "cluster_hash": self.cluster_hash,
            "cluster_overflow": np.bool_(self.cluster_overflow),
            "cycles": np.int64(self.cycles),
        }


class HcuModel:
    """The cluster table of one HCU, fed token by token in arrival order.

    Parameters
    ----------
    config : Config
        Widths, table size, ``digit``, ``hcu_lanes`` and the ``th_hd`` in force.
    early_exit : bool
        Count cycles with the early-exit comparators (the design) or without them (a
        baseline for benchmarks). The clusters chosen are the same either way.

    Members
    -------
    n : int
        Clusters founded so far.
    counts, hashes : numpy.ndarray
        The first ``n`` table entries (counts saturated at ``2**count_bits - 1``).
    overflow : bool
        Sticky ``cluster_overflow`` flag.
    compare_cycles : int
        Cycles spent in comparisons so far.
    tokens : int
        Tokens processed so far.
    """

    # Elements of a (tokens x clusters) distance block; bounds the memory of one step.
    _BLOCK = 1 << 16

    def __init__(self, config: Config, *, early_exit: bool = True):
        self.config = config
        self.early_exit = early_exit
        self._hashes = np.zeros(config.max_clusters, dtype=np.uint64)
        self._joins = np.zeros(config.max_clusters, dtype=np.int64)
        self.n = 0
        self.overflow = False
        self.compare_cycles = 0
        self.tokens = 0

    @property
    def hashes(self) -> np.ndarray:
        return self._hashes[:self.n].copy()

    @property
    def counts(self) -> np.ndarray:
        return np.minimum(self._joins[:self.n], self.config.count_max)

    @property
    def cycles(self) -> int:
        """Cycles from the first token in to the last id out, with the input never starved."""
        if self.tokens == 0:
            return 0
        return self.compare_cycles + self.tokens * HCU_TOKEN_OVERHEAD + HCU_LATENCY

    def push(self, hashes) -> np.ndarray:
        """Cluster ``hashes`` in order; return the cluster id of each."""
        hashes = np.asarray(hashes, dtype=np.uint64).reshape(-1)
        if self.config.hash_bits < 64 and hashes.size and \
                int(hashes.max()) >> self.config.hash_bits:
            raise ValueError(f"hashes must fit in hash_bits={self.config.hash_bits} bits")
        ids = np.empty(hashes.size, dtype=np.int64)
        seen = np.empty(hashes.size, dtype=np.int64)   # table size each token arrives to
        step = max(1, self._BLOCK // max(1, self.config.max_clusters))
        for start in range(0, hashes.size, step):
            stop = min(start + step, hashes.size)
            self._assign(hashes[start:stop], ids[start:stop], seen[start:stop])
        np.add.at(self._joins, ids, 1)
        self.compare_cycles += self._compare_cycles(hashes, seen)
        self.tokens += hashes.size
        return ids

    def _assign(self, x, ids, seen):
        """SPEC 2 for a block of tokens, vectorised between the moments a cluster is founded.

        Joins never change the table (the leader hash stays), so a block is compared with the
        table once; each new cluster then only updates the tokens after its founder.
        """
        cfg = self.config
        big = cfg.hash_bits + 1
        if self.n:
            dist = np.bitwise_count(x[:, None] ^ self._hashes[None, :self.n])
            best_c = np.argmin(dist, axis=1)           # first minimum: ties to the smallest id
            best_d = dist[np.arange(x.size), best_c].astype(np.int64)
        else:
            best_c = np.zeros(x.size, dtype=np.int64)
            best_d = np.full(x.size, big, dtype=np.int64)
        i = 0
        while i < x.size:
            if self.n == cfg.max_clusters:
                # Table full: the nearest cluster takes every token, within threshold or not.
                ids[i:] = best_c[i:]
                seen[i:] = self.n
                if (best_d[i:] >= cfg.th_hd).any():
                    self.overflow = True
                return
            far = np.flatnonzero(best_d[i:] >= cfg.th_hd)
            j = x.size if far.size == 0 else i + int(far[0])
            ids[i:j] = best_c[i:j]                     # within threshold: join the nearest
            seen[i:j] = self.n
            if j == x.size:
                return
            # Token j founds cluster n, led by its own hash.
            c = self.n
            self._hashes[c] = x[j]
            ids[j], seen[j] = c, c
            self.n = c + 1
            rest = slice(j + 1, x.size)
            d_new = np.bitwise_count(x[rest] ^ x[j]).astype(np.int64)
            nearer = d_new < best_d[rest]              # strictly: ties keep the older cluster
            best_d[rest] = np.where(nearer, d_new, best_d[rest])
            best_c[rest] = np.where(nearer, c, best_c[rest])
            i = j + 1

    def _compare_cycles(self, x, seen) -> int:
        """Cycles the similarity units spend on these tokens (SPEC 5 schedule)."""
        cfg = self.config
        lanes = cfg.hcu_lanes
        steps = digits(cfg.hash_bits, cfg.digit)
        groups_seen = -(-seen // lanes)
        if not self.early_exit:
            return int(groups_seen.sum()) * steps
        total = 0
        step = max(1, self._BLOCK // max(1, self.n))
        for start in range(0, x.size, step):
            block = slice(start, min(start + step, x.size))
            total += self._early_exit_cycles(x[block], seen[block])
        return total

    def _early_exit_cycles(self, x, seen) -> int:
        cfg = self.config
        lanes = cfg.hcu_lanes
        ncols = int(seen.max(initial=0))
        if ncols == 0:
            return 0
        groups = -(-ncols // lanes)
        width = groups * lanes
        # Distances fit a byte (hash_bits <= 64); small dtypes keep this memory-bound pass fast.
        big = np.uint8(cfg.hash_bits + 1)
        table = np.zeros(width, dtype=np.uint64)
        table[:ncols] = self._hashes[:ncols]
        xor = x[:, None] ^ table[None, :]
        present = np.arange(width, dtype=np.int64)[None, :] < seen[:, None]
        dist = np.where(present, np.bitwise_count(xor), big)
        # The bound a group compares against: the best distance of the earlier groups, starting
        # from th_hd while the table has room and from hash_bits + 1 once it is full.
        bound0 = np.where(seen == cfg.max_clusters, big, np.uint8(cfg.th_hd))
        if lanes == 1:
            group_min = dist
        else:
            group_min = dist.reshape(x.size, groups, lanes).min(axis=2)
        bounds = np.empty((x.size, groups), dtype=np.uint8)
        bounds[:, 0] = bound0
        np.minimum.accumulate(group_min[:, :-1], axis=1, out=bounds[:, 1:])
        np.minimum(bounds[:, 1:], bound0[:, None], out=bounds[:, 1:])
        # A bound of zero ends the search: nothing can be nearer than distance 0.
        bound = bounds if lanes == 1 else np.repeat(bounds, lanes, axis=1)
        active = present & (bound > 0)
        # A lane stops after the digit that takes its partial distance to the bound, i.e. the
        # digit holding the bound-th differing bit (LSB first); otherwise it runs all digits.
        steps = digits(cfg.hash_bits, cfg.digit)
        if segments_per_digit(cfg):
            exit_step = _bounded_exit_step(x, table, xor, bound, cfg)
        else:
            exit_step = np.where(dist >= bound, _exit_step(xor, bound, cfg), np.uint8(steps))
        exit_step = np.where(active, exit_step, np.uint8(0))
        if lanes > 1:
            exit_step = exit_step.reshape(x.size, groups, lanes).max(axis=2)
        return int(exit_step.sum(dtype=np.int64))


def segments_per_digit(cfg: Config) -> int:
    """Whole ``hcu_segment``-bit segments in a digit: 0 when the lower bound is off."""
    return cfg.digit // cfg.hcu_segment if cfg.hcu_segment else 0


def _mask(lo: int, width: int) -> np.uint64:
    """Bits ``lo .. lo + width - 1`` of a 64-bit word."""
    return np.uint64((((1 << width) - 1) << lo) & ((1 << 64) - 1))


def _bounded_exit_step(x, table, xor, bound, cfg: Config) -> np.ndarray:
    """Digit step (1-based) after which the lower bound first reaches ``bound`` (SPEC 5):
    ``LB_s`` = the differing bits of digits ``0..s`` plus, for each later digit ``t``, its gap
    ``l_t = sum |popcount(x_seg) - popcount(h_seg)|`` over its whole segments. ``LB_s`` never
    falls and ends at the distance, so the step is one plus the number of ``s`` before the
    last with ``LB_s < bound`` (all of them, when the distance is below the bound)."""
    steps = digits(cfg.hash_bits, cfg.digit)
    seg, per = cfg.hcu_segment, segments_per_digit(cfg)
    # The gaps of the digits after s (suffix sums of l_t), from the last digit down.
    ahead = np.zeros(xor.shape, dtype=np.int16)
    after = [None] * steps
    for t in reversed(range(steps)):
        after[t] = ahead.copy()
        for k in range(per):
            lo = t * cfg.digit + k * seg
            if lo >= 64:
                continue
            m = _mask(lo, seg)
            gap = (np.bitwise_count(x & m).astype(np.int16)[:, None]
                   - np.bitwise_count(table & m).astype(np.int16)[None, :])
            ahead += np.abs(gap)
    step = np.ones(xor.shape, dtype=np.uint8)
    for s in range(steps - 1):
        lower = np.bitwise_count(xor & _mask(0, (s + 1) * cfg.digit)).astype(np.int16) + after[s]
        step += lower < bound
    return step


def _exit_step(xor: np.ndarray, bound: np.ndarray, cfg: Config) -> np.ndarray:
    """Digit step (1-based) at which the partial distance first reaches ``bound``.

    Only meaningful where the full distance reaches the bound; garbage (but cheap) elsewhere.
    """
    steps = digits(cfg.hash_bits, cfg.digit)
    deepest = int(np.minimum(bound, np.uint8(cfg.hash_bits)).max(initial=1))
    if steps - 1 <= deepest:
        # Few digits: count the digit prefixes whose partial distance is still below the bound.
        step = np.ones(xor.shape, dtype=np.uint8)
        for k in range(1, steps):
            prefix = np.uint64((1 << (k * cfg.digit)) - 1)
            step += np.bitwise_count(xor & prefix) < bound
        return step
    # Many digits: find the bound-th differing bit by clearing the lowest one bound-1 times.
    v = xor.copy()
    one = np.uint64(1)
    for i in range(1, deepest):
        np.copyto(v, v & (v - one), where=bound > i)
    lowest = v & (~v + one)
    return (np.bitwise_count(lowest - one) // np.uint8(cfg.digit) + np.uint8(1)).astype(np.uint8)


def run_hcu(hashes, config: Config, *, early_exit: bool = True) -> HcuResult:
    """Cluster a whole stream of hashes from an empty table."""
    model = HcuModel(config, early_exit=early_exit)
    ids = model.push(hashes)
    return HcuResult(
        cluster=ids,
        counts=model.counts,
        cluster_hash=model.hashes,
        cluster_overflow=model.overflow,
        cycles=model.cycles,
    )
