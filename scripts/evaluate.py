"""``vrex eval``: ReSV against full attention and the baselines on a trace; a table, JSON and
plots."""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np

from vrex.golden.config import Config
from vrex.golden.resv import BASELINES, SELECTIONS, evaluate_head
from vrex.golden.trace import Trace

__all__ = ["evaluate_trace", "summarize", "format_table", "plot_eval", "SWEEP_AXES",
           "parse_sweep", "sweep_eval", "format_sweep"]

METRICS = ("retrieval_ratio", "mass_recall", "output_error", "kv_bytes")


def evaluate_trace(trace: Trace, config: Config, *, rows: int = 16, window: int | None = None,
                   selections=SELECTIONS, baselines=BASELINES) -> list[dict]:
    """Every head's step records (:func:`vrex.golden.resv.evaluate_head`)."""
    records = []
    for head in range(trace.heads):
        records += evaluate_head(trace, head, config, rows=rows, window=window,
                                 selections=selections, baselines=baselines)
    return records


def summarize(records: list[dict]) -> list[dict]:
    """Means over steps, per (head, kind, method) and over all heads and layers (head
    ``"all"``); ``keep_all_steps`` counts the steps that kept every older token (out of
    ``steps``), which a mean would hide."""
    groups = collections.defaultdict(list)
    layers = len({r.get("layer", 0) for r in records}) > 1
    for r in records:
        # One trace is one layer; with several, heads are named layer.head.
        head = f"{r['layer']}.{r['head']}" if layers else r["head"]
        groups[head, r["kind"], r["method"]].append(r)
        groups["all", r["kind"], r["method"]].append(r)
    rows = []
    for (head, kind, method), rs in groups.items():
        row = {"head": head, "kind": kind, "method": method, "steps": len(rs),
               "keep_all_steps": sum(bool(r["keeps_all"]) for r in rs)}
        for key in METRICS:
            row[key] = float(np.mean([r[key] for r in rs]))
        if "clusters" in rs[0]:
            row["clusters"] = float(np.mean([r["clusters"] for r in rs]))
            row["tokens_per_cluster"] = float(np.mean([r["tokens_per_cluster"] for r in rs]))
            row["selected_clusters"] = float(np.mean([r["selected_clusters"] for r in rs]))
        rows.append(row)
    order = {m: i for i, m in enumerate([f"resv/{s}" for s in SELECTIONS] + list(BASELINES))}
    rows.sort(key=lambda r: (r["head"] != "all", str(r["head"]), r["kind"] != "prefill",
                             order.get(r["method"], 99)))
    return rows


def format_table(summary: list[dict], heads: bool = True) -> str:
    """The summary as Markdown; ``heads=False`` keeps the all-heads rows only."""
    lines = ["| head | step | method | retrieved | keep-all steps | clusters | tokens/cluster "
             "| mass recall | output error | KV bytes/step |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in summary:
        if not heads and r["head"] != "all":
            continue
        clusters = f"{r['clusters']:.0f}" if "clusters" in r else "-"
        per = f"{r['tokens_per_cluster']:.1f}" if "tokens_per_cluster" in r else "-"
        lines.append(f"| {r['head']} | {r['kind']} | {r['method']} | "
                     f"{100 * r['retrieval_ratio']:.1f}% | {_kept_all(r)} | {clusters} | "
                     f"{per} | {100 * r['mass_recall']:.1f}% | "
                     f"{100 * r['output_error']:.2f}% | {r['kv_bytes'] / 1024:.1f} KiB |")
    return "\n".join(lines)


def _kept_all(row: dict) -> str:
    return f"{row['keep_all_steps']}/{row['steps']}"


SWEEP_AXES = ("th_hd", "ratio", "buckets", "mode", "hash_bits", "score_bits")


def parse_sweep(item: str) -> tuple[str, list]:
    """``NAME=V1,V2,...``: ratio as a fraction (0.3) or Q0.16 integer, mode as
    shift/clamp/exp."""
    name, sep, values = item.partition("=")
    if name not in SWEEP_AXES or not sep or not values:
        raise ValueError(f"--sweep must be NAME=V1,V2,... with NAME one of "
                         f"{', '.join(SWEEP_AXES)}, not {item!r}")
    out = []
    for v in values.split(","):
        try:
            if name == "mode":
                if v not in ("shift", "clamp", "exp"):
                    raise ValueError
                out.append(v)
            elif name == "ratio" and "." in v:
                out.append(int(float(v) * 65536))          # 0.3 -> 19660, as configs write it
            else:
                out.append(int(v, 0))
        except ValueError:
            raise ValueError(f"--sweep {name}: bad value {v!r}") from None
    return name, out


def sweep_eval(trace: Trace, config: Config, axes: list[tuple[str, list]], *, rows: int = 16,
               window: int | None = None, progress=None) -> list[dict]:
    """The all-heads summary for each value of each axis, the rest of ``config`` fixed."""
    out = []
    for name, values in axes:
        for value in values:
            cfg = config.replace(**{name: value})
            if progress:
                progress(f"eval: {name} = {value}")
            for r in summarize(evaluate_trace(trace, cfg, rows=rows, window=window)):
                if r["head"] == "all":
                    out.append({"axis": name, "value": value, **r})
    return out


def format_sweep(rows: list[dict]) -> str:
    """The ReSV selections and the token baseline (the other baselines follow its budget
    too, but would crowd the table), one row per axis value and step kind."""
    lines = ["| parameter | value | step | method | retrieved | keep-all steps | mass recall | "
             "output error |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if not (r["method"].startswith("resv/") or r["method"] == "topk-token"):
            continue
        value = f"{r['value'] / 65536:.3f}" if r["axis"] == "ratio" else r["value"]
        lines.append(f"| {r['axis']} | {value} | {r['kind']} | {r['method']} | "
                     f"{100 * r['retrieval_ratio']:.1f}% | {_kept_all(r)} | "
                     f"{100 * r['mass_recall']:.1f}% | {100 * r['output_error']:.2f}% |")
    return "\n".join(lines)


# One marker shape per method, hollow and larger for the ones drawn first, so that methods
# that agree (resv/int-bucketed and resv/float-bucketed often do) stay visible on each other.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def error_points(ax, records: list[dict], kind: str) -> list:
    """Output error against retrieval ratio of ``kind`` steps, a series per method; returns
    the series (matplotlib collections)."""
    methods = sorted({r["method"] for r in records if r["kind"] == kind})
    series = []
    for i, method in enumerate(methods):
        rs = [r for r in records if r["kind"] == kind and r["method"] == method]
        color = f"C{i % 10}"
        series.append(ax.scatter([100 * r["retrieval_ratio"] for r in rs],
                                 [100 * r["output_error"] for r in rs], label=method,
                                 marker=MARKERS[i % len(MARKERS)], s=14 + 50 * (len(methods) - i)
                                 / len(methods), facecolors="none", edgecolors=color,
                                 linewidths=1.0))
    return series


def plot_eval(records: list[dict], out: Path) -> list[Path]:
    """Output error against retrieval ratio, a point per step and method; and the number of
    clusters the hardware's selection keeps, per head."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, kind in zip(axes, ("prefill", "text")):
        error_points(ax, records, kind)
        ax.set_title(f"{kind} steps")
        ax.set_xlabel("older tokens retrieved, %")
        ax.set_ylabel("output error, % of the RMS value norm")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    paths.append(out / "error_vs_ratio.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    hw = [r for r in records if r["method"] == "resv/int-bucketed"]
    heads = sorted({r["head"] for r in hw})
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.hist([[r["selected_clusters"] for r in hw if r["head"] == h] for h in heads],
            label=[f"head {h}" for h in heads], bins=12)
    ax.set_xlabel("clusters selected in a step (resv/int-bucketed)")
    ax.set_ylabel("steps")
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(out / "selected_clusters.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    return paths
