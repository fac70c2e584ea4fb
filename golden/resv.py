"""ReSV end to end (SPEC 1) on a trace: which tokens each attention step retrieves, light
attention over them, and how close it comes to full attention; beside the baselines, at the
same token budget. The methods themselves (``SELECTIONS``, ``BASELINES``) are defined once,
in ``retrieval.py``.

One KV head at a time. The cache grows frame by frame; the HCU model clusters every key as it
arrives (SPEC 2, the hardware's own rule) from token ``trace.sink`` on. An attention step is
a batch of query rows (the picked tokens times every query head of the KV head's GQA group)
against the cache of that moment and, causally, the step's own tokens:

- frame prefill: ``rows`` tokens of frame ``f + 1`` against frames ``0 .. f`` and frame
  ``f + 1`` itself, a row at token ``t`` seeing its tokens ``0 .. t``;
- text generation: the text queries against every frame and the text tokens, query ``i``
  seeing text tokens ``0 .. i`` (a trace without text keys: the frames only).

Every method attends the sink prefix (the first ``trace.sink`` tokens), the recent window (the
newest ``window`` tokens of the cache) and the step's own tokens; the methods choose among the
rest of the cache, the *older* tokens (a step with none is skipped). ReSV attends every older
token of the clusters its selection keeps; each baseline gets the number of older tokens
``resv/int-bucketed`` (the hardware) retrieved in that step.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .config import Config
from .hashing import cluster_means, hash_keys, hyperplanes
from .hcu import HcuModel
from .retrieval import BASELINES, SELECTIONS, STREAMING_SINKS, baseline_tokens, resv_clusters
from .stimulus import row_pick
from .trace import Trace

__all__ = ["SELECTIONS", "BASELINES", "Step", "steps", "attention", "step_metrics",
           "evaluate_head", "BYTES_PER_ELEMENT"]

BYTES_PER_ELEMENT = 2              # fp16 keys and values


@dataclasses.dataclass(frozen=True)
class Step:
    """One attention step of one KV head.

    Members
    -------
    kind : str
        ``"prefill"`` or ``"text"``.
    frames : int
        Frames in the cache.
    queries : float[R, D]
        The query rows, token-major: G rows (the group's query heads) a token.
    positions : int[R]
        Each row's token within the step's own block, for causality.
    block_keys, block_values : float[B, D]
        The step's own tokens: frame ``frames`` for prefill, the text tokens for text
        (``B = 0`` when the trace has no text keys).
    """

    kind: str
    frames: int
    queries: np.ndarray
    positions: np.ndarray
    block_keys: np.ndarray
    block_values: np.ndarray


def steps(trace: Trace, head: int, rows: int) -> list[Step]:
    """The attention steps of one head: ``rows`` prefill tokens of each frame after the
    first (spread evenly over the frame), then the text queries."""
    group = trace.group
    out = []
    for f in range(trace.frames - 1):
        picked = row_pick(trace.tokens, rows)
        out.append(Step("prefill", f + 1, trace.query_rows(head, f + 1, picked),
                        np.repeat(picked, group), trace.keys[f + 1, :, head],
                        trace.values[f + 1, :, head]))
    if trace.text_tokens:
        out.append(Step("text", trace.frames, trace.text_query_rows(head),
                        np.repeat(np.arange(trace.text_tokens), group),
                        trace.text_keys[:, head], trace.text_values[:, head]))
    return out


def attention(queries, keys, values, mask=None) -> tuple[np.ndarray, np.ndarray]:
    """Softmax attention of ``queries`` over the ``keys`` where ``mask`` (``bool[N]``, or
    ``bool[R, N]`` a row; all when None) is set, ``q . k`` divided by ``sqrt(D)``: the outputs
    ``[R, D]`` and the weights ``[R, N]``. A row that attends nothing outputs zeros."""
    q = np.asarray(queries, dtype=np.float64)
    logits = q @ np.asarray(keys, dtype=np.float64).T / np.sqrt(q.shape[1])
    if mask is not None:
        logits = np.where(np.broadcast_to(np.asarray(mask, dtype=bool), logits.shape), logits,
                          -np.inf)
    top = logits.max(axis=1, keepdims=True, initial=-np.inf)
    weights = np.exp(logits - np.where(np.isfinite(top), top, 0.0))
    total = weights.sum(axis=1, keepdims=True)
    weights /= np.where(total > 0, total, 1.0)
    return weights @ np.asarray(values, dtype=np.float64), weights


def step_metrics(queries, keys, values, mask, chosen, *, visible=None,
                 cached: int | None = None) -> dict:
    """How light attention over ``mask`` compares with full attention.

    Parameters
    ----------
    queries : float[R, D]
    keys, values : float[N, D]
        Every token of the step: the cache, then the step's own tokens.
    mask : bool[N]
        The tokens light attention attends (within ``visible``).
    chosen : bool[N]
        The older tokens the methods choose among.
    visible : bool[R, N], optional
        What each row may attend (causality); full attention attends all of it. All when
        None.
    cached : int, optional
        The first ``cached`` tokens are the KV cache (default: all); ``attended_tokens`` and
        ``kv_bytes`` count the attended ones, what is fetched.

    Returns
    -------
    dict
        ``retrieval_ratio`` and ``retrieved_tokens`` (chosen tokens attended), ``keeps_all``
        (every chosen token attended), ``attended_tokens``, ``mass_recall`` (full attention's
        weight on the attended tokens, mean over rows), ``output_error`` (below),
        ``kv_bytes``.

    ``output_error`` is ``|o_light - o_full| / sqrt(sum_j w_j |v_j|^2)``, mean over rows: the
    attention-weighted RMS value norm, with ``w`` full attention's weights or light
    attention's where that gives more. Either output is at most its own RMS norm (Jensen), so
    the error is at most 2; full weights alone would not bound it (light attention on a
    large value that full attention barely weighs).
    """
    keys, values = np.asarray(keys, dtype=np.float64), np.asarray(values, dtype=np.float64)
    mask, chosen = np.asarray(mask, dtype=bool), np.asarray(chosen, dtype=bool)
    rows, n = np.shape(queries)[0], keys.shape[0]
    visible = np.ones((rows, n), dtype=bool) if visible is None else np.asarray(visible, bool)
    cached = n if cached is None else cached
    light_visible = visible & mask[None, :]
    full, weights = attention(queries, keys, values, visible)
    light, light_weights = attention(queries, keys, values, light_visible)
    power = (values * values).sum(axis=1)
    rms = np.sqrt(np.maximum(weights @ power, light_weights @ power))
    # rms is 0 only where every attended value is 0: then both outputs are 0 too.
    error = np.linalg.norm(light - full, axis=1) / np.where(rms > 0, rms, 1.0)
    candidates, retrieved = int(chosen.sum()), int((mask & chosen).sum())
    attended = int(mask[:cached].sum())
    return {
        "retrieval_ratio": retrieved / candidates if candidates else 0.0,
        "retrieved_tokens": retrieved,
        "keeps_all": bool(candidates) and retrieved == candidates,
        "attended_tokens": attended,
        "mass_recall": float((weights * light_visible).sum(axis=1).mean()),
        "output_error": float(error.mean()),
        "kv_bytes": attended * 2 * keys.shape[1] * BYTES_PER_ELEMENT,
    }


def _check(trace: Trace, head: int, rows: int, window: int, selections, baselines) -> None:
    if not 0 <= head < trace.heads:
        raise ValueError(f"head must be in 0..{trace.heads - 1}, not {head!r}")
    if rows < 1:
        raise ValueError(f"rows must be a positive integer, not {rows}")
    if window < 0:
        raise ValueError(f"window must be >= 0 tokens, not {window}")
    for s in selections:
        if s not in SELECTIONS:
            raise ValueError(f"selection must be one of {', '.join(SELECTIONS)}, not {s!r}")
    for b in baselines:
        if b not in BASELINES:
            raise ValueError(f"baseline must be one of {', '.join(BASELINES)}, not {b!r}")


def evaluate_head(trace: Trace, head: int, config: Config, *, rows: int = 16,
                  window: int | None = None, hash_seed: int = 0,
                  selections=SELECTIONS, baselines=BASELINES) -> list[dict]:
    """Every attention step of KV head ``head`` (:func:`steps`) under every method.

    Parameters
    ----------
    trace : Trace
    head : int
        The KV head; its whole GQA group of query heads queries.
    config : Config
        The DRE configuration (HCU, WTU and ``page_tokens`` for ``topk-page``).
    rows : int
        Prefill tokens a frame (spread over it); each gives G query rows.
    window : int, optional
        The recent window in tokens (default: one frame).
    hash_seed : int
        Seed of the hashing hyperplanes.
    selections, baselines : iterable of str
        ReSV selections and baselines to run; ``int-bucketed`` always runs, as it sets the
        baselines' budget.

    Returns
    -------
    list of dict
        One record per step and method: the step (``head``, ``kind``, ``frames``, ``tokens``
        in the cache, query ``rows``, ``group``, ``sink``, ``candidates`` older tokens), the
        ``method``, :func:`step_metrics`, and for ReSV ``clusters``, ``selected_clusters``
        and ``tokens_per_cluster``.

    Raises
    ------
    ValueError
        Naming the argument out of range.
    """
    window = trace.tokens if window is None else window
    _check(trace, head, rows, window, selections, baselines)
    selections = list(dict.fromkeys(["int-bucketed", *selections]))
    sink, dim = trace.sink, trace.head_dim
    keys_all = trace.keys[:, :, head].reshape(-1, dim)
    values_all = trace.values[:, :, head].reshape(-1, dim)
    # The sink prefix is attended by every method, so it is neither clustered nor chosen.
    hashes = hash_keys(keys_all[sink:], hyperplanes(dim, config.hash_bits, hash_seed))
    hcu = HcuModel(config)
    cluster = np.full(keys_all.shape[0], -1, dtype=np.int64)
    clustered = sink
    # StreamingLLM's own sinks only where the trace has no sink prefix that all attend.
    streaming_sinks = 0 if sink else STREAMING_SINKS
    records = []
    for step in steps(trace, head, rows):
        end = step.frames * trace.tokens
        if end > clustered:
            cluster[clustered:end] = hcu.push(hashes[clustered - sink:end - sink])
            clustered = end
        older = max(sink, end - window)             # the older tokens: sink .. older - 1
        if older == sink:                           # nothing to choose, nothing to learn
            continue
        block = step.block_keys.shape[0]
        keys = np.concatenate([keys_all[:end], step.block_keys])
        values = np.concatenate([values_all[:end], step.block_values])
        visible = np.ones((step.queries.shape[0], end + block), dtype=bool)
        visible[:, end:] = np.arange(block)[None, :] <= step.positions[:, None]
        chosen = np.zeros(end + block, dtype=bool)
        chosen[sink:older] = True
        attend = (step.queries, keys, values)
        counts = hcu.counts
        means = cluster_means(keys_all[sink:end], cluster[sink:end], counts.size)
        base = {"head": head, "kind": step.kind, "frames": step.frames, "tokens": end,
                "rows": int(step.queries.shape[0]), "group": trace.group, "sink": sink,
                "candidates": older - sink}
        budget = None
        for selection in selections:
            kept = resv_clusters(selection, step.queries, means, counts, config)
            mask = ~chosen            # the sink prefix, the recent window, the step's own
            mask[sink:older] = kept[cluster[sink:older]]
            metrics = step_metrics(*attend, mask, chosen, visible=visible, cached=end)
            if selection == "int-bucketed":
                budget = metrics["retrieved_tokens"]
            records.append({**base, "method": f"resv/{selection}", **metrics,
                            "clusters": int(counts.size), "selected_clusters": int(kept.sum()),
                            "tokens_per_cluster": (end - sink) / max(1, counts.size)})
        for name in baselines:
            mask = ~chosen
            mask[sink:older] = baseline_tokens(
                name, step.queries, keys_all[sink:older], budget, frame_tokens=trace.tokens,
                page_tokens=config.page_tokens, first=sink, sinks=streaming_sinks)
            records.append({**base, "method": name,
                            **step_metrics(*attend, mask, chosen, visible=visible, cached=end)})
    return records
