"""``vrex explore`` and ``vrex sweep --ray`` on the command line: the executor a study runs on,
the axes as typed, and the real model's trace that accuracy is measured on."""

from __future__ import annotations

from pathlib import Path

from vrex.golden.config import Config

from .argtypes import integer, natural, parse_int

__all__ = ["add_executor_args", "add_study_args", "executor_of", "add_explore_parser",
           "real_traces"]


def add_executor_args(p) -> None:
    p.add_argument("--jobs", type=integer, default=2,
                   help="points at a time on this machine (default 2; with --ray auto and no "
                        "cluster running, the local Ray instance's CPUs)")
    p.add_argument("--ray", metavar="ADDRESS",
                   help="run the points on a Ray cluster: auto (the one this machine belongs "
                        "to, else a local instance), HOST:PORT or ray://HOST:PORT; needs pip "
                        "install -e \".[cluster]\"")


def add_study_args(p, out: str, add_build_arg) -> None:
    """What a study over many configurations (sweep, explore) shares: where its tables and
    plot go, where its points run, its synthesis cache."""
    p.add_argument("--out", default=out, help=f"table and plot directory (default {out})")
    p.add_argument("--no-plot", action="store_true", help="tables only")
    add_executor_args(p)
    add_build_arg(p, "synth")


def executor_of(args, progress):
    """The executor ``--ray`` and ``--jobs`` ask for; say which."""
    from vrex.synth.executor import executor_for
    executor = executor_for(args.ray, args.jobs, progress=progress)
    progress(f"points on {executor.name}")
    return executor


def parse_axes(items: list[str]) -> dict:
    """``NAME=V1,V2,...`` per item: integers as typed (1_024, 0x400), words (mode=exp) and
    fractions (ratio=0.3) left to the configuration to take or refuse."""
    axes = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not values:
            raise ValueError(f"--axis must be NAME=V1,V2,..., not {item!r}")
        if name not in Config.names():
            raise ValueError(f"--axis {name!r}: no such parameter; known: "
                             f"{', '.join(Config.names())}")
        parsed = []
        for text in values.split(","):
            try:
                parsed.append(parse_int(text))
            except ValueError:
                parsed.append(text.strip())
        axes[name] = parsed
    return axes


def real_traces(cache: Path, *, layers=(0, 15, 29), progress=None) -> list[Path]:
    """SmolLM2-135M's traces of ``layers`` (first, middle, last) on the shipped text (16
    frames of 64 tokens, then 8), recorded once into ``cache``: what accuracy is measured on
    by default."""
    from vrex.golden.trace import save_trace
    from vrex.model.text import cut_stream
    from vrex.model.tracer import record_traces

    from .model_cli import open_model, text_of
    paths = [cache / f"smollm2-layer{layer:02d}.npz" for layer in layers]
    if all(p.exists() for p in paths):
        return paths
    model, tokenizer = open_model(None, progress=progress)
    text, where = text_of(None)
    stream = cut_stream(tokenizer.encode(text), frames=16, frame_tokens=64, text_tokens=8,
                        where=where)
    if progress:
        progress(f"explore: recording {model.weights.name}'s layers "
                 f"{', '.join(map(str, layers))} once into {cache}")
    cache.mkdir(parents=True, exist_ok=True)
    for path, trace in zip(paths, record_traces(model, stream, layers=list(layers))):
        partial = path.with_name(path.name + ".partial.npz")
        save_trace(partial, trace)
        partial.replace(path)
    return paths


def cmd_explore(args, config: Config, build: Path, progress) -> None:
    from vrex.synth.explore import ACCURACY_AXES, run_explore
    from vrex.synth.explore_report import write_explore
    axes = parse_axes(args.axis)
    traces = args.accuracy_trace or []
    if traces == ["none"]:
        traces = []
    elif not traces and any(a in ACCURACY_AXES for a in axes):
        traces = [str(p) for p in real_traces(build / "traces", progress=progress)]
    from vrex.golden.trace import load_trace
    for trace in traces:                  # refused here, not after every point's synthesis
        if not Path(trace).is_file():
            raise ValueError(f"--accuracy-trace {trace!r}: no such file")
        load_trace(trace)
    with executor_of(args, progress) as executor:
        rows = run_explore(config, axes, executor, draws=args.random, seed=args.seed,
                           build_root=build / "synth", accuracy_traces=traces,
                           progress=progress)
        where = executor.name
    for path in write_explore(Path(args.out), rows, list(axes), where, traces,
                              plot=not args.no_plot):
        print(f"wrote {path}")


def add_explore_parser(sub, add_config_args, add_build_arg, func) -> None:
    from vrex.synth.explore import ACCURACY_AXES
    p = sub.add_parser("explore", help="several parameters at once (grid or random): area, "
                                       "cycles and accuracy, with their Pareto fronts")
    add_config_args(p)
    p.add_argument("--axis", action="append", required=True, metavar="NAME=V1,V2,...",
                   help="a parameter and its values (repeatable; the grid is every "
                        "combination)")
    p.add_argument("--random", type=natural, metavar="N",
                   help="only N combinations, drawn at random (--seed)")
    p.add_argument("--seed", type=natural, default=0, help="seed of --random (default 0)")
    p.add_argument("--accuracy-trace", action="append", metavar="FILE|none",
                   help=f"a trace the accuracy is measured on (repeatable: the mean over all; "
                        f"default, when an axis is one of {', '.join(ACCURACY_AXES)}: "
                        f"SmolLM2-135M's layers 0, 15 and 29, recorded once)")
    add_study_args(p, "build/explore", add_build_arg)
    p.set_defaults(func=func)
