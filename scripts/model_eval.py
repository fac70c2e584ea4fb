"""``vrex eval --model``: ReSV inside a real model against full attention and the baselines;
tables, sweeps, the least retrieval within a perplexity tolerance, JSON and plots."""

from __future__ import annotations

import itertools
from pathlib import Path

from vrex.golden.config import Config
from vrex.model.loop import REFERENCE, InLoop

__all__ = ["format_methods", "format_layers", "sweep_in_loop", "format_sweep_rows",
           "least_retrieval",
           "format_least", "plot_model_eval", "TOLERANCE"]

# A method "keeps the model's accuracy" while its perplexity is within this share of full
# attention's.
TOLERANCE = 0.02


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def format_methods(methods: dict) -> str:
    """One row per method: quality against full attention and the retrieval."""
    lines = ["| method | perplexity | vs full | top-1 agreement | KL | accuracy | retrieved "
             "| prefill (median) | text (median) | keep-all choices |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    full = methods["full"]["perplexity"]
    for name, m in methods.items():
        phase = {p: (f"{_pct(m[p]['retrieval'])} ({_pct(m[p]['retrieval_median'])})"
                     if m.get(p) else "-") for p in ("prefill", "text")}
        lines.append(
            f"| {name} | {m['perplexity']:.3f} | {100 * (m['perplexity'] / full - 1):+.1f}% "
            f"| {_pct(m.get('top1_agreement'))} | {m.get('kl', 0.0):.4f} "
            f"| {_pct(m['accuracy'])} | {_pct(m['retrieval'])} | {phase['prefill']} "
            f"| {phase['text']} | {m['keep_all']}/{m['choices']} |")
    return "\n".join(lines)


def format_layers(methods: dict) -> str:
    """Per layer: each method's retrieval, and ReSV's clusters and tokens per cluster."""
    names = [n for n in methods if n != "full"]
    resv = next((n for n in names if "clusters_by_layer" in methods[n]), None)
    head = "| layer | " + " | ".join(names) + " |"
    if resv:
        head += f" clusters ({resv}) | tokens/cluster | clusters kept |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for i in range(len(methods["full"]["by_layer"])):
        row = f"| {i} | " + " | ".join(_pct(methods[n]["by_layer"][i]) for n in names) + " |"
        if resv:
            m = methods[resv]
            row += (f" {m['clusters_by_layer'][i]:.0f} | {m['tokens_per_cluster_by_layer'][i]:.1f}"
                    f" | {m['selected_clusters_by_layer'][i]:.1f} |")
        lines.append(row)
    return "\n".join(lines)


def sweep_in_loop(loop: InLoop, config: Config, axes: list[tuple[str, list]],
                  methods: list[str], progress=None) -> list[dict]:
    """Every point of the grid of ``axes`` (``[(name, values)]``): ``resv/int-bucketed`` and
    the other ``methods``, the baselines at its budgets; one row per point and method."""
    rows = []
    names = [name for name, _ in axes]
    others = [m for m in methods if m not in ("full", REFERENCE)]
    for point in itertools.product(*(values for _, values in axes)):
        setting = dict(zip(names, point))
        cfg = config.replace(**setting)
        if progress:
            progress("eval --model: " + ", ".join(f"{k} = {v}" for k, v in setting.items()))
        budgets = None
        for method in [REFERENCE, *others]:
            figures = loop.run(method, cfg, budgets)
            budgets = figures.pop("budgets", budgets)
            rows.append({**setting, "method": method, **figures})
    return rows


def format_sweep_rows(rows: list[dict], axes: list[str], full_perplexity: float) -> str:
    """Every sweep point and method: perplexity against full attention and the retrieval."""
    lines = ["| " + " | ".join(axes) + " | method | perplexity | vs full | KL | retrieved "
             "| prefill (median) | text (median) | keep-all choices |",
             "|" + "---|" * (len(axes) + 8)]
    for r in rows:
        phase = {p: (f"{_pct(r[p]['retrieval'])} ({_pct(r[p]['retrieval_median'])})"
                     if r.get(p) else "-") for p in ("prefill", "text")}
        lines.append("| " + " | ".join(str(_value(a, r[a])) for a in axes)
                     + f" | {r['method']} | {r['perplexity']:.3f} "
                     f"| {100 * (r['perplexity'] / full_perplexity - 1):+.1f}% "
                     f"| {r['kl']:.4f} | {_pct(r['retrieval'])} | {phase['prefill']} "
                     f"| {phase['text']} | {r['keep_all']}/{r['choices']} |")
    return "\n".join(lines)


def least_retrieval(rows: list[dict], full_perplexity: float, group: str | None = None,
                    tolerance: float = TOLERANCE) -> list[dict]:
    """Per method (and per value of the axis ``group``, e.g. ``mode``): the sweep point of
    least retrieval whose perplexity is within ``tolerance`` of full attention's (None where
    no point is)."""
    out = {}
    for r in rows:
        key = (r.get(group), r["method"])
        ok = r["perplexity"] <= full_perplexity * (1 + tolerance)
        best = out.setdefault(key, {"group": r.get(group), "method": r["method"], "row": None})
        if ok and (best["row"] is None or r["retrieval"] < best["row"]["retrieval"]):
            best["row"] = r
    return list(out.values())


def format_least(least: list[dict], axes: list[str], group: str | None,
                 tolerance: float = TOLERANCE) -> str:
    lines = [f"| {group or 'setting'} | method | least retrieval within {100 * tolerance:g}% "
             f"of full perplexity | perplexity | at |", "|---|---|---|---|---|"]
    for item in least:
        r, g = item["row"], item["group"] if group else "-"
        if r is None:
            lines.append(f"| {g} | {item['method']} | never | - | - |")
            continue
        at = ", ".join(f"{a} {_value(a, r[a])}" for a in axes if a != group)
        lines.append(f"| {g} | {item['method']} | {_pct(r['retrieval'])} "
                     f"| {r['perplexity']:.3f} | {at} |")
    return "\n".join(lines)


def _value(axis, value):
    return f"{value / 65536:.3f}" if axis == "ratio" else value


def plot_model_eval(methods: dict | None, rows: list[dict] | None, full_perplexity: float,
                    out: Path, group: str | None = None) -> list[Path]:
    """Retrieval per layer (``methods``), and perplexity against retrieval for every method
    over a sweep (``rows``)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    if methods:
        fig, ax = plt.subplots(figsize=(8, 4))
        for name, m in methods.items():
            if name != "full":
                ax.plot([100 * x for x in m["by_layer"]], marker="o", ms=3, label=name)
        ax.set_xlabel("layer")
        ax.set_ylabel("older tokens retrieved, %")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        paths.append(out / "retrieval_by_layer.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    if rows:
        fig, ax = plt.subplots(figsize=(8, 5))
        keys = sorted({(r.get(group), r["method"]) for r in rows}, key=str)
        for g, method in keys:
            rs = sorted((r for r in rows if r.get(group) == g and r["method"] == method),
                        key=lambda r: r["retrieval"])
            label = method if group is None else f"{method} ({group} {g})"
            ax.plot([100 * r["retrieval"] for r in rs], [r["perplexity"] for r in rs],
                    marker="o", ms=3, label=label)
        ax.axhline(full_perplexity, color="black", lw=1, label="full attention")
        ax.axhline(full_perplexity * (1 + TOLERANCE), color="black", lw=1, ls="--",
                   label=f"full + {100 * TOLERANCE:g}%")
        ax.set_xlabel("older tokens retrieved, %")
        ax.set_ylabel("perplexity")
        ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=6, ncol=2)
        fig.tight_layout()
        paths.append(out / "perplexity_vs_retrieval.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    return paths


def flow_model_section(config: Config, spec, *, progress=None, frames: int = 16,
                       frame_tokens: int = 64, text_tokens: int = 8) -> dict:
    """The flow's real-model part: the model check on the shipped text, and the in-the-loop
    evaluation of ``config``'s ReSV against full attention and every baseline (the best of
    them, the one whose predictions are nearest full attention's by KL, named)."""
    from vrex.golden.retrieval import BASELINES
    from vrex.model.check import check_model
    from vrex.model.loop import run_methods
    from vrex.model.text import cut_stream, shipped_text
    from vrex.scripts.model_cli import open_model
    model, tokenizer = open_model(spec, progress=progress)
    ids = tokenizer.encode(shipped_text())
    stream = cut_stream(ids, frames=frames, frame_tokens=frame_tokens,
                        text_tokens=text_tokens, where="pydoc_data.topics")
    if progress:
        progress(f"flow: model check and ReSV in the loop of {model.weights.name}")
    check = check_model(model, stream.ids)
    loop = InLoop(model, stream, progress=progress is not None)
    methods = run_methods(loop, config, [REFERENCE, *BASELINES])
    best = min(BASELINES, key=lambda m: methods[m]["kl"])          # nearest to full
    return {"model": model.weights.name, "text": "pydoc_data.topics", "tokens": stream.tokens,
            "frames": frames, "frame_tokens": frame_tokens, "text_tokens": text_tokens,
            "window": loop.window, "check": check.as_dict(), "best_baseline": best,
            "methods": {m: {k: v for k, v in f.items() if not k.endswith("_by_layer")}
                        for m, f in methods.items()}}


def flow_model_markdown(section: dict) -> list[str]:
    c = section["check"]
    shown = {m: section["methods"][m] for m in ("full", REFERENCE, section["best_baseline"])}
    return ["## The model in the loop (`vrex eval --model`)", "",
            f"{section['model']} on {section['text']}: model check over {c['tokens']} tokens: "
            f"perplexity {c['perplexity']:.3f}, top-1 accuracy {100 * c['accuracy']:.1f}%. "
            f"In the loop: {section['frames']} frames x {section['frame_tokens']} tokens, then "
            f"{section['text_tokens']} generated, a {section['window']}-token recent window; "
            f"the configured ReSV beside full attention and the baseline nearest full attention "
            f"(least KL) at its budget ({section['best_baseline']}; all baselines in "
            f"report.json). Retrieved: the "
            f"share of the older tokens each layer and KV head kept, mean over choices.", "",
            format_methods(shown)]
