"""``vrex trace llm``: traces (docs/traces.md) of a real model's streaming prefill, one file a
layer, for everything that reads traces (``vrex eval``, ``vrex vectors trace``).

The text streams through the model with full attention, frame after frame, then token after
token; every layer's post-RoPE keys, values and queries are recorded. A trace holds every
query head of each KV head's GQA group, the text tokens' own keys and values, the model's layer
index and the sink prefix the evaluation should always attend. Queries are not pre-scaled
(attention divides ``q . k`` by ``sqrt(D)``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from vrex.golden.trace import Trace, save_trace

from .llama import Llama, chunks_of
from .text import Stream

__all__ = ["record_traces", "write_traces"]


def record_traces(model: Llama, stream: Stream, *, layers=None, sink: int = 0
                  ) -> list[Trace]:
    """One :class:`Trace` per layer in ``layers`` (default: all) of ``stream``."""
    s = model.shape
    layers = list(range(s.layers)) if layers is None else list(layers)
    for layer in layers:
        if not 0 <= layer < s.layers:
            raise ValueError(f"layer must be in 0..{s.layers - 1}, not {layer!r}")
    n = stream.tokens
    q = np.zeros((len(layers), n, s.kv_heads, s.group, s.head_dim), np.float32)
    k = np.zeros((len(layers), n, s.kv_heads, s.head_dim), np.float32)
    v = np.zeros_like(k)
    slot = {layer: i for i, layer in enumerate(layers)}

    def record(layer, start, queries, keys, values):
        if layer in slot:
            i, end = slot[layer], start + len(keys)
            q[i, start:end], k[i, start:end], v[i, start:end] = queries, keys, values

    model.stream(stream.ids, chunks_of(n, stream.frame_tokens, stream.frames), record=record,
                 on_logits=lambda start, end, logits: None)
    f, t, video = stream.frames, stream.frame_tokens, stream.video_tokens

    def frames(a):
        return a[:video].reshape(f, t, *a.shape[1:])

    return [Trace(keys=frames(k[i]), values=frames(v[i]), queries=frames(q[i]),
                  text_queries=q[i, video:], text_keys=k[i, video:], text_values=v[i, video:],
                  layer=layer, sink=sink)
            for layer, i in slot.items()]


def write_traces(traces: list[Trace], out: Path) -> list[Path]:
    """Write ``layerNN.npz`` per trace into the directory ``out``, whole or not at all: the
    files are written beside it and take its place at the end (an older ``out`` is
    replaced)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"-o must name a directory, not the file {str(out)!r}")
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        names = [f"layer{t.layer:02d}.npz" for t in traces]
        for name, trace in zip(names, traces):
            save_trace(partial / name, trace)
        if out.exists():
            old = out.with_name(out.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(out, old)
            os.replace(partial, out)
            shutil.rmtree(old)
        else:
            os.replace(partial, out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return [out / name for name in names]
