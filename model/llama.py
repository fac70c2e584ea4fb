"""A NumPy forward pass of the llama architecture, run chunk by chunk over a KV cache so that
every attention layer can be told which cached tokens it may see.

The text is processed in chunks (a video frame's tokens at once, or one generated token); in
each chunk and layer the new tokens' queries, keys and values are computed, the keys and values
appended to the cache, and attention runs over the cached tokens a :class:`Visibility` allows
plus the chunk itself, causally. With every cached token visible this is the ordinary causal
forward pass (:meth:`Llama.forward`).

Layout facts of GGUF llama models: llama.cpp's converter permutes the rows of Q and K so that
RoPE rotates adjacent pairs ``(x[2i], x[2i+1])`` by ``pos * base**(-2i / D)``; query head ``h``
shares KV head ``h // (heads / kv_heads)``. Queries are not pre-scaled: attention divides
``q . k`` by ``sqrt(D)``.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Protocol

import numpy as np

from .gguf_file import LlamaWeights

__all__ = ["Llama", "KVCache", "Visibility", "chunks_of", "log_softmax", "exp_floor"]


class Visibility(Protocol):
    """Which cached tokens before a chunk each KV head of a layer attends to.

    Called once per chunk and layer, the first chunk too, with the chunk's post-RoPE queries
    ``q`` (``[n, kv_heads, group, D]``) and the cache (the chunk's own keys already in it, at
    ``start .. start + n - 1``); returns ``bool[kv_heads, start]`` over the tokens before the
    chunk, or None for all of them.
    """

    def __call__(self, layer: int, start: int, q: np.ndarray, cache: "KVCache"
                 ) -> np.ndarray | None: ...


@dataclasses.dataclass
class KVCache:
    """Post-RoPE keys and values of every layer: ``[layers, kv_heads, tokens, D]`` (a head's
    tokens contiguous, as attention and the selection methods read them)."""

    keys: np.ndarray
    values: np.ndarray
    length: int = 0


def chunks_of(tokens: int, frame_tokens: int, frames: int) -> list[tuple[int, int]]:
    """``frames`` chunks of ``frame_tokens`` (the video frames), then one chunk per remaining
    token (text generation), as ``(start, end)``."""
    video = frames * frame_tokens
    return ([(f * frame_tokens, (f + 1) * frame_tokens) for f in range(frames)]
            + [(t, t + 1) for t in range(video, tokens)])


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(exp_floor(shifted).sum(axis=-1, keepdims=True))


def exp_floor(x: np.ndarray) -> np.ndarray:
    """``exp(x)`` for ``x <= 0``, with ``x`` floored at -80 first: NumPy's exp is ten times
    slower where it underflows, and ``e**-80`` (1.8e-35) is nothing beside the 1 a softmax
    row sums to."""
    return np.exp(np.maximum(x, -80))


def _rms_norm(x, weight, eps):
    return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps) * weight


class Llama:
    """The model of a :class:`~vrex.model.gguf_file.LlamaWeights`, in fp32."""

    def __init__(self, weights: LlamaWeights):
        self.weights = weights
        self.shape = weights.shape
        s = self.shape
        self._inv_freq = s.rope_base ** (-np.arange(0, s.head_dim, 2) / s.head_dim)

    def new_cache(self, tokens: int) -> KVCache:
        s = self.shape
        size = (s.layers, s.kv_heads, tokens, s.head_dim)
        return KVCache(np.zeros(size, np.float32), np.zeros(size, np.float32))

    def rope(self, x: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Rotate adjacent pairs of ``x`` (``[n, heads, D]``) by their positions' angles."""
        angle = positions[:, None].astype(np.float64) * self._inv_freq[None, :]
        cos = np.cos(angle).astype(np.float32)[:, None, :]
        sin = np.sin(angle).astype(np.float32)[:, None, :]
        even, odd = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = even * cos - odd * sin
        out[..., 1::2] = even * sin + odd * cos
        return out

    def forward(self, ids, *, record: Callable | None = None) -> np.ndarray:
        """Causal forward pass over all of ``ids`` at once: logits ``[n, vocab]``."""
        ids = np.asarray(ids)
        cache = self.new_cache(ids.size)
        return self.run_chunk(ids, cache, record=record)

    def stream(self, ids, chunks, visibility: Visibility | None = None, *,
               record: Callable | None = None, on_logits: Callable | None = None
               ) -> np.ndarray | None:
        """Run ``ids`` chunk by chunk (``chunks``: ``(start, end)`` in order, covering the
        text); ``visibility`` limits what each layer sees of the cache. Returns the logits of
        every position ``[n, vocab]``; or, with ``on_logits``, hands each chunk's logits to
        ``on_logits(start, end, logits)`` as they come and keeps none (a long text's logits
        are large, and this machine is slow to page fresh memory in)."""
        ids = np.asarray(ids)
        cache = self.new_cache(ids.size)
        logits = None if on_logits else np.empty((ids.size, self.shape.vocab), np.float32)
        for start, end in chunks:
            out = self.run_chunk(ids[start:end], cache, visibility, record=record)
            if on_logits:
                on_logits(start, end, out)
            else:
                logits[start:end] = out
        return logits

    def run_chunk(self, ids, cache: KVCache, visibility: Visibility | None = None, *,
                  record: Callable | None = None) -> np.ndarray:
        """Append the tokens ``ids`` to ``cache`` and return their logits. ``record(layer,
        start, q, k, v)``, if given, sees every layer's post-RoPE tensors."""
        s, w = self.shape, self.weights
        start = cache.length
        end = start + len(ids)
        positions = np.arange(start, end)
        x = w.embed[np.asarray(ids)]
        hq, hkv, d = s.heads, s.kv_heads, s.head_dim
        for i, layer in enumerate(w.layers):
            h = _rms_norm(x, layer.attn_norm, s.rms_eps) @ layer.wqkv
            q = self.rope(h[:, :hq * d].reshape(-1, hq, d), positions)
            k = self.rope(h[:, hq * d:(hq + hkv) * d].reshape(-1, hkv, d), positions)
            v = h[:, (hq + hkv) * d:].reshape(-1, hkv, d)
            cache.keys[i, :, start:end] = k.transpose(1, 0, 2)
            cache.values[i, :, start:end] = v.transpose(1, 0, 2)
            q = q.reshape(-1, hkv, s.group, d)
            if record:
                record(i, start, q, k, v)
            seen = visibility(i, start, q, cache) if visibility is not None else None
            x = x + self._attention(q, cache, i, start, end, seen).reshape(-1, hq * d) @ layer.wo
            g = _rms_norm(x, layer.ffn_norm, s.rms_eps) @ layer.w_gate_up
            gate, up = g[:, :s.ffn], g[:, s.ffn:]
            x = x + (gate / (1 + np.exp(-gate)) * up) @ layer.w_down
        cache.length = end
        return _rms_norm(x, w.norm, s.rms_eps) @ w.output

    def _attention(self, q, cache, layer, start, end, seen) -> np.ndarray:
        """Softmax attention of the chunk's queries ``[n, kv, group, D]`` over the visible
        cached tokens and the chunk itself, causally; ``[n, kv, group, D]``."""
        n, hkv, group, d = q.shape
        past = np.tril(np.ones((n, n), np.float32))          # 1 where a chunk token may look
        out = np.empty_like(q)
        for h in range(hkv):
            if seen is None:
                keys, values = cache.keys[layer, h, :end], cache.values[layer, h, :end]
            else:
                idx = np.concatenate([np.flatnonzero(seen[h]), np.arange(start, end)])
                keys, values = cache.keys[layer, h, idx], cache.values[layer, h, idx]
            # Rows are (token, group head) pairs; the chunk's own keys come last.
            logits = (q[:, h].reshape(n * group, d) @ keys.T) / np.float32(np.sqrt(d))
            logits = logits.reshape(n, group, -1)
            logits[:, :, -n:] = np.where(past[:, None, :] > 0, logits[:, :, -n:], -np.inf)
            logits -= logits.max(axis=-1, keepdims=True)
            weights = exp_floor(logits)
            weights[:, :, -n:] *= past[:, None, :]            # the future weighs exactly 0
            weights /= weights.sum(axis=-1, keepdims=True)
            out[:, h] = weights @ values
        return out
