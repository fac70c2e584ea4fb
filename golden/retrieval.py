"""Which older tokens an attention step retrieves: ReSV (SPEC 1, through the golden HCU and WTU
models) and the baselines it is measured against, at the same token budget.

One KV head, one step: ``queries`` are the step's query rows (every query head of the GQA
group, every query token of the batch), ``keys`` the cached keys a method chooses among (the
older tokens; the sink prefix, the recent window and the batch's own tokens are attended by
every method and are not passed here). Both the trace-level evaluation (``golden/resv.py``)
and the model in the loop (``vrex.model.loop``) call these functions, so a method is defined
once.

ReSV selections (``SELECTIONS``), each returning the clusters kept (OR over rows):

- ``int-bucketed``: what the DRE does: ``score_bits`` integer scores (one scale a batch,
  ``hashing.host_scores``; in mode ``exp`` log2 units), the WTU's bucketed WiCSum;
- ``int-exact``: the paper's exact sorted WiCSum on the same integers;
- ``float-bucketed``: the WTU's bucket rule on float scores;
- ``float-exact``: the exact sorted rule on float scores (no hardware approximation).

Baselines (``BASELINES``), given a budget of older tokens:

- ``topk-token``: the tokens with the highest ``q . k`` of any row (InfiniGen-like, with exact
  scores: an upper bound for it);
- ``topk-frame``: whole frames by their mean key's best score (ReKV-like);
- ``topk-page``: whole pages of ``page_tokens`` by the Quest bound
  ``sum_d max(q_d min_d, q_d max_d)`` over each page's per-dimension key minimum and maximum,
  the best that fit the budget (never more than it);
- ``streaming``: the first ``STREAMING_SINKS`` tokens and the newest older tokens
  (StreamingLLM-like: attention sinks and a longer recent window);
- ``window``: nothing older (the recent window alone).
"""

from __future__ import annotations

import numpy as np

from .config import Config, Mode
from .hashing import attention_logits, host_scores
from .wtu import bucket_keys, exact_wicsum, fewest_highest, run_wtu, values

__all__ = ["SELECTIONS", "BASELINES", "STREAMING_SINKS", "wicsum_float",
           "wicsum_float_bucketed", "resv_clusters", "baseline_tokens"]

SELECTIONS = ("int-bucketed", "int-exact", "float-bucketed", "float-exact")
BASELINES = ("topk-token", "topk-frame", "topk-page", "streaming", "window")
# StreamingLLM keeps four initial tokens as attention sinks.
STREAMING_SINKS = 4


def wicsum_float(scores, counts, ratio: float, mode: Mode) -> np.ndarray:
    """Exact sorted WiCSum on float scores: per row the fewest highest values whose
    count-weighted sum passes ``ratio`` of the row's total (every cluster if none does);
    ``bool[R, C]``."""
    scores = np.asarray(scores, dtype=np.float64)
    v = values(scores, mode)
    weighted = v * np.asarray(counts, dtype=np.float64)[None, :]
    return fewest_highest(bucket_keys(scores, v, mode), weighted, ratio * weighted.sum(axis=1))


def wicsum_float_bucketed(scores, counts, ratio: float, mode: Mode, buckets: int) -> np.ndarray:
    """SPEC 3's bucket rule on float values: ``buckets`` equal-width buckets from the highest
    value down, every cluster of the buckets up to the first whose prefix passes the
    threshold (the last bucket if none does); ``bool[R, C]``."""
    scores = np.asarray(scores, dtype=np.float64)
    v = values(scores, mode)
    weighted = v * np.asarray(counts, dtype=np.float64)[None, :]
    threshold = ratio * weighted.sum(axis=1)
    key = bucket_keys(scores, v, mode)
    lo, hi = key.min(axis=1, keepdims=True), key.max(axis=1, keepdims=True)
    width = np.where(hi > lo, (hi - lo) / buckets, 1.0)
    bucket = np.minimum(((hi - key) / width).astype(np.int64), buckets - 1)
    prefix = np.stack([(weighted * (bucket <= b)).sum(axis=1) for b in range(buckets)], axis=1)
    passed = prefix > threshold[:, None]
    exit_bucket = np.where(passed.any(axis=1), passed.argmax(axis=1), buckets - 1)
    return bucket <= exit_bucket[:, None]


def resv_clusters(selection: str, queries, cluster_keys, counts, config: Config) -> np.ndarray:
    """The clusters a ReSV selection keeps for one batch of query rows: ``bool[C]``, the OR
    over the rows of each row's WiCSum selection. Integer scores are the host's
    (``hashing.host_scores``); float scores in mode ``exp`` are the logits in log2 units."""
    if selection not in SELECTIONS:
        raise ValueError(f"selection must be one of {', '.join(SELECTIONS)}, not {selection!r}")
    counts = np.asarray(counts)
    if counts.size == 0:
        return np.zeros(0, dtype=bool)
    exp = config.mode is Mode.EXP
    if selection.startswith("float"):
        scores = np.asarray(queries, dtype=np.float64) @ np.asarray(cluster_keys).T
        if exp:                          # log2 units: v = 2**(s - max(s)) is softmax weight
            scores = attention_logits(scores, queries) * np.log2(np.e)
        ratio = config.ratio / 65536
        rows = (wicsum_float(scores, counts, ratio, config.mode) if selection == "float-exact"
                else wicsum_float_bucketed(scores, counts, ratio, config.mode, config.buckets))
    else:
        scores = host_scores(queries, cluster_keys, config)
        rows = (run_wtu(scores, counts, config).row_select if selection == "int-bucketed"
                else exact_wicsum(scores, counts, config))
    return rows.any(axis=0)


def _top(score: np.ndarray, take: int) -> np.ndarray:
    """Indices of the ``take`` highest scores, ties to the smaller index."""
    return np.argsort(-score, kind="stable")[:take]


def baseline_tokens(name: str, queries, keys, budget: int, *, frame_tokens: int,
                    page_tokens: int, first: int = 0, sinks: int = STREAMING_SINKS
                    ) -> np.ndarray:
    """The older tokens a baseline keeps: ``bool[len(keys)]``.

    ``keys`` are the older tokens, the first of them at absolute position ``first``; frames
    (``frame_tokens``) and pages (``page_tokens``) are cut at absolute positions that are
    multiples of their size. ``budget`` is the number of tokens the baseline may keep: frames
    and pages round it to the nearest whole number of them (at least one: their unit of
    retrieval), the others keep exactly ``budget``. ``sinks`` is the number of initial tokens
    ``streaming`` keeps (0 where a sink prefix is attended anyway).
    """
    if name not in BASELINES:
        raise ValueError(f"baseline must be one of {', '.join(BASELINES)}, not {name!r}")
    keys = np.asarray(keys, dtype=np.float64)
    old = keys.shape[0]
    mask = np.zeros(old, dtype=bool)
    budget = min(int(budget), old)
    if name == "window" or old == 0 or budget <= 0:
        return mask
    if name == "streaming":
        head = min(sinks, budget)
        mask[:head] = True
        mask[old - (budget - head):] = True
        return mask
    q = np.asarray(queries, dtype=np.float64)
    if name == "topk-token":
        mask[_top((q @ keys.T).max(axis=0), budget)] = True
        return mask
    size = frame_tokens if name == "topk-frame" else page_tokens
    # Groups cut at absolute multiples of their size; the first and last may be partial.
    edges = np.unique(np.concatenate([[0], np.arange(-first % size, old, size), [old]]))
    starts, stops = edges[:-1], edges[1:]
    if name == "topk-frame":
        means = np.add.reduceat(keys, starts, axis=0) / (stops - starts)[:, None]
        score = (q @ means.T).max(axis=0)
    else:
        lo = np.minimum.reduceat(keys, starts, axis=0)
        hi = np.maximum.reduceat(keys, starts, axis=0)
        score = np.maximum(q[:, None, :] * lo[None], q[:, None, :] * hi[None]).sum(axis=2)
        score = score.max(axis=0)
    # A whole number of groups, the nearest to the budget and at least one: a frame or a
    # page is these methods' unit of retrieval, so below a group they still fetch one.
    for g in _top(score, max(1, round(budget / size))):
        mask[starts[g]:stops[g]] = True
    return mask
