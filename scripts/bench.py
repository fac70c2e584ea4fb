"""Benchmarks that print their figures (never timed tests)."""

from __future__ import annotations

import time

import numpy as np

from vrex.golden.config import Config
from vrex.golden.stimulus import WTU_SHAPES, random_hashes
from vrex.golden.hcu import run_hcu
from vrex.golden.wtu import exact_wicsum, run_wtu

__all__ = ["bench_golden"]


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def bench_golden(*, tokens: int = 100_000, rows: int = 64, columns: int = 1024) -> dict:
    """Golden-model wall time on a large ``hcu`` and ``wtu`` vector, default configuration."""
    config = Config()
    rng = np.random.default_rng(1)
    # Hashes around 3x as many leaders as the table holds: the table fills, then every token
    # is a forced join searched against all clusters, the slowest path of the model.
    hashes = random_hashes(rng, config, tokens, leaders=3 * config.max_clusters, flips=3)
    figures = {}
    print(f"golden model, default configuration ({config.max_clusters} clusters, "
          f"digit {config.digit}, {config.hcu_lanes} HCU lane)")
    for early_exit in (True, False):
        result, seconds = _timed(lambda: run_hcu(hashes, config, early_exit=early_exit))
        label = "with early exit" if early_exit else "without early exit"
        print(f"  hcu {tokens} tokens {label}: {seconds:6.2f} s "
              f"({tokens / seconds:,.0f} tokens/s), {result.counts.size} clusters, "
              f"{result.cycles} modelled cycles")
        figures[f"hcu_seconds_{'ee' if early_exit else 'plain'}"] = seconds
    scores = WTU_SHAPES["uniform"](rng, rows, columns, config)
    counts = rng.integers(0, 64, size=columns)
    _, seconds = _timed(lambda: run_wtu(scores, counts, config))
    print(f"  wtu {rows} rows x {columns} clusters, bucketed: {seconds * 1e3:8.1f} ms")
    figures["wtu_seconds"] = seconds
    _, seconds = _timed(lambda: exact_wicsum(scores, counts, config))
    print(f"  wtu {rows} rows x {columns} clusters, exact sorted: {seconds * 1e3:8.1f} ms")
    figures["wtu_exact_seconds"] = seconds
    return figures
