"""``vrex explore``: several parameters at once, and the configurations worth building.

Each point of a grid (or of a random draw from it) is a configuration; :func:`explore_point`
turns it into figures with no shared state, so an :class:`~vrex.synth.executor.Executor` can
run it anywhere: the logic of the units it shapes (generic gates, cached by content), the whole
DRE's cycles on the default trace (golden cycle model, which the RTL tests hold equal to the
hardware) and, when traces are given, what ReSV's selection costs in accuracy on them (mean
output error against full attention and the share of older tokens retrieved). The Pareto front
keeps the points no other point beats on both area and cycles (and, with accuracy, on area
and error, and on the share of the KV cache retrieved and error).
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

from vrex.golden.config import Config, ConfigError

from .yosys import JobWatch

__all__ = ["ACCURACY_AXES", "AREA_UNITS", "FRONTS", "grid_points", "explore_point", "pareto_front",
           "run_explore"]

# The units whose logic a configuration's area is summed over (the registers are a constant).
AREA_UNITS = ("hcu", "wtu", "controller")
# The Pareto fronts: (flag, x, y), lower better on both: the DRE's area against its cycles,
# against ReSV's error, and the KV traffic (share retrieved) against the error.
FRONTS = (("pareto", "kge", "cycles"), ("pareto_error", "kge", "output_error"),
          ("pareto_traffic", "retrieved", "output_error"))
# Parameters that change what ReSV selects, not only how fast or how large the DRE is.
ACCURACY_AXES = ("ratio", "th_hd", "buckets", "mode", "hash_bits")


def grid_points(base: Config, axes: dict, *, draws: int | None = None,
                seed: int = 0) -> list[dict]:
    """The configurations (as parameter dicts) of every combination of ``axes`` (name ->
    values), or ``draws`` of them chosen at random with ``seed``; a combination the
    configuration refuses is named."""
    names = list(axes)
    combos = list(itertools.product(*(axes[n] for n in names)))
    if draws is not None:
        if draws < 1:
            raise ValueError(f"--random must be at least 1, not {draws}")
        combos = random.Random(seed).sample(combos, min(draws, len(combos)))
    points = []
    for combo in combos:
        change = dict(zip(names, combo))
        try:
            points.append(base.replace(**change).as_dict())
        except ConfigError as error:
            where = ", ".join(f"{k}={v}" for k, v in change.items())
            raise ConfigError(f"explore point {where}: {error}") from None
    return points


def explore_point(params: dict, build_root: str, accuracy_traces: tuple = ()) -> dict:
    """Figures of one configuration: ``kge`` per unit of :data:`AREA_UNITS` and their sum,
    the DRE's ``cycles`` over every head of the default trace and ``cycles_per_token``, and
    with ``accuracy_traces`` ReSV's ``output_error`` and ``retrieved`` on them (means over
    every step of every head of every trace). Pure: runs in any worker process."""
    from vrex.golden.dre import run_dre
    from vrex.golden.stimulus import trace_vectors
    from vrex.golden.trace import generate_trace

    from .cells import CellReport, generic_run
    from .report import unit_component

    config = Config.from_mapping(params, where="explore point")
    figures = {}
    for unit in AREA_UNITS:
        run = generic_run(unit_component(unit, config), f"explore-{unit}")
        figures[f"{unit}_kge"] = round(CellReport(**run.run(Path(build_root))).kge, 2)
    figures["kge"] = round(sum(figures[f"{u}_kge"] for u in AREA_UNITS), 2)
    trace, cycles, tokens = generate_trace(), 0, 0
    for head in range(trace.heads):
        a = trace_vectors("dre", trace, config, head=head).arrays
        cycles += run_dre(a["hashes"], a["frame_end"], a["query_after"], a["query_rows"],
                          a["scores"], config).cycles
        tokens += a["hashes"].size
    figures["cycles"] = int(cycles)
    figures["cycles_per_token"] = round(cycles / tokens, 2)
    if accuracy_traces:
        figures.update(_accuracy(config, accuracy_traces))
    return figures


def _accuracy(config: Config, paths) -> dict:
    from vrex.golden.resv import evaluate_head
    from vrex.golden.trace import load_trace
    records = []
    for path in paths:
        trace = load_trace(path)
        records += [r for head in range(trace.heads)
                    for r in evaluate_head(trace, head, config, selections=("int-bucketed",),
                                           baselines=())
                    if r["method"] == "resv/int-bucketed"]
    mean = lambda key: sum(r[key] for r in records) / len(records)   # noqa: E731
    return {"output_error": round(mean("output_error"), 5),
            "retrieved": round(mean("retrieval_ratio"), 4)}


def pareto_front(rows: list[dict], x: str, y: str) -> list[int]:
    """Indices of the rows no other row beats on ``x`` and ``y`` (lower is better; rows
    equal on both are all on it), sorted by ``x``."""
    order = sorted(range(len(rows)), key=lambda i: (rows[i][x], rows[i][y]))
    front, best, last = [], float("inf"), None
    for i in order:
        point = (rows[i][x], rows[i][y])
        if point[1] < best or point == last:
            front.append(i)
            best, last = point[1], point
    return front


def run_explore(base: Config, axes: dict, executor, *, draws: int | None = None,
                seed: int = 0, build_root: Path = Path("build/synth"),
                accuracy_traces: tuple = (), progress=None) -> list[dict]:
    """Every point's parameters (those of ``axes``) and figures, in grid order, with a flag
    per front of :data:`FRONTS` it is on (the last two only with accuracy)."""
    points = grid_points(base, axes, draws=draws, seed=seed)
    figures = executor.map(explore_point, [(p, str(build_root), tuple(accuracy_traces))
                                           for p in points], label="explore", progress=progress,
                           tick=JobWatch(build_root, progress))
    rows = [{**{a: getattr(Config.from_mapping(p), a) for a in axes}, **f}
            for p, f in zip(points, figures)]
    for row in rows:
        if "mode" in row:
            row["mode"] = row["mode"].name.lower()
    for flag, x, y in FRONTS[:3 if accuracy_traces else 1]:
        on = set(pareto_front(rows, x, y))
        for i, row in enumerate(rows):
            row[flag] = i in on
    return rows
