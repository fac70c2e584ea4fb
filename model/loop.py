"""ReSV in the loop of a real model: the text streamed frame after frame (then token after
token) through the model, every attention layer seeing only what a method retrieves plus the
sink, the recent window and its own chunk; the model's own predictions compared with full
attention's.

Per method: **perplexity** of the text's next tokens, **top-1 agreement** with the full model's
most likely token, mean **KL divergence** ``KL(full || method)`` of the next-token
distributions, next-token **accuracy**, all over the positions of chunks that had older tokens
to choose among (elsewhere every method is full attention); and the **retrieval**, the share
of the older tokens kept, per chunk, layer and KV head: its mean overall, per phase (frame
prefill, text generation) and per layer, and the number of choices that kept everything.
The baselines get, per chunk, layer and head, the number of older tokens ReSV as the DRE does
it (``resv/int-bucketed``) kept there.
"""

from __future__ import annotations

import numpy as np

from vrex.golden.config import Config
from vrex.golden.retrieval import BASELINES, SELECTIONS

from .llama import Llama, chunks_of, exp_floor, log_softmax
from .selectors import Selector, selector_for
from .text import Stream

__all__ = ["METHODS", "REFERENCE", "InLoop", "run_methods", "summarize_choices"]

REFERENCE = "resv/int-bucketed"
METHODS = ("full", *(f"resv/{s}" for s in SELECTIONS), *BASELINES)


def summarize_choices(log, video_tokens: int, layers: int) -> dict:
    """Retrieval figures of a selector's log (see the module docstring)."""
    if not log:
        return {"retrieval": 0.0, "choices": 0, "keep_all": 0}
    older = np.array([c.older for c in log])
    kept = np.array([c.retrieved for c in log])
    share = kept / older
    layer = np.array([c.layer for c in log])
    text = np.array([c.start >= video_tokens for c in log])
    out = {"retrieval": float(share.mean()), "choices": int(share.size),
           "keep_all": int((kept == older).sum())}
    for phase, where in (("prefill", ~text), ("text", text)):
        out[phase] = ({"retrieval": float(share[where].mean()),
                       "retrieval_median": float(np.median(share[where])),
                       "choices": int(where.sum()), "keep_all": int((kept == older)[where].sum())}
                      if where.any() else None)
    out["by_layer"] = [float(share[layer == i].mean()) for i in range(layers)]
    clusters = np.array([c.clusters for c in log])
    if clusters.any():
        selected = np.array([c.selected_clusters for c in log])
        out["clusters_by_layer"] = [float(clusters[layer == i].mean()) for i in range(layers)]
        out["selected_clusters_by_layer"] = [float(selected[layer == i].mean())
                                             for i in range(layers)]
        per = np.array([c.clustered for c in log]) / np.maximum(clusters, 1)
        out["tokens_per_cluster_by_layer"] = [float(per[layer == i].mean())
                                              for i in range(layers)]
    return out


class _Scorer:
    """Reduces each chunk's logits at the evaluated positions as the stream hands them over:
    per position the negative log-likelihood of the true next token, the most likely token,
    and KL(reference || this); the reference's own log-probabilities are kept (``lp``)."""

    def __init__(self, ids, positions, vocab: int, reference: "_Scorer | None", bar):
        self.ids, self.positions, self.reference, self.bar = ids, positions, reference, bar
        self.nll = np.zeros(positions.size)
        self.top = np.zeros(positions.size, dtype=np.int64)
        self.kl = np.zeros(positions.size)
        self.lp = np.empty((positions.size, vocab), np.float32) if reference is None else None

    def __call__(self, start, end, logits):
        self.bar.update(1)
        i, j = np.searchsorted(self.positions, [start, end])
        if i == j:
            return
        at = self.positions[i:j]
        lp = log_softmax(logits[at - start])
        self.nll[i:j] = -lp[np.arange(j - i), self.ids[at + 1]]
        self.top[i:j] = lp.argmax(axis=1)
        if self.reference is None:
            self.lp[i:j] = lp
        else:
            ref = self.reference.lp[i:j]
            self.kl[i:j] = (exp_floor(ref) * (ref - lp)).sum(axis=1)

    def figures(self, where) -> dict:
        """Perplexity, accuracy, top-1 agreement and KL over the positions ``where``."""
        top_ref = self.top if self.reference is None else self.reference.top
        return {"perplexity": float(np.exp(self.nll[where].mean())),
                "accuracy": float((self.top[where] == self.ids[self.positions + 1][where])
                                  .mean()),
                "top1_agreement": float((self.top[where] == top_ref[where]).mean()),
                "kl": float(self.kl[where].mean())}


class InLoop:
    """One model and one text stream, with full attention's predictions computed once as the
    reference; :meth:`run` evaluates a method against it.

    Parameters
    ----------
    model : Llama
    stream : Stream
        The text as frames and generated tokens.
    window : int, optional
        Recent-window tokens every method attends (default: one frame).
    sink : int
        Leading tokens every method attends (not clustered, not chosen among).
    progress : bool
        Show a progress bar per pass on stderr.
    """

    def __init__(self, model: Llama, stream: Stream, *, window: int | None = None,
                 sink: int = 0, progress: bool = False):
        window = stream.frame_tokens if window is None else window
        if isinstance(window, bool) or not isinstance(window, int) or window < 0:
            raise ValueError(f"window must be a non-negative number of tokens, not {window!r}")
        if isinstance(sink, bool) or not isinstance(sink, int) or not 0 <= sink < stream.tokens:
            raise ValueError(f"sink must be in 0..{stream.tokens - 1} tokens, not {sink!r}")
        self.model, self.stream, self.window, self.sink = model, stream, window, sink
        self.progress = progress
        self.ids = np.asarray(stream.ids)
        self.chunks = chunks_of(stream.tokens, stream.frame_tokens, stream.frames)
        # Positions that predict a next token, in chunks with older tokens to choose among.
        probe = Selector(window=window, sink=sink)
        self.positions = np.array([p for s, e in self.chunks for p in range(s, e)
                                   if p + 1 < stream.tokens
                                   and probe.older(s)[1] > probe.older(s)[0]], dtype=np.int64)
        if self.positions.size == 0:
            raise ValueError(f"no chunk has older tokens to choose among: {stream.frames} "
                             f"frames of {stream.frame_tokens} tokens with a {window}-token "
                             f"window and a {sink}-token sink")
        self.text = self.positions >= stream.video_tokens
        self.reference = None
        self.full = self.run("full", None)

    def run(self, method: str, config: Config | None, budgets: dict | None = None,
            hash_seed: int = 0) -> dict:
        """Figures of one method (``budgets`` for a baseline: the ``budgets`` entry of a
        ``resv/int-bucketed`` run's figures)."""
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
        selector = selector_for(method, config, self.model.shape, window=self.window,
                                sink=self.sink, frame_tokens=self.stream.frame_tokens,
                                budgets=budgets, hash_seed=hash_seed)
        with _bar(len(self.chunks), self.progress, method) as bar:
            scorer = _Scorer(self.ids, self.positions, self.model.shape.vocab, self.reference,
                             bar)
            self.model.stream(self.ids, self.chunks, selector, on_logits=scorer)
        if self.reference is None:
            self.reference = scorer
        figures = scorer.figures(slice(None))
        for phase, where in (("prefill", ~self.text), ("text", self.text)):
            figures[f"{phase}_quality"] = scorer.figures(where) if where.any() else None
        figures.update(summarize_choices(selector.log, self.stream.video_tokens,
                                         self.model.shape.layers))
        figures["selection_seconds"] = selector.seconds
        if method == REFERENCE:
            figures["budgets"] = {(c.start, c.layer, c.head): c.retrieved for c in selector.log}
        return figures


def run_methods(loop: InLoop, config: Config, methods=METHODS, *, hash_seed: int = 0
                ) -> dict[str, dict]:
    """Full attention's figures and those of ``methods``, ``resv/int-bucketed`` run first
    where a baseline needs its budgets (and left out of the result unless asked for);
    ``budgets`` are dropped."""
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, not {m!r}")
    results = {"full": loop.full}
    needs_budget = any(m in BASELINES for m in methods)
    order = ([REFERENCE] if REFERENCE in methods or needs_budget else []) + \
        [m for m in methods if m not in ("full", REFERENCE)]
    budgets = None
    for method in order:
        figures = loop.run(method, config, budgets, hash_seed)
        budgets = figures.pop("budgets", budgets)
        if method in methods:
            results[method] = figures
    return results


def _bar(total: int, enabled: bool, name: str):
    import sys
    from tqdm import tqdm
    return tqdm(total=total, unit="chunk", desc=name, disable=not enabled, file=sys.stderr,
                leave=False)
