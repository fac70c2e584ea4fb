"""`vrex bench kv`: what the cluster-paged KV layout saves in AXI4 read bursts (SPEC 7).

Every query of every KV head of a trace runs through the golden DRE; its descriptors are
fetched from the cluster-paged layout (one region per page, `golden/kv.py`) and the same
tokens from a token-order layout (one region per run of consecutive tokens), both cut into
INCR bursts by the same two rules. The bytes moved are the same; the bursts are not.
"""

from __future__ import annotations

import numpy as np

from vrex.golden.config import Config
from vrex.golden.kv import KvParams, fetch_kv

__all__ = ["bench_kv_layout", "KV_LAYOUT_TARGET"]

# Issue target: the paged layout needs at least this many times fewer bursts than token order
# on the default trace.
KV_LAYOUT_TARGET = 4.0


def _layout_figures(trace, config: Config, params: KvParams, rows: int) -> dict:
    from vrex.golden.dre import run_dre
    from vrex.golden.stimulus import trace_vectors
    totals = dict(queries=0, descriptors=0, tokens=0, paged=0, token_order=0, beats=0)
    for head in range(trace.heads):
        a = trace_vectors("dre", trace, config, head=head, rows=rows).arrays
        result = run_dre(a["hashes"], a["frame_end"], a["query_after"], a["query_rows"],
                         a["scores"], config)
        slot = np.where(result.slot == config.no_slot, -1, result.slot)
        kv = np.zeros((slot.size, params.kv_bytes), dtype=np.uint8)
        fetch = fetch_kv(kv, slot, result.descriptors, params, config.page_tokens)
        totals["queries"] += int(a["query_after"].size)
        totals["descriptors"] += len(result.descriptors)
        totals["tokens"] += int(fetch.fetched_slot.size)
        totals["paged"] += fetch.bursts
        totals["token_order"] += fetch.baseline_bursts
        totals["beats"] += fetch.beats
    return totals


def bench_kv_layout(*, trace=None, name: str = "default trace", bus_bytes: int = 16,
                    max_burst: int = 256, kv_bytes: int | None = None, rows: int = 16,
                    config: Config | None = None) -> dict:
    """Bursts and bytes per burst of the paged layout against token order, printed; returns
    the figures. ``kv_bytes`` defaults to fp16 K and V of one head (``4 * head_dim``)."""
    from vrex.golden.trace import generate_trace
    config = config or Config()
    trace = trace if trace is not None else generate_trace()
    params = KvParams(kv_bytes=kv_bytes or 4 * trace.head_dim, bus_bytes=bus_bytes,
                      max_burst=max_burst)
    t = _layout_figures(trace, config, params, rows)
    moved = t["beats"] * params.bus_bytes
    ratio = t["token_order"] / t["paged"] if t["paged"] else float("nan")
    print(f"KV fetch bursts, {name}: {trace.heads} heads, {t['queries']} queries, "
          f"{t['tokens']} tokens fetched ({moved} bytes); kv_bytes {params.kv_bytes} "
          f"(stride {params.stride}), {params.bus_bytes}-byte bus, bursts of at most "
          f"{params.max_burst} beats, {config.page_tokens} tokens a page")
    print(f"  {'layout':<14}{'bursts':>9}{'bytes/burst':>13}")
    for label, bursts in (("cluster-paged", t["paged"]), ("token order", t["token_order"])):
        per = moved / bursts if bursts else 0.0
        print(f"  {label:<14}{bursts:>9}{per:>13.1f}")
    verdict = ("met" if ratio >= KV_LAYOUT_TARGET else "MISSED") if name == "default trace" \
        else "reported"
    target = f" (target at least {KV_LAYOUT_TARGET:g}x: {verdict})" \
        if name == "default trace" else ""
    print(f"  token order needs {ratio:.2f}x the bursts of the paged layout{target}")
    return {**t, "bytes": moved, "ratio": ratio, "kv_bytes": params.kv_bytes,
            "bus_bytes": params.bus_bytes, "max_burst": params.max_burst}
