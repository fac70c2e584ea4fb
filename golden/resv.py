"""ReSV end to end (SPEC 1) on a trace: which tokens each attention step retrieves, light
attention over them, and how close it comes to full attention; with the baselines users
compare ReSV with, at the same token budget.

One KV head at a time. The cache grows frame by frame; the HCU model clusters every key as it
arrives (SPEC 2, the hardware's own rule). An attention step is a batch of queries against
the cache of that moment:

- frame prefill: ``rows`` queries of frame ``f + 1`` against frames ``0 .. f``;
- text generation: the text queries against every frame.

The newest ``window`` tokens of the cache are always attended (the recent window); ReSV and
the baselines choose among the older ones (steps with none are skipped). Selections
(``SELECTIONS``):

- ``int-bucketed``: what the DRE does: integer scores of ``score_bits`` (one scale a batch,
  ``trace.int_scores``), the WTU's bucketed WiCSum (``wtu.run_wtu``), OR over the rows;
- ``int-exact``: the paper's exact sorted WiCSum on the same integers (``wtu.exact_wicsum``);
- ``float-bucketed``: the WTU's bucket rule on the float scores (``buckets`` equal-width
  buckets from the highest value down; no integer rounding);
- ``float-exact``: the exact sorted WiCSum on the float scores ``Q @ Kc.T`` (the algorithm
  without any hardware approximation).

Baselines (``BASELINES``), given the number of older tokens the hardware selection retrieved
in that step: ``topk-token`` the tokens with the highest ``q . k`` of any query row
(InfiniGen-style, with exact scores: an upper bound for it); ``topk-frame`` the frames whose
mean key scores highest, as many as fit the budget (ReKV-style); ``window`` the recent window
alone (StreamingLLM-style).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .config import Config, Mode
from .hcu import HcuModel
from .trace import Trace, cluster_means, hash_keys, hyperplanes, int_scores
from .stimulus import row_pick
from .wtu import exact_wicsum, fewest_highest, run_wtu, values

__all__ = ["SELECTIONS", "BASELINES", "Step", "steps", "wicsum_float", "wicsum_float_bucketed",
           "attention", "step_metrics", "evaluate_head", "BYTES_PER_ELEMENT"]

SELECTIONS = ("int-bucketed", "int-exact", "float-bucketed", "float-exact")
BASELINES = ("topk-token", "topk-frame", "window")
BYTES_PER_ELEMENT = 2              # fp16 keys and values


@dataclasses.dataclass(frozen=True)
class Step:
    kind: str                      # "prefill" or "text"
    frames: int                    # frames in the cache
    queries: np.ndarray            # float[R, D]


def steps(trace: Trace, head: int, rows: int) -> list[Step]:
    """The attention steps of one head: ``rows`` prefill queries of each frame after the
    first (spread evenly over the frame), then the text queries."""
    out = []
    for f in range(trace.frames - 1):
        out.append(Step("prefill", f + 1,
                        trace.queries[f + 1, row_pick(trace.tokens, rows), head]))
    if trace.text_queries.shape[0]:
        out.append(Step("text", trace.frames, trace.text_queries[:, head]))
    return out


def wicsum_float(scores, counts, ratio: float, mode: Mode) -> np.ndarray:
    """Exact sorted WiCSum on float scores: per row the fewest highest values whose
    count-weighted sum passes ``ratio`` of the row's total (every cluster if none does);
    ``bool[R, C]``."""
    v = values(np.asarray(scores, dtype=np.float64), mode)
    weighted = v * np.asarray(counts, dtype=np.float64)[None, :]
    return fewest_highest(v, weighted, ratio * weighted.sum(axis=1))


def wicsum_float_bucketed(scores, counts, ratio: float, mode: Mode, buckets: int) -> np.ndarray:
    """SPEC 3's bucket rule on float values: ``buckets`` equal-width buckets from the highest
    value down, every cluster of the buckets up to the first whose prefix passes the
    threshold (the last bucket if none does); ``bool[R, C]``."""
    v = values(np.asarray(scores, dtype=np.float64), mode)
    weighted = v * np.asarray(counts, dtype=np.float64)[None, :]
    threshold = ratio * weighted.sum(axis=1)
    lo, hi = v.min(axis=1, keepdims=True), v.max(axis=1, keepdims=True)
    width = np.where(hi > lo, (hi - lo) / buckets, 1.0)
    bucket = np.minimum(((hi - v) / width).astype(np.int64), buckets - 1)
    prefix = np.stack([(weighted * (bucket <= b)).sum(axis=1) for b in range(buckets)], axis=1)
    passed = prefix > threshold[:, None]
    exit_bucket = np.where(passed.any(axis=1), passed.argmax(axis=1), buckets - 1)
    return bucket <= exit_bucket[:, None]


def attention(queries, keys, values, mask=None) -> tuple[np.ndarray, np.ndarray]:
    """Softmax attention of ``queries`` over the ``keys`` where ``mask`` is set (all when
    None): the outputs ``[R, D]`` and the weights ``[R, N]``."""
    q = np.asarray(queries, dtype=np.float64)
    logits = q @ np.asarray(keys, dtype=np.float64).T / np.sqrt(q.shape[1])
    if mask is not None:
        logits = np.where(np.asarray(mask, dtype=bool)[None, :], logits, -np.inf)
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    weights /= weights.sum(axis=1, keepdims=True)
    return weights @ np.asarray(values, dtype=np.float64), weights


def step_metrics(queries, keys, values, mask, old: int) -> dict:
    """How light attention over ``mask`` compares with full attention over the whole cache;
    the first ``old`` tokens are the ones a method chooses among."""
    full, weights = attention(queries, keys, values)
    light, _ = attention(queries, keys, values, mask)
    error = np.linalg.norm(light - full, axis=1) / np.maximum(np.linalg.norm(full, axis=1),
                                                              1e-300)
    mask = np.asarray(mask, dtype=bool)
    return {
        "retrieval_ratio": float(mask[:old].mean()) if old else 0.0,
        "retrieved_tokens": int(mask[:old].sum()),
        "attended_tokens": int(mask.sum()),
        "mass_recall": float((weights * mask[None, :]).sum(axis=1).mean()),
        "output_rel_error": float(error.mean()),
        "kv_bytes": int(mask.sum()) * 2 * keys.shape[1] * BYTES_PER_ELEMENT,
    }


def _resv_clusters(selection, queries, keys, cluster, counts, config: Config) -> np.ndarray:
    """The clusters a ReSV selection keeps for this batch of queries (OR over rows)."""
    n = counts.size
    means = cluster_means(keys, cluster, n)
    if selection.startswith("float"):
        scores = np.asarray(queries, dtype=np.float64) @ means.T
        ratio = config.ratio / 65536
        rows = (wicsum_float(scores, counts, ratio, config.mode) if selection == "float-exact"
                else wicsum_float_bucketed(scores, counts, ratio, config.mode, config.buckets))
    else:
        scores = int_scores(queries, means, config.score_bits)
        rows = (run_wtu(scores, counts, config).row_select if selection == "int-bucketed"
                else exact_wicsum(scores, counts, config))
    return rows.any(axis=0)


def _baseline_mask(name, queries, keys, old: int, budget: int, tokens_per_frame: int):
    mask = np.zeros(keys.shape[0], dtype=bool)
    mask[old:] = True                                        # the recent window
    if name == "window" or old == 0 or budget == 0:
        return mask
    q = np.asarray(queries, dtype=np.float64)
    if name == "topk-token":
        score = (q @ np.asarray(keys[:old], dtype=np.float64).T).max(axis=0)
        mask[np.argsort(-score, kind="stable")[:budget]] = True
        return mask
    # topk-frame: whole frames of the older part, by their mean key's best score.
    frames = -(-old // tokens_per_frame)
    starts = np.arange(frames) * tokens_per_frame
    means = np.stack([keys[s:min(s + tokens_per_frame, old)].mean(axis=0) for s in starts])
    score = (q @ means.T).max(axis=0)
    take = max(1, round(budget / tokens_per_frame))
    for f in np.argsort(-score, kind="stable")[:take]:
        mask[starts[f]:min(starts[f] + tokens_per_frame, old)] = True
    return mask


def evaluate_head(trace: Trace, head: int, config: Config, *, rows: int = 16,
                  window: int | None = None, hash_seed: int = 0,
                  selections=SELECTIONS, baselines=BASELINES) -> list[dict]:
    """One record per attention step and method: the step, the method and
    :func:`step_metrics`, plus for ReSV the clusters and their mean size. The baselines get
    the budget of ``int-bucketed`` (the hardware's selection), which is therefore always
    evaluated."""
    if not 0 <= head < trace.heads:
        raise ValueError(f"head must be in 0..{trace.heads - 1}, not {head!r}")
    if rows < 1:
        raise ValueError(f"rows must be a positive integer, not {rows}")
    window = trace.tokens if window is None else window
    if window < 0:
        raise ValueError(f"window must be >= 0 tokens, not {window}")
    for s in selections:
        if s not in SELECTIONS:
            raise ValueError(f"selection must be one of {', '.join(SELECTIONS)}, not {s!r}")
    for b in baselines:
        if b not in BASELINES:
            raise ValueError(f"baseline must be one of {', '.join(BASELINES)}, not {b!r}")
    selections = list(dict.fromkeys(["int-bucketed", *selections]))
    keys_all = trace.keys[:, :, head].reshape(-1, trace.head_dim)
    values_all = trace.values[:, :, head].reshape(-1, trace.head_dim)
    hashes = hash_keys(keys_all, hyperplanes(trace.head_dim, config.hash_bits, hash_seed))
    hcu = HcuModel(config)
    cluster = np.empty(hashes.size, dtype=np.int64)
    clustered = 0
    records = []
    for step in steps(trace, head, rows):
        end = step.frames * trace.tokens
        cluster[clustered:end] = hcu.push(hashes[clustered:end])
        clustered = end
        keys, values = keys_all[:end], values_all[:end]
        old = max(0, end - window)
        if old == 0:                  # all in the window: nothing to choose, nothing to learn
            continue
        counts = hcu.counts
        base = {"head": head, "kind": step.kind, "frames": step.frames, "tokens": end,
                "rows": int(step.queries.shape[0])}
        budget = None
        for selection in selections:
            kept = _resv_clusters(selection, step.queries, keys, cluster[:end], counts, config)
            mask = kept[cluster[:end]]
            mask[old:] = True
            metrics = step_metrics(step.queries, keys, values, mask, old)
            if selection == "int-bucketed":
                budget = metrics["retrieved_tokens"]
            records.append({**base, "method": f"resv/{selection}", **metrics,
                            "clusters": int(counts.size), "selected_clusters": int(kept.sum()),
                            "tokens_per_cluster": end / max(1, counts.size)})
        for name in baselines:
            mask = _baseline_mask(name, step.queries, keys, old, budget, trace.tokens)
            records.append({**base, "method": name,
                            **step_metrics(step.queries, keys, values, mask, old)})
    return records
