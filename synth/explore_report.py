"""``vrex explore``'s table and Pareto plot."""

from __future__ import annotations

from pathlib import Path

from .tables import pyplot, save_figure, write_tables

__all__ = ["explore_markdown", "plot_explore", "write_explore"]


def _value(axis: str, value) -> str:
    return f"{value / 65536:.3f}" if axis == "ratio" else str(value)


def explore_markdown(rows: list[dict], axes: list[str], where: str,
                     accuracy: str | None) -> str:
    """One row per point, the Pareto points marked: * on area and cycles, + on area and
    error."""
    extra = accuracy is not None
    lines = [f"Explored {len(rows)} configurations ({where}); logic of "
             f"{', '.join(u.upper() for u in ('hcu', 'wtu', 'controller'))} in kGE (generic "
             f"gates), the DRE's cycles on the default trace (golden cycle model)"
             + (f", ReSV's output error and retrieval on {accuracy}" if extra else "")
             + ". * on the area-cycles Pareto front" + (", + on the area-error front"
                                                        if extra else "") + ".", "",
             "| " + " | ".join([*axes, "kGE", "HCU", "WTU", "controller", "cycles",
                                "cycles/token", *(["output error", "retrieved"] if extra
                                                  else []), "front"]) + " |",
             "|" + "---|" * (len(axes) + 7 + 2 * extra)]
    for r in rows:
        marks = ("*" if r["pareto"] else "") + ("+" if r.get("pareto_error") else "")
        cells = [*(_value(a, r[a]) for a in axes), f"{r['kge']:.2f}", f"{r['hcu_kge']:.2f}",
                 f"{r['wtu_kge']:.2f}", f"{r['controller_kge']:.2f}", str(r["cycles"]),
                 f"{r['cycles_per_token']:.2f}"]
        if extra:
            cells += [f"{r['output_error']:.2%}", f"{r['retrieved']:.1%}"]
        lines.append("| " + " | ".join(cells + [marks]) + " |")
    return "\n".join(lines) + "\n"


def plot_explore(rows: list[dict], axes: list[str], path: Path) -> None:
    """Area against cycles (and against output error, with accuracy), every point labelled
    with its parameters, the Pareto front drawn through its points."""
    plt = pyplot("explore")
    panels = [("cycles", "pareto", "DRE cycles on the default trace")]
    if "output_error" in rows[0]:
        panels.append(("output_error", "pareto_error", "ReSV output error"))
    fig, grid = plt.subplots(1, len(panels), figsize=(6.0 * len(panels), 4.6), squeeze=False)
    for ax, (y, flag, label) in zip(grid[0], panels):
        ax.scatter([r["kge"] for r in rows], [r[y] for r in rows], s=18, color="0.6",
                   label="explored")
        front = sorted((r for r in rows if r[flag]), key=lambda r: r["kge"])
        # A staircase: everything above and to the right of it is beaten by a front point.
        ax.plot([r["kge"] for r in front], [r[y] for r in front], "o-", color="tab:red",
                drawstyle="steps-post", label="Pareto front")
        for r in front:
            ax.annotate(" ".join(f"{a}={_value(a, r[a])}" for a in axes), (r["kge"], r[y]),
                        textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax.set_xlabel("logic, kGE (HCU + WTU + controller)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def write_explore(out: Path, rows: list[dict], axes: list[str], where: str,
                  accuracy: str | None, plot: bool = True) -> list[Path]:
    """``explore.md``, ``.csv``, ``.json`` and (``plot``) ``explore.png`` in ``out``."""
    table = explore_markdown(rows, axes, where, accuracy)
    paths = write_tables(out, "explore", rows, table)
    if plot:
        plot_explore(rows, axes, out / "explore.png")
        paths.append(out / "explore.png")
    print(table)
    return paths
