"""``vrex explore``'s table and Pareto plot."""

from __future__ import annotations

from pathlib import Path

from .explore import AREA_UNITS
from .tables import pyplot, save_figure, write_tables

__all__ = ["explore_markdown", "plot_explore", "write_explore"]


_NAMES = {"hcu": "HCU", "wtu": "WTU", "controller": "controller"}


def _value(axis: str, value) -> str:
    return f"{value / 65536:.3f}" if axis == "ratio" else str(value)


def explore_markdown(rows: list[dict], axes: list[str], where: str,
                     accuracy: list[str]) -> str:
    """One row per point, the Pareto points marked: * on area and cycles, + on area and
    error, r on retrieval and error."""
    extra = bool(accuracy)
    lines = [f"Explored {len(rows)} configurations ({where}); logic of "
             f"{', '.join(_NAMES[u] for u in AREA_UNITS)} in kGE (generic "
             f"gates), the DRE's cycles on the default trace (golden cycle model)"
             + (f", ReSV's output error and retrieval (means) on {', '.join(accuracy)}"
                if extra else "")
             + ". * on the area-cycles Pareto front" + (
                 ", + on the area-error front, r on the retrieval-error front" if extra
                 else "") + ".", "",
             "| " + " | ".join([*axes, "kGE", *(_NAMES[u] for u in AREA_UNITS), "cycles",
                                "cycles/token", *(["output error", "retrieved"] if extra
                                                  else []), "front"]) + " |",
             "|" + "---|" * (len(axes) + len(AREA_UNITS) + 4 + 2 * extra)]
    for r in rows:
        marks = ("*" if r["pareto"] else "") + ("+" if r.get("pareto_error") else "") + \
            ("r" if r.get("pareto_traffic") else "")
        cells = [*(_value(a, r[a]) for a in axes), f"{r['kge']:.2f}",
                 *(f"{r[f'{u}_kge']:.2f}" for u in AREA_UNITS), str(r["cycles"]),
                 f"{r['cycles_per_token']:.2f}"]
        if extra:
            cells += [f"{r['output_error']:.2%}", f"{r['retrieved']:.1%}"]
        lines.append("| " + " | ".join(cells + [marks]) + " |")
    return "\n".join(lines) + "\n"


def plot_explore(rows: list[dict], axes: list[str], path: Path) -> None:
    """Area against cycles (and, with accuracy, area and retrieval against output error),
    the Pareto front drawn through its points, each labelled with its parameters."""
    plt = pyplot("explore")
    area = f"logic, kGE ({' + '.join(_NAMES[u] for u in AREA_UNITS)})"
    panels = [("kge", area, "cycles", "DRE cycles on the default trace", "pareto")]
    if "output_error" in rows[0]:
        panels += [("kge", area, "output_error", "ReSV output error", "pareto_error"),
                   ("retrieved", "share of the KV cache retrieved", "output_error",
                    "ReSV output error", "pareto_traffic")]
    fig, grid = plt.subplots(1, len(panels), figsize=(5.6 * len(panels), 4.6), squeeze=False)
    for ax, (x, xlabel, y, ylabel, flag) in zip(grid[0], panels):
        ax.scatter([r[x] for r in rows], [r[y] for r in rows], s=18, color="0.6",
                   label="explored")
        front = sorted((r for r in rows if r[flag]), key=lambda r: r[x])
        # A staircase: everything above and to the right of it is beaten by a front point.
        ax.plot([r[x] for r in front], [r[y] for r in front], "o-", color="tab:red",
                drawstyle="steps-post", label="Pareto front")
        # One label per point of the front (rows equal on both axes share it), the values in
        # the order of the title's parameter names, kept out of the layout's reckoning.
        points = {}
        for r in front:
            points.setdefault((r[x], r[y]), []).append(r)
        middle = (min(r[x] for r in rows) + max(r[x] for r in rows)) / 2
        for (px, py), same in points.items():
            text = " ".join(_value(a, same[0][a]) for a in axes) + \
                (f" (+{len(same) - 1})" if len(same) > 1 else "")
            right = px > middle                   # labels read inwards, inside the figure
            ax.annotate(text, (px, py), textcoords="offset points",
                        xytext=(-4 if right else 4, 4), ha="right" if right else "left",
                        fontsize=7).set_in_layout(False)
        ax.set_title(f"front labelled {' '.join(axes)}", fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def write_explore(out: Path, rows: list[dict], axes: list[str], where: str,
                  accuracy: list[str], plot: bool = True) -> list[Path]:
    """``explore.md``, ``.csv``, ``.json`` and (``plot``) ``explore.png`` in ``out``."""
    table = explore_markdown(rows, axes, where, accuracy)
    paths = write_tables(out, "explore", rows, table)
    if plot:
        plot_explore(rows, axes, out / "explore.png")
        paths.append(out / "explore.png")
    print(table)
    return paths
