"""A study's rows written as Markdown, CSV and JSON, and its plot: each file whole or not at
all (written beside its place, then moved there), so a run cut short leaves no half table."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

__all__ = ["write_tables", "save_figure", "pyplot"]


def _whole(path: Path, write) -> None:
    partial = path.with_name(path.name + ".partial")
    with open(partial, "w", newline="") as f:
        write(f)
    os.replace(partial, path)


def write_tables(out: Path, stem: str, rows: list[dict], markdown: str) -> list[Path]:
    """``stem.md`` (``markdown``), ``stem.csv`` and ``stem.json`` (``rows``) in ``out``."""
    out.mkdir(parents=True, exist_ok=True)

    def write_csv(f):
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)

    paths = [out / f"{stem}.{ext}" for ext in ("md", "csv", "json")]
    _whole(paths[0], lambda f: f.write(markdown))
    _whole(paths[1], write_csv)
    _whole(paths[2], lambda f: f.write(json.dumps(rows, indent=1) + "\n"))
    return paths


def pyplot(what: str):
    """matplotlib's pyplot on the file backend, or an error saying how to do without."""
    try:
        import matplotlib
    except ImportError:
        raise ValueError(f"the {what}'s plot needs matplotlib (pip install matplotlib), or "
                         f"pass --no-plot") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path: Path, dpi: int = 110) -> None:
    """Save ``fig`` as ``path`` (PNG), whole or not at all."""
    partial = path.with_name(path.name + ".partial.png")
    fig.savefig(partial, dpi=dpi)
    os.replace(partial, path)
