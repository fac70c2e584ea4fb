"""``vrex sweep``: the area-time trade-off of the DRE's parameters.

One parameter at a time moves away from a base configuration; each point reports the logic of
the units that parameter shapes (generic gates, :mod:`vrex.synth.cells`) beside their cycles on
the default trace (the golden cycle models, which the RTL tests hold equal to the hardware):
HCU cycles per token, WTU cycles per query row. The figures go to a table (Markdown, CSV,
JSON) and a plot of area against cycles, one panel per parameter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from vrex.golden.config import Config, ConfigError

from .cells import CellReport, generic_run
from .executor import LocalExecutor
from .report import unit_component
from .tables import pyplot, save_figure, write_tables
from .yosys import JobWatch

__all__ = ["AXES", "sweep_points", "sweep_cycles", "unit_cells", "run_sweep"]

# The parameters of the issue, the values each takes, and the units whose logic they shape.
AXES = {
    "digit": ((1, 2, 4, 8, 16, 32), ("hcu",)),
    "hcu_lanes": ((1, 2, 4, 8), ("hcu",)),
    "hash_bits": ((16, 32, 64), ("hcu",)),
    "wtu_lanes": ((2, 4, 8, 16, 32), ("wtu",)),
    "max_clusters": ((256, 512, 1024, 2048), ("hcu", "wtu")),
}

_PER = {"hcu": "token", "wtu": "row"}


def sweep_points(base: Config, axes: dict) -> list[tuple[str, int, Config]]:
    """``(axis, value, config)`` for every value of every axis; a value the configuration
    refuses is named with its axis."""
    points = []
    for axis, values in axes.items():
        if axis not in AXES:
            raise ValueError(f"axis must be one of {', '.join(AXES)}, not {axis!r}")
        for value in values:
            try:
                points.append((axis, value, base.replace(**{axis: value})))
            except ConfigError as error:
                raise ConfigError(f"sweep of {axis}: {error}") from None
    return points


def sweep_cycles(config: Config, trace) -> dict:
    """HCU cycles per token and WTU cycles per query row of ``config`` on every head of
    ``trace``, from the golden cycle models."""
    from vrex.golden.dre import run_dre
    from vrex.golden.hcu import run_hcu
    from vrex.golden.stimulus import trace_vectors

    hcu_cycles = tokens = wtu_cycles = rows = 0
    for head in range(trace.heads):
        a = trace_vectors("dre", trace, config, head=head).arrays
        hcu_cycles += run_hcu(a["hashes"], config).cycles
        tokens += a["hashes"].size
        result = run_dre(a["hashes"], a["frame_end"], a["query_after"], a["query_rows"],
                         a["scores"], config)
        for batch in result.queries:
            if batch is not None:
                wtu_cycles += batch.result.cycles
                rows += batch.scores.shape[0]
    return {"hcu": hcu_cycles / tokens, "wtu": wtu_cycles / max(rows, 1)}


def unit_cells(unit: str, params: dict, name: str, build_root: str) -> dict:
    """The generic-gate report of ``unit`` built for the configuration ``params``: one sweep
    point, pure, so that any worker process or cluster node can run it."""
    config = Config.from_mapping(params, where=name)
    return generic_run(unit_component(unit, config), name).run(Path(build_root))


def run_sweep(base: Config, out: Path, *, axes: dict | None = None, jobs: int = 2,
              build_root: Path = Path("build/synth"), plot: bool = True, executor=None,
              progress: Callable[[str], None] | None = None) -> list[dict]:
    """Sweep ``axes`` (name -> values; default :data:`AXES`) from ``base``; write
    ``sweep.md``, ``sweep.csv``, ``sweep.json`` and ``sweep.png`` into ``out``. The tool runs
    go to ``executor`` (:mod:`vrex.synth.executor`; default a local pool of ``jobs``)."""
    from vrex.golden.trace import generate_trace

    axes = {a: v for a, (v, _) in AXES.items()} if axes is None else axes
    points = sweep_points(base, axes)
    trace = generate_trace()
    keys = [(axis, value, unit) for axis, value, _ in points for unit in AXES[axis][1]]
    configs = {(axis, value): config for axis, value, config in points}
    calls = [(unit, configs[axis, value].as_dict(), f"{unit}-{axis}-{value}", str(build_root))
             for axis, value, unit in keys]
    own = executor is None
    executor = executor or LocalExecutor(jobs)
    try:
        reports = executor.map(unit_cells, calls, label="sweep", progress=progress,
                               tick=JobWatch(build_root, progress))
    finally:
        if own:
            executor.close()
    cells = {key: CellReport(**r) for key, r in zip(keys, reports)}

    rows = []
    for axis, value, config in points:
        cycles = sweep_cycles(config, trace)
        for unit in AXES[axis][1]:
            report = cells[axis, value, unit]
            rows.append({"axis": axis, "value": value, "unit": unit,
                         "base": value == getattr(base, axis),
                         "kge": round(report.kge, 2), "cells": report.cells,
                         "flops": report.flops, "memory_bits": report.memory_bits,
                         "cycles": round(cycles[unit], 2), "per": _PER[unit]})
    table = _markdown(rows, base)
    write_tables(out, "sweep", rows, table)
    print(table)
    if plot:
        _plot(rows, out / "sweep.png")
        print(f"plot: {out / 'sweep.png'}")
    return rows


def _markdown(rows: list[dict], base: Config) -> str:
    lines = [f"Sweep from the base configuration (hash_bits {base.hash_bits}, max_clusters "
             f"{base.max_clusters}, digit {base.digit}, hcu_lanes {base.hcu_lanes}, "
             f"wtu_lanes {base.wtu_lanes}); cycles on the default trace; * marks the base.",
             "", "| parameter | value | unit | kGE | cells | flops | memory bits | cycles |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['axis']} | {r['value']}{' *' if r['base'] else ''} | {r['unit']} "
                     f"| {r['kge']:.2f} | {r['cells']} | {r['flops']} | {r['memory_bits']} "
                     f"| {r['cycles']:.2f} per {r['per']} |")
    return "\n".join(lines) + "\n"


def _plot(rows: list[dict], path: Path) -> None:
    plt = pyplot("sweep")

    panels = [(axis, unit) for axis in dict.fromkeys(r["axis"] for r in rows)
              for unit in AXES[axis][1]]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), squeeze=False)
    for ax, (axis, unit) in zip(axes[0], panels):
        points = [r for r in rows if r["axis"] == axis and r["unit"] == unit]
        x = [r["cycles"] for r in points]
        y = [r["kge"] for r in points]
        ax.plot(x, y, "o-", color="tab:blue")
        for r in points:
            ax.annotate(f"{r['value']}{'*' if r['base'] else ''}", (r["cycles"], r["kge"]),
                        textcoords="offset points", xytext=(4, 4), fontsize=8)
        ax.set_title(f"{unit.upper()}: {axis}")
        ax.set_xlabel(f"cycles per {points[0]['per']}")
        ax.set_ylabel("logic, kGE")
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
