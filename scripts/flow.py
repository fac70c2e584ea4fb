"""``vrex flow``: the main job. For a configuration it generates the DRE's Verilog package,
writes vector files of the default trace for every unit, runs the golden model on them, pushes
each head's ``dre`` vectors through the generated Verilog (cocotb; Icarus unless told otherwise)
and checks that every output agrees, cycles included; synthesizes the DRE and its units
(generic gates, and with ``synth="full"`` FPGA resources and Fmax: ``vrex.synth.report``);
then writes a report directory (Markdown and JSON) with retrieval statistics, cycle counts and
the synthesis summary.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from vrex.golden.config import Config
from vrex.golden.hcu import run_hcu
from vrex.golden.stimulus import trace_all
from vrex.golden.trace import TraceParams, generate_trace, save_trace
from vrex.golden.vectors import run_golden, write_npz
from vrex.synth.report import WHY, verdict_of

from .report_terms import config_markdown, glossary_markdown, report_clock

__all__ = ["run_flow"]


def _hcu_stats(vectors, out, config) -> dict:
    plain = run_hcu(vectors.arrays["hashes"], config, early_exit=False)
    return {"tokens": int(out["cluster"].size), "clusters": int(out["counts"].size),
            "tokens_per_cluster": round(float(out["counts"].mean()), 2),
            "cluster_overflow": bool(out["cluster_overflow"]),
            "hcu_cycles_no_early_exit": plain.cycles}


def _wtu_stats(vectors, out, config) -> dict:
    return {"wtu_mean_exit_bucket": round(float(out["exit_bucket"].mean()), 2)}


def _dre_stats(vectors, out, config) -> dict:
    frame_end, after = vectors.arrays["frame_end"], vectors.arrays["query_after"]
    stored = frame_end[after]                       # tokens in the cache at each query
    fetched = np.bincount(out["descriptors"][:, 0], weights=out["descriptors"][:, 2],
                          minlength=after.size)
    return {"queries": int(after.size),
            "retrieval_ratio": round(float((fetched / stored).mean()), 4),
            "descriptors": int(out["descriptors"].shape[0]),
            "page_overflow": bool(out["page_overflow"])}


# What the report says of each unit's golden run on a head.
_STATS = {"hcu": _hcu_stats, "wtu": _wtu_stats, "dre": _dre_stats}


def _head_stats(trace, config: Config, head: int, vector_dir: Path, sim: str | None,
                build_root: Path, waves: bool = False, progress=None) -> dict:
    stats = {"head": head}
    inputs, golden = trace_all(trace, config, head=head), {}
    for unit, vectors in inputs.items():
        out = golden[unit] = run_golden(vectors)
        write_npz(vector_dir / f"{unit}_head{head}_in.npz", vectors.to_npz_dict())
        write_npz(vector_dir / f"{unit}_head{head}_golden.npz", out)
        stats[f"{unit}_cycles"] = int(out["cycles"])
        stats.update(_STATS[unit](vectors, out, config))
    if sim:                                         # the whole DRE in RTL
        from vrex.testbench.mismatch import checked_run
        start = time.perf_counter()
        rtl, mismatch = checked_run(inputs["dre"], vector_dir / f"dre_head{head}_{sim}.npz",
                                    want=golden["dre"], sim=sim, build_root=build_root,
                                    waves=waves, log=f"test_head{head}.log",
                                    progress=progress)
        stats["rtl_seconds"] = round(time.perf_counter() - start, 1)
        stats["rtl_cycles"] = None if rtl is None else int(rtl["cycles"])
        stats["rtl_differs"] = mismatch.differs if mismatch else []
        stats["rtl_mismatch"] = mismatch.as_dict() if mismatch else None
        if mismatch:
            print(f"head {head}: {mismatch.report()}")
    return stats


SYNTH_CHOICES = ("generic", "full", "none")


def run_flow(config: Config, out: Path, *, config_name: str = "default",
             sim: str | None = "icarus", synth: str = "generic", model: str | None = "smollm2",
             frames: int = 16, waves: bool = False, progress=None) -> dict:
    """Run the flow into ``out``; ``sim=None`` skips the RTL simulation, ``synth`` is one of
    :data:`SYNTH_CHOICES` (generic gates only, with FPGA resources and Fmax, or none; cached
    in ``out/synth``), ``model`` names the real model evaluated in the loop (``--gguf``'s
    forms; None skips it), ``frames`` the synthetic trace's frames, ``waves`` keeps every
    head's waveform (a head that differs keeps one anyway). The report's ``rtl_agrees`` is
    false if any simulated output differs from the golden model; each such head's
    ``rtl_mismatch`` says where it first did and names its waveform."""
    if synth not in SYNTH_CHOICES:
        raise ValueError(f"synth must be one of {', '.join(SYNTH_CHOICES)}, not {synth!r}")
    from vrex.rtl.generate import generate
    out.mkdir(parents=True, exist_ok=True)
    vector_dir = out / "vectors"
    trace = generate_trace(TraceParams(frames=frames))
    save_trace(out / "trace.npz", trace)
    (out / "config.toml").write_text(config.to_toml())
    description = generate("dre", config, out / "rtl")
    heads, start = [], time.perf_counter()
    for h in range(trace.heads):
        if progress:
            progress(f"flow: head {h + 1} of {trace.heads}: golden model"
                     + (f" and {sim}" if sim else ""))
        heads.append(_head_stats(trace, config, h, vector_dir, sim, out / "sim", waves,
                                 progress))
        if progress and h + 1 < trace.heads:
            each = (time.perf_counter() - start) / (h + 1)
            progress(f"flow: head {h + 1} done; the other heads take about "
                     f"{each * (trace.heads - h - 1):.0f} s more")
    report = {
        "config": config_name,
        "parameters": config.as_dict(),
        "rtl": {"directory": "rtl", "files": [description["verilog"],
                                             *description["files"].values()],
                "simulator": sim,
                "agrees": None if sim is None else all(not h["rtl_differs"] for h in heads)},
        "trace": {"frames": trace.frames, "tokens": trace.tokens, "heads": trace.heads,
                  "head_dim": trace.head_dim, "text_queries": int(trace.text_queries.shape[0])},
        "heads": heads,
        "synth": None,
        "model": None,
    }
    if synth != "none":
        from vrex.synth.report import synth_report
        report["synth"] = synth_report(config, families=("ice40", "ecp5") if synth == "full"
                                       else (), build_root=out / "synth", before=False,
                                       progress=progress)
    if model is not None:
        from vrex.scripts.model_eval import flow_model_section
        report["model"] = flow_model_section(config, model, progress=progress)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(_markdown(report))
    print(_markdown(report))
    print(f"report: {out / 'report.md'}")
    return report


def _markdown(report: dict) -> str:
    t = report["trace"]
    rtl = report["rtl"]
    if rtl["simulator"] is None:
        verdict = "RTL not simulated (`--sim none`)."
    else:
        seconds = sum(h["rtl_seconds"] for h in report["heads"])
        verdict = (f"RTL ({rtl['simulator']}, {seconds:.0f} s): "
                   + ("every output equals the golden model, cycles included."
                      if rtl["agrees"] else "**DIFFERS** from the golden model in "
                      + ", ".join(f"head {h['head']}: {', '.join(h['rtl_differs'])}"
                                  for h in report["heads"] if h["rtl_differs"]) + "."))
        for h in report["heads"]:
            m = h.get("rtl_mismatch")
            if m:
                verdict += (f"\n\n- head {h['head']}: first differing beat: "
                            f"{m['first_beat'] or 'none (every beat as expected)'}"
                            + (f" at cycle {m['cycle']}" if m["cycle"] is not None else "")
                            + (f"; waveform `{m['waveform']}`" if m["waveform"] else "")
                            + (f", picture `{m['picture']}`" if m["picture"] else ""))
    mhz, clock = report_clock(report["synth"])
    lines = [
        f"# vrex flow: configuration `{report['config']}`",
        "",
        f"Trace: {t['frames']} frames x {t['tokens']} tokens x {t['heads']} heads x "
        f"{t['head_dim']} dims, {t['text_queries']} text queries.",
        "",
        f"Verilog package in `{rtl['directory']}/`: {', '.join(rtl['files'])}.",
        "",
        verdict,
        "",
        f"Golden model per KV head (terms in the glossary below); time at {clock}.",
        "",
        "| head | tokens | clusters | tokens/cluster | queries | retrieval ratio | descriptors "
        "| HCU cycles | HCU cycles, no early exit | WTU cycles | DRE cycles | time, us "
        "| tokens/s | overflow |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for h in report["heads"]:
        flags = [name for name in ("cluster_overflow", "page_overflow") if h[name]]
        micro = h["dre_cycles"] / mhz
        lines.append(
            f"| {h['head']} | {h['tokens']} | {h['clusters']} | {h['tokens_per_cluster']} "
            f"| {h['queries']} | {h['retrieval_ratio']:.1%} | {h['descriptors']} "
            f"| {h['hcu_cycles']} | {h['hcu_cycles_no_early_exit']} | {h['wtu_cycles']} "
            f"| {h['dre_cycles']} | {micro:.1f} | {h['tokens'] / micro * 1e6:,.0f} "
            f"| {', '.join(flags) or 'none'} |")
    lines += ["", *config_markdown(load_config_or(report))]
    if report["synth"]:
        lines += ["", *_synth_markdown(report["synth"])]
    if report["model"]:
        from vrex.scripts.model_eval import flow_model_markdown
        lines += ["", *flow_model_markdown(report["model"])]
    lines += ["", *glossary_markdown()]
    return "\n".join(lines) + "\n"


def load_config_or(report: dict) -> Config:
    """The configuration the report was made with (its ``parameters``)."""
    return Config.from_mapping(report["parameters"], where="report.json")


def _synth_markdown(synth: dict) -> list[str]:
    """The synthesis summary: logic and memory per unit, FPGA figures where they were run,
    area at 14 nm, and the targets of the preset (the paper's areas, its clock)."""
    units = synth["units"]
    families = [f for f in ("ice40", "ecp5") if any(f in u for u in units.values())]
    area = synth["area_14nm"]["units"]
    paper = any(a.get("paper_mm2") for a in area.values())
    head = "| unit | kGE | transistors | memory bits | area at 14 nm, mm2 |" + \
        (" paper mm2 | ours/paper |" if paper else "")
    rule = "|---|---|---|---|---|" + ("---|---|" if paper else "")
    for family in families:
        device = next(u[family]["device"] for u in units.values() if family in u)
        head += f" {device}: LUT4 / FF / Fmax MHz |"
        rule += "---|"
    lines = ["## Synthesis (`vrex synth`)", "", head, rule]
    for name, u in units.items():
        row = (f"| {name} | {u['kge']:.2f} | {u['transistors']} | {u['memory_bits']} "
               f"| {area[name]['total_mm2']:.4f} |")
        if paper:
            theirs = area[name].get("paper_mm2")
            row += (f" {theirs:.4f} | {area[name]['total_mm2'] / theirs:.2f} |" if theirs
                    else " - | - |")
        for family in families:
            f = u[family]
            fmax = f"{f['fmax_mhz']:.1f}" if f["fmax_mhz"] is not None else "does not fit"
            row += f" {f['lut4']} / {f['ff']} / {fmax} |"
        lines.append(row)
    verdicts = []
    for name, u in units.items():
        area = synth["area_14nm"]["units"][name].get("verdict")
        if area:
            verdicts.append(f"{name}, area at 14 nm against the paper's: {area}")
        for family in families:
            target = u[family].get("target_fmax_mhz")
            if target is not None:
                line = verdict_of(u[family]["fmax_mhz"], target, "MHz", at_most=False,
                                  why=WHY["fmax_mhz"].get(name)) or \
                    f">= {target:g} MHz: MISSED, it does not fit"
                verdicts.append(f"{name} on the {u[family]['device']}: {line}")
    if verdicts:
        lines += ["", "Targets:", ""] + [f"- {v}" for v in verdicts]
    return lines
