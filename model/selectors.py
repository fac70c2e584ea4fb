"""What each attention layer of the model sees, method by method: the
:class:`~vrex.model.llama.Visibility` of ReSV (the golden HCU and WTU models in the loop) and of
the baselines (``vrex.golden.retrieval``).

Every method attends the sink prefix (the first ``sink`` tokens), the recent window (the
``window`` tokens before the chunk) and the chunk itself causally; it chooses among the tokens
between the sink and the window, the *older* tokens. Each choice is logged as a
:class:`Choice` per chunk, layer and KV head.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from vrex.golden.config import Config
from vrex.golden.hcu import HcuModel
from vrex.golden.retrieval import (BASELINES, SELECTIONS, STREAMING_SINKS, baseline_tokens,
                                   resv_clusters)
from vrex.golden.trace import hash_keys, hyperplanes

__all__ = ["Choice", "Selector", "FullSelector", "ResvSelector", "BaselineSelector",
           "selector_for"]


@dataclasses.dataclass(frozen=True)
class Choice:
    """One method's choice for one chunk, layer and KV head."""

    start: int                 # first token of the chunk
    layer: int
    head: int
    older: int                 # tokens it chose among
    retrieved: int             # of them, the ones it kept
    clusters: int = 0          # ReSV: clusters in the table, the ones kept, tokens clustered
    selected_clusters: int = 0
    clustered: int = 0


class Selector:
    """Base: the window arithmetic and the log. Subclasses choose among the older tokens
    (:meth:`choose`) and may watch every chunk's keys as they arrive (:meth:`arrive`)."""

    name = "full"

    def __init__(self, *, window: int, sink: int = 0):
        if window < 0 or sink < 0:
            raise ValueError(f"window and sink must be >= 0 tokens, not {window}, {sink}")
        self.window, self.sink = window, sink
        self.log: list[Choice] = []
        self.seconds = 0.0          # spent choosing and watching keys (benchmarks)

    def older(self, start: int) -> tuple[int, int]:
        """The older tokens of a chunk starting at ``start``: ``[sink, end)``."""
        return self.sink, max(self.sink, start - self.window)

    def __call__(self, layer, start, q, cache):
        began = time.perf_counter()
        first, stop = self.older(start)
        seen = None
        if stop > first:
            seen = np.ones((q.shape[1], start), dtype=bool)
            for h in range(q.shape[1]):
                keys = cache.keys[layer, h, first:stop]
                rows = q[:, h].reshape(-1, q.shape[-1])
                kept, extra = self.choose(layer, h, start, rows, keys)
                seen[h, first:stop] = kept
                self.log.append(Choice(start, layer, h, stop - first, int(kept.sum()), *extra))
        self.arrive(layer, start, q.shape[0], cache)
        self.seconds += time.perf_counter() - began
        return seen

    def choose(self, layer, head, start, rows, keys) -> tuple[np.ndarray, tuple]:
        return np.ones(keys.shape[0], dtype=bool), ()

    def arrive(self, layer, start, n, cache) -> None:
        pass


class FullSelector(Selector):
    """Full attention: every older token (the reference)."""


class ResvSelector(Selector):
    """ReSV as the DRE does it: each layer's and KV head's keys hashed as they arrive and
    clustered by the golden HCU model (from token ``sink`` on), cluster keys the running means
    of their members, and WiCSum by ``selection`` (``int-bucketed`` is the golden WTU on
    integer scores: the hardware, bit for bit)."""

    def __init__(self, selection: str, config: Config, *, layers: int, kv_heads: int,
                 head_dim: int, window: int, sink: int = 0, hash_seed: int = 0):
        super().__init__(window=window, sink=sink)
        if selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {', '.join(SELECTIONS)}, "
                             f"not {selection!r}")
        self.name = f"resv/{selection}"
        self.selection, self.config = selection, config
        self.planes = hyperplanes(head_dim, config.hash_bits, hash_seed)
        self.hcu = [[HcuModel(config) for _ in range(kv_heads)] for _ in range(layers)]
        # Cluster id of every clustered token (from the sink on), per layer and head.
        self.ids = [[np.zeros(0, dtype=np.int64) for _ in range(kv_heads)]
                    for _ in range(layers)]
        self.sums = np.zeros((layers, kv_heads, config.max_clusters, head_dim))
        self.members = np.zeros((layers, kv_heads, config.max_clusters), dtype=np.int64)

    def choose(self, layer, head, start, rows, keys):
        hcu = self.hcu[layer][head]
        n = hcu.n
        means = self.sums[layer, head, :n] / np.maximum(self.members[layer, head, :n, None], 1)
        kept = resv_clusters(self.selection, rows, means, hcu.counts, self.config)
        first, stop = self.older(start)
        tokens = kept[self.ids[layer][head][:stop - first]]
        return tokens, (n, int(kept.sum()), hcu.tokens)

    def arrive(self, layer, start, n, cache):
        begin = max(start, self.sink)
        if begin >= start + n:
            return
        for h in range(cache.keys.shape[1]):
            keys = cache.keys[layer, h, begin:start + n]
            ids = self.hcu[layer][h].push(hash_keys(keys, self.planes))
            np.add.at(self.sums[layer, h], ids, keys)
            np.add.at(self.members[layer, h], ids, 1)
            self.ids[layer][h] = np.concatenate([self.ids[layer][h], ids])


class BaselineSelector(Selector):
    """A baseline of ``vrex.golden.retrieval`` given, per chunk, layer and head, the number of
    older tokens a reference method (ReSV as the DRE does it) retrieved there."""

    def __init__(self, name: str, budgets: dict, *, frame_tokens: int, page_tokens: int,
                 window: int, sink: int = 0):
        super().__init__(window=window, sink=sink)
        if name not in BASELINES:
            raise ValueError(f"baseline must be one of {', '.join(BASELINES)}, not {name!r}")
        self.name, self.budgets = name, budgets
        self.frame_tokens, self.page_tokens = frame_tokens, page_tokens

    def choose(self, layer, head, start, rows, keys):
        first, _ = self.older(start)
        budget = self.budgets.get((start, layer, head), 0)
        kept = baseline_tokens(self.name, rows, keys, budget, frame_tokens=self.frame_tokens,
                               page_tokens=self.page_tokens, first=first,
                               sinks=0 if self.sink else STREAMING_SINKS)
        return kept, ()


def selector_for(method: str, config: Config, shape, *, window: int, sink: int,
                 frame_tokens: int, budgets: dict | None = None, hash_seed: int = 0
                 ) -> Selector:
    """The selector of a method name: ``full``, ``resv/<selection>`` or a baseline (which
    needs ``budgets``)."""
    if method == "full":
        return FullSelector(window=window, sink=sink)
    if method.startswith("resv/"):
        return ResvSelector(method[5:], config, layers=shape.layers, kv_heads=shape.kv_heads,
                            head_dim=shape.head_dim, window=window, sink=sink,
                            hash_seed=hash_seed)
    if budgets is None:
        raise ValueError(f"method {method!r} needs the budgets of a ReSV run")
    return BaselineSelector(method, budgets, frame_tokens=frame_tokens,
                            page_tokens=config.page_tokens, window=window, sink=sink)
