"""Benchmarks that print their figures (never timed tests)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from vrex.golden.config import Config
from vrex.golden.stimulus import WTU_SHAPES, random_hashes
from vrex.golden.hcu import run_hcu
from vrex.golden.wtu import exact_wicsum, run_wtu
from vrex.synth.cells import generic_cells

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
    figures, table = {}, []
    for early_exit in (True, False):
        result, seconds = _timed(lambda: run_hcu(hashes, config, early_exit=early_exit))
        label = "with early exit" if early_exit else "without early exit"
        table.append((f"hcu {tokens} tokens {label}", seconds,
                      f"{tokens / seconds:,.0f} tokens/s, {result.counts.size} clusters, "
                      f"{result.cycles} modelled cycles"))
        figures[f"hcu_seconds_{'ee' if early_exit else 'plain'}"] = seconds
    scores = WTU_SHAPES["uniform"](rng, rows, columns, config)
    counts = rng.integers(0, 64, size=columns)
    _, seconds = _timed(lambda: run_wtu(scores, counts, config))
    table.append((f"wtu {rows} rows x {columns} clusters, bucketed", seconds, ""))
    figures["wtu_seconds"] = seconds
    _, seconds = _timed(lambda: exact_wicsum(scores, counts, config))
    table.append((f"wtu {rows} rows x {columns} clusters, exact sorted", seconds, ""))
    figures["wtu_exact_seconds"] = seconds
    # One table: labels padded to the longest, every time in ms, right-aligned.
    width = max(len(label) for label, _, _ in table)
    print(f"golden model, default configuration ({config.max_clusters} clusters, "
          f"digit {config.digit}, {config.hcu_lanes} HCU lane)")
    for label, seconds, detail in table:
        print(f"  {label:<{width}}  {seconds * 1e3:10.1f} ms" + (f"  ({detail})" if detail
                                                                 else ""))
    return figures


# Issue targets for the comparison-cycle reduction of early exit, by digit width.
HCU_TARGETS = {16: 1.8, 4: 4.0}


def _ratio_verdict(ratio: float, target: float | None) -> str:
    if target is None:
        return ""
    return f"{target}x met" if ratio >= target else f"needs {target}x, reaches {ratio:.3f}x"


def bench_hcu_early_exit(*, digits=(1, 4, 8, 16, 32), lanes=(1, 4, 16), trace=None,
                         name: str = "default trace") -> list[dict]:
    """Comparison cycles per token of the HCU as built (early exit on the segment lower bound,
    ``hcu_segment`` of the default configuration), with early exit on the differing bits so
    far alone (``hcu_segment = 0``, the design before the lower bound) and without early
    exit, on every KV head of ``trace`` (the default synthetic trace if None).

    Cycles come from the golden cycle model, which the cocotb and Amaranth tests hold equal to
    the RTL's measured cycles on every vector.
    """
    from vrex.golden.hcu import HcuModel
    from vrex.golden.stimulus import trace_vectors
    from vrex.golden.trace import generate_trace

    trace = generate_trace() if trace is None else trace
    base = Config()
    streams = [trace_vectors("hcu", trace, base, head=h).arrays["hashes"]
               for h in range(trace.heads)]
    tokens = sum(s.size for s in streams)
    rows = []
    print(f"HCU comparison cycles per token, {name} ({trace.heads} heads x "
          f"{tokens // trace.heads} tokens, th_hd {base.th_hd}, {base.max_clusters} clusters); "
          f"lower bound: popcount gaps of {base.hcu_segment}-bit segments")
    print(f"{'digit':>5} {'lanes':>5} {'bound':>9} {'partial':>9} {'without':>9} "
          f"{'ratio':>6} {'partial':>8}  target (bound vs without)")
    for digit in digits:
        for lane_count in lanes:
            cfg = base.replace(digit=digit, hcu_lanes=lane_count)
            cycles = {"bound": 0, "partial": 0, "without": 0}
            for hashes in streams:
                models = {"bound": HcuModel(cfg),
                          "partial": HcuModel(cfg.replace(hcu_segment=0)),
                          "without": HcuModel(cfg, early_exit=False)}
                for key, model in models.items():
                    model.push(hashes)
                    cycles[key] += model.compare_cycles
            ratio = cycles["without"] / cycles["bound"]
            partial = cycles["without"] / cycles["partial"]
            print(f"{digit:>5} {lane_count:>5} {cycles['bound'] / tokens:>9.2f} "
                  f"{cycles['partial'] / tokens:>9.2f} {cycles['without'] / tokens:>9.2f} "
                  f"{ratio:>5.2f}x {partial:>7.2f}x  "
                  f"{_ratio_verdict(ratio, HCU_TARGETS.get(digit) if lane_count == 1 else None)}")
            rows.append({"digit": digit, "lanes": lane_count, "cycles_ee": cycles["bound"],
                         "cycles_partial": cycles["partial"], "cycles_plain": cycles["without"],
                         "ratio": ratio, "ratio_partial": partial})
    return rows


# Issue targets for the WTU: selection passes per row, and how many times fewer selection
# cycles early exit needs than the same unit making all B passes.
WTU_PASS_TARGET = 3.0
WTU_EARLY_EXIT_TARGET = 5.0


def _wtu_designs(config: Config):
    """The WTU schedules and the baselines, as (label, Amaranth component) pairs."""
    from vrex.golden.config import Schedule
    from vrex.rtl.baselines.sort import SortDatapath
    from vrex.rtl.wtu import WTU

    designs = [("scan", WTU.from_config(config)),
               ("scan, without mode exp", WTU.from_config(config, exp=False)),
               ("scan, no early exit", WTU.from_config(config, early_exit=False)),
               ("histogram", WTU.from_config(config.replace(wtu_schedule=Schedule.HISTOGRAM)))]
    lanes = config.wtu_lanes
    if lanes & (lanes - 1) == 0:
        designs.append(("sort (bitonic)", SortDatapath(
            lanes=lanes, key_bits=config.score_bits + 1, count_bits=config.count_bits,
            total_bits=config.total_bits)))
    return designs


def bench_wtu_schedules(*, rows: int = 16, cells: bool = True,
                        build_root: Path = Path("build/synth"), progress=None) -> dict:
    """Cycles per row and Yosys cell counts of the WTU schedules against two baselines (the
    same unit making all ``B`` passes, and a sort of the row followed by the prefix sum), on
    scores from the default trace (every query batch of both heads), and the distribution of
    exit buckets that decides between the schedules.

    Cycles come from the golden cycle models, which the tests hold equal to the RTL of each
    schedule; the sort baseline's model (``vrex.golden.baselines``) and datapath
    (``rtl/baselines/sort.py``) are pipelined as the WTU is and otherwise drawn in its favour.
    """
    from vrex.golden.baselines import sort_wtu_cycles, sorted_exit_position
    from vrex.golden.trace import generate_trace
    from vrex.golden.wtu import Schedule, wtu_cycles

    trace = generate_trace()
    config = Config()
    labels = ["scan", "scan, no early exit", "histogram", "sort (bitonic)"]
    cycles = dict.fromkeys(labels, 0)
    selection = {"scan": 0, "scan, no early exit": 0}
    exits, total_rows = [], 0
    for batch in _trace_batches(trace, config, rows):
        exit_bucket = batch.result.exit_bucket
        columns = batch.counts.size
        exits += exit_bucket.tolist()
        total_rows += exit_bucket.size
        cycles["scan"] += wtu_cycles(exit_bucket, columns, config,
                                     exit_beat=batch.result.exit_beat)
        cycles["scan, no early exit"] += wtu_cycles(exit_bucket, columns, config,
                                                    early_exit=False)
        cycles["histogram"] += wtu_cycles(exit_bucket, columns, config,
                                          schedule=Schedule.HISTOGRAM)
        position = sorted_exit_position(batch.scores, batch.counts, config)
        cycles["sort (bitonic)"] += sort_wtu_cycles(position, columns, config)
        beats = -(-columns // config.wtu_lanes)
        selection["scan"] += int((exit_bucket * beats + batch.result.exit_beat + 1).sum())
        selection["scan, no early exit"] += exit_bucket.size * config.buckets * beats

    reports = {}
    if cells:
        for label, component in _wtu_designs(config):
            name = (label.replace(" (bitonic)", "").replace(", no early exit", "-all-passes")
                    .replace(", without mode exp", "-no-exp"))
            reports[label] = generic_cells(component, f"wtu-{name}", build_root=build_root,
                                           progress=progress)

    print(f"WTU on the default trace: {total_rows} rows, {config.wtu_lanes} lanes, "
          f"{config.buckets} buckets, ratio {config.ratio / 65536:.3f}, mode "
          f"{config.mode.name.lower()}")
    print(f"  {'design':24s} {'cycles/row':>10s} {'cells':>8s} {'flops':>6s} {'kGE':>8s} "
          f"{'memory bits':>11s}")
    for label in [*labels[:1], "scan, without mode exp", *labels[1:]]:
        report = reports.get(label)
        size = (f"{report.cells:>8d} {report.flops:>6d} {report.kge:>8.2f} "
                f"{report.memory_bits:>11d}"
                if report else f"{'-':>8s} {'-':>6s} {'-':>8s} {'-':>11s}")
        per_row = cycles.get(label, cycles["scan"] if "exp" in label else None)
        print(f"  {label:24s} {per_row / total_rows:>10.1f} {size}")
    if "scan" in reports:
        grown = reports["scan"].kge / reports["scan, without mode exp"].kge - 1
        print(f"  mode exp costs {100 * grown:+.1f}% of the scan WTU's kGE (ROM and shifter a "
              f"lane, the total tree; target at most +15%)")
    by_mode = _cycles_by_mode(trace, config, rows)
    print("  cycles per row by mode (the same trace, log2-unit scores in mode exp):")
    print(f"  {'mode':8s} {'scan':>8s} {'histogram':>10s} {'mean exit bucket':>17s}")
    for mode, figures in by_mode.items():
        print(f"  {mode:8s} {figures['scan']:>8.1f} {figures['histogram']:>10.1f} "
              f"{figures['exit_bucket']:>17.2f}")
    if "sort (bitonic)" in reports:
        print("  (sort: the datapath alone - multipliers, bitonic sorter and merger, prefix "
              "chain - pipelined\n   two levels a stage as the WTU is, without its FSM, row "
              "memories or load-pass logic)")
    histogram = np.bincount(exits, minlength=config.buckets)
    print("  exit bucket:   " + " ".join(f"{b:>4d}" for b in range(config.buckets)))
    print("  rows:          " + " ".join(f"{c:>4d}" for c in histogram))

    passes = np.mean(exits) + 1
    fewer = selection["scan, no early exit"] / selection["scan"]
    whole = cycles["scan, no early exit"] / cycles["scan"]
    verdicts = [
        _verdict(f"scan selection passes per row {passes:.2f}", passes <= WTU_PASS_TARGET,
                 f"target at most {WTU_PASS_TARGET:g}"),
        _verdict(f"selection cycles without early exit / with: {fewer:.1f}x (whole rows "
                 f"{whole:.1f}x)", fewer >= WTU_EARLY_EXIT_TARGET,
                 f"target at least {WTU_EARLY_EXIT_TARGET:g}x"),
    ]
    sort_cycles = cycles["sort (bitonic)"]
    for label in ("scan", "histogram"):
        line = (f"{label} against the sort: {sort_cycles / cycles[label]:.2f}x fewer cycles")
        target = "target: fewer cycles at equal or less area"
        if label in reports and "sort (bitonic)" in reports:
            ratio = reports[label].kge / reports["sort (bitonic)"].kge
            line += f", {ratio:.2f}x the kGE"
            verdicts.append(_verdict(line, cycles[label] < sort_cycles and ratio <= 1, target))
        else:
            verdicts.append(f"{line}; area not measured ({target})")
    for text in verdicts:
        print("  " + text)
    return {"rows": total_rows,
            "cycles_per_row": {k: v / total_rows for k, v in cycles.items()},
            "cycles_per_row_by_mode": by_mode,
            "cells": {k: r.as_dict() for k, r in reports.items()},
            "selection_passes_per_row": float(passes),
            "selection_cycle_ratio": fewer,
            "exit_histogram": histogram.tolist()}


def _trace_batches(trace, config: Config, rows: int):
    """Every WTU query batch of the golden DRE run on each head of ``trace``."""
    from vrex.golden.dre import run_dre
    from vrex.golden.stimulus import trace_vectors
    for head in range(trace.heads):
        a = trace_vectors("dre", trace, config, head=head, rows=rows).arrays
        result = run_dre(a["hashes"], a["frame_end"], a["query_after"], a["query_rows"],
                         a["scores"], config)
        yield from (batch for batch in result.queries if batch is not None)


def _cycles_by_mode(trace, config: Config, rows: int) -> dict:
    """Per mode, the WTU's cycles per row (scan and histogram) and mean exit bucket over every
    query batch of the trace's heads."""
    from vrex.golden.config import Mode
    from vrex.golden.wtu import Schedule, wtu_cycles
    out = {}
    for mode in Mode:
        cfg = config.replace(mode=mode)
        scan = hist = count = exits = 0
        for batch in _trace_batches(trace, cfg, rows):
            r = batch.result
            scan += wtu_cycles(r.exit_bucket, batch.counts.size, cfg, exit_beat=r.exit_beat)
            hist += wtu_cycles(r.exit_bucket, batch.counts.size, cfg,
                               schedule=Schedule.HISTOGRAM)
            count += r.exit_bucket.size
            exits += int(r.exit_bucket.sum())
        out[mode.name.lower()] = {"scan": scan / count, "histogram": hist / count,
                                  "exit_bucket": exits / count}
    return out


def _verdict(figure: str, met: bool, target: str) -> str:
    return f"{figure}: {'met' if met else 'MISSED'} ({target})"


SIM_SPEED_TARGET = 10.0        # Verilator over Icarus, simulated cycles per second


def bench_sim(*, frames: int = 64, build_root: Path = Path("build/bench-sim")) -> dict:
    """Simulated cycles per second of the default DRE with Icarus and with Verilator on one
    end-to-end test (head 0 of a longer default trace), run two ways: the plain-Verilog
    harness (``vrex.testbench.hdl_harness``: the simulator alone) and the cocotb testbench
    (Python drives every stream every cycle). Every run must equal the golden model."""
    from vrex.golden.stimulus import trace_vectors
    from vrex.golden.trace import TraceParams, generate_trace
    from vrex.golden.vectors import compare_outputs, run_golden
    from vrex.testbench.hdl_harness import run_harness
    import xml.etree.ElementTree as ET

    from vrex.rtl.generate import config_key
    from vrex.testbench.runner import results_file, simulate

    config = Config()
    trace = generate_trace(TraceParams(frames=frames, heads=1))
    vectors = trace_vectors("dre", trace, config, head=0)
    golden = run_golden(vectors)
    cycles = int(golden["cycles"])
    figures = {"cycles": cycles, "tokens": int(vectors.arrays["hashes"].size)}
    print(f"DRE simulation speed, default configuration, {figures['tokens']} tokens and "
          f"{vectors.arrays['query_after'].size} queries ({cycles} cycles)")
    print(f"  {'simulator':10s} {'harness cycles/s':>17s} {'cocotb cycles/s':>16s}")
    for sim in ("icarus", "verilator"):
        harness = run_harness(vectors, sim, _fresh(build_root / f"harness-{sim}"))
        out = simulate(vectors, build_root / "out.npz", sim=sim, build_root=build_root)
        # cocotb's own timing of the test, which leaves the build out.
        results = results_file(build_root / f"dre-{config_key('dre', config)}-{sim}")
        seconds = float(ET.parse(results).getroot().find(".//testcase").get("time"))
        if compare_outputs(out, golden):
            raise RuntimeError(f"{sim} cocotb run differs from the golden model")
        figures[sim] = {"harness": harness["cycles_per_second"], "cocotb": cycles / seconds}
        print(f"  {sim:10s} {figures[sim]['harness']:>17,.0f} {figures[sim]['cocotb']:>16,.0f}")
    for way in ("harness", "cocotb"):
        ratio = figures["verilator"][way] / figures["icarus"][way]
        figures[f"ratio_{way}"] = ratio
        print("  " + _verdict(f"Verilator / Icarus, {way}: {ratio:.1f}x",
                              ratio >= SIM_SPEED_TARGET, f"target {SIM_SPEED_TARGET:g}x"))
    return figures


def _fresh(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
