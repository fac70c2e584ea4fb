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


# Issue targets for the comparison-cycle reduction of early exit, by digit width.
HCU_TARGETS = {16: 1.8, 4: 4.0}


def bench_hcu_early_exit(*, digits=(1, 4, 8, 16, 32), lanes=(1, 4, 16)) -> list[dict]:
    """Comparison cycles with early exit against the same HCU without it, on the default
    trace (both heads), for several ``digit`` and ``lanes`` settings.

    Cycles come from the golden cycle model, which the cocotb tests hold equal to the RTL's
    measured cycles on every vector.
    """
    from vrex.golden.hcu import HcuModel
    from vrex.golden.stimulus import trace_vectors
    from vrex.golden.trace import generate_trace

    trace = generate_trace()
    base = Config()
    streams = [trace_vectors("hcu", trace, base, head=h).arrays["hashes"]
               for h in range(trace.heads)]
    tokens = sum(s.size for s in streams)
    rows = []
    print(f"HCU comparison cycles per token, default trace ({trace.heads} heads x "
          f"{tokens // trace.heads} tokens, th_hd {base.th_hd}, {base.max_clusters} clusters)")
    print(f"{'digit':>5} {'lanes':>5} {'early exit':>11} {'without':>9} {'ratio':>6}  target")
    for digit in digits:
        for lane_count in lanes:
            cfg = base.replace(digit=digit, hcu_lanes=lane_count)
            fast = slow = 0
            for hashes in streams:
                with_ee, without = HcuModel(cfg), HcuModel(cfg, early_exit=False)
                with_ee.push(hashes)
                without.push(hashes)
                fast += with_ee.compare_cycles
                slow += without.compare_cycles
            ratio = slow / fast
            target = HCU_TARGETS.get(digit)
            if target is None:
                verdict = ""
            elif ratio >= target:
                verdict = f"{target}x met"
            else:
                verdict = f"{target}x missed by {target - ratio:.2f}x"
            print(f"{digit:>5} {lane_count:>5} {fast / tokens:>11.2f} {slow / tokens:>9.2f} "
                  f"{ratio:>5.2f}x  {verdict}")
            rows.append({"digit": digit, "lanes": lane_count, "cycles_ee": fast,
                         "cycles_plain": slow, "ratio": ratio})
    return rows


def bench_wtu_schedules(*, rows: int = 16) -> dict:
    """Cycles per row of the WTU schedules on scores from the default trace (every query
    batch of both heads), and the distribution of exit buckets that decides between them.

    Cycles come from the golden cycle model, which the tests hold equal to the RTL of each
    schedule.
    """
    from vrex.golden.dre import run_dre
    from vrex.golden.stimulus import trace_vectors
    from vrex.golden.trace import generate_trace
    from vrex.golden.wtu import Schedule, wtu_cycles

    trace = generate_trace()
    config = Config()
    exits, cycles = [], {"scan": 0, "scan, no early exit": 0, "histogram": 0}
    total_rows = 0
    for head in range(trace.heads):
        a = trace_vectors("dre", trace, config, head=head, rows=rows).arrays
        result = run_dre(a["hashes"], a["frame_end"], a["query_after"], a["query_rows"],
                         a["scores"], config)
        for query in result.queries:
            if query is None:
                continue
            exits += query.exit_bucket.tolist()
            total_rows += query.exit_bucket.size
            columns = query.select.size
            for label, kw in (("scan", {}), ("scan, no early exit", {"early_exit": False}),
                              ("histogram", {"schedule": Schedule.HISTOGRAM})):
                cycles[label] += wtu_cycles(query.exit_bucket, columns, config, **kw)
    print(f"WTU on the default trace: {total_rows} rows, {config.wtu_lanes} lanes, "
          f"{config.buckets} buckets, ratio {config.ratio / 65536:.3f}")
    for label, value in cycles.items():
        print(f"  {label:22s} {value / total_rows:8.1f} cycles per row")
    histogram = np.bincount(exits, minlength=config.buckets)
    print("  exit bucket:   " + " ".join(f"{b:>4d}" for b in range(config.buckets)))
    print("  rows:          " + " ".join(f"{c:>4d}" for c in histogram))
    passes = np.mean(exits) + 1
    print(f"  selection passes per row: scan {passes:.2f}, without early exit "
          f"{config.buckets} ({config.buckets / passes:.1f}x more)")
    return {"cycles_per_row": {k: v / total_rows for k, v in cycles.items()},
            "exit_histogram": histogram.tolist()}
