"""Streaming-video KV traces: the trace file format and a seeded generator. The steps of ReSV
that run outside the DRE (hashing, cluster keys, integer scores) live in ``hashing.py`` and
are re-exported here.

Trace ``.npz`` layout (docs/traces.md), all float arrays finite; version 1 files (the first
four arrays, ``queries`` 4-D) are version 2 files with the optional parts left out:

=================  =========================  ============================================
key                shape                      meaning
=================  =========================  ============================================
``keys``           float[F, T, H, D]          keys after RoPE, frame by frame, token by token
``values``         float[F, T, H, D]          values of the same tokens
``queries``        float[F, T, H, D] or       frame-prefill queries of the same tokens: one
                   float[F, T, H, G, D]       query head per KV head, or all G of its group
``text_queries``   float[X, H, D] or          optional: text-generation queries after the
                   float[X, H, G, D]          video (the same G as ``queries``)
``text_keys``      float[X, H, D]             optional, with ``text_values``: the text
``text_values``    float[X, H, D]             tokens' own keys (after RoPE) and values
``layer``          integer scalar >= 0        optional: the model's layer index
``sink``           integer scalar             optional (0): leading tokens every method
                                              attends (an attention-sink prefix), < F * T
=================  =========================  ============================================

Query head ``h * G + g`` of the model is ``queries[..., h, g, :]``. Queries are not
pre-scaled: attention divides ``q . k`` by ``sqrt(D)``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .hashing import cluster_means, hash_keys, hyperplanes, int_scores
from .vectors import VectorError, read_npz, write_npz

__all__ = ["Trace", "TraceError", "TraceParams", "generate_trace", "load_trace", "save_trace",
           "check_trace", "hyperplanes", "hash_keys", "cluster_means", "int_scores"]

FLOAT_ARRAYS = ("keys", "values", "queries", "text_queries", "text_keys", "text_values")
SCALARS = ("layer", "sink")


class TraceError(VectorError):
    """A trace file breaks the layout; the message names the array or scalar."""


@dataclasses.dataclass
class Trace:
    """K, V and Q of one layer of a streaming video LLM (see the module docstring).

    Parameters
    ----------
    keys, values : float[F, T, H, D]
    queries : float[F, T, H, D] or float[F, T, H, G, D]
    text_queries : float[X, H, D] or float[X, H, G, D], optional
        None: no text queries (``[0, H, D]``, or ``[0, H, G, D]`` when G > 1).
    text_keys, text_values : float[X, H, D], optional
        The text tokens' own keys and values; None (or no rows): none, and text queries
        attend the frames only.
    layer : int or None
        The model's layer index, where known.
    sink : int
        Leading tokens every method always attends (an attention-sink prefix).

    Raises
    ------
    TraceError
        Naming the array or scalar that breaks the layout.
    """

    keys: np.ndarray
    values: np.ndarray
    queries: np.ndarray
    text_queries: np.ndarray | None = None
    text_keys: np.ndarray | None = None
    text_values: np.ndarray | None = None
    layer: int | None = None
    sink: int = 0

    def __post_init__(self):
        for name in FLOAT_ARRAYS:
            if getattr(self, name) is not None:
                setattr(self, name, np.asarray(getattr(self, name)))
        check_trace(self.arrays(), "trace")
        heads, dim = self.keys.shape[2:]
        group = (self.group,) if self.queries.ndim == 5 else ()
        if self.text_queries is None:
            self.text_queries = np.zeros((0, heads, *group, dim), dtype=self.queries.dtype)
        for name in ("text_keys", "text_values"):
            if getattr(self, name) is None:
                setattr(self, name, np.zeros((0, heads, dim), dtype=self.keys.dtype))
        self.layer = None if self.layer is None else int(self.layer)
        self.sink = int(self.sink)

    def arrays(self) -> dict:
        """What a file of this trace holds: the parts left out (no text keys, no layer, no
        sink) are not written, so a trace with none of them is a version 1 file."""
        out = {"keys": self.keys, "values": self.values, "queries": self.queries}
        if self.text_queries is not None:
            out["text_queries"] = self.text_queries
        for name in ("text_keys", "text_values"):
            a = getattr(self, name)
            if a is not None and np.shape(a)[:1] != (0,):
                out[name] = a
        if self.layer is not None:
            out["layer"] = np.int64(self.layer) if _is_int(self.layer) else self.layer
        if not (_is_int(self.sink) and self.sink == 0):
            out["sink"] = np.int64(self.sink) if _is_int(self.sink) else self.sink
        return out

    @property
    def frames(self) -> int:
        return self.keys.shape[0]

    @property
    def tokens(self) -> int:
        return self.keys.shape[1]

    @property
    def heads(self) -> int:
        return self.keys.shape[2]

    @property
    def head_dim(self) -> int:
        return self.keys.shape[3]

    @property
    def group(self) -> int:
        """G: query heads per KV head (1 for a 4-D ``queries``)."""
        return self.queries.shape[3] if self.queries.ndim == 5 else 1

    @property
    def text_tokens(self) -> int:
        """X: text queries after the video."""
        return self.text_queries.shape[0]

    @property
    def has_text_keys(self) -> bool:
        return self.text_keys.shape[0] > 0

    def query_rows(self, head: int, frame: int, positions=None) -> np.ndarray:
        """Every query head of KV head ``head``'s group at the tokens ``positions`` (all when
        None) of ``frame``: float[len(positions) * G, D], token-major (row ``i * G + g`` is
        group head ``g`` at token ``positions[i]``)."""
        positions = np.arange(self.tokens) if positions is None else np.asarray(positions)
        return self.queries[frame, positions.astype(np.int64), head].reshape(-1, self.head_dim)

    def text_query_rows(self, head: int, positions=None) -> np.ndarray:
        """As :meth:`query_rows` for the text queries ``positions`` (all when None):
        float[len(positions) * G, D]."""
        positions = np.arange(self.text_tokens) if positions is None else np.asarray(positions)
        return self.text_queries[positions.astype(np.int64), head].reshape(-1, self.head_dim)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _shape(dims) -> str:
    return "[" + ", ".join(str(d) for d in dims) + "]"


def _check_array(key: str, a: np.ndarray, arrays: dict, where: str) -> None:
    """The rank and shape of one float array, against ``keys`` (checked first)."""
    ranks = {"queries": (4, 5), "text_queries": (3, 4), "text_keys": (3,),
             "text_values": (3,)}.get(key, (4,))
    if a.ndim not in ranks:
        raise TraceError(f"{where}: array {key!r} must have "
                         f"{' or '.join(map(str, ranks))} dimensions, not shape {a.shape}")
    if key == "keys":
        if min(a.shape) < 1:
            raise TraceError(f"{where}: array 'keys' must not be empty, not shape {a.shape}")
        return
    frames, tokens, heads, dim = np.shape(arrays["keys"])
    queries = np.asarray(arrays["queries"])
    group = queries.shape[3] if queries.ndim == 5 else 1
    if key == "values" and a.shape != (frames, tokens, heads, dim):
        raise TraceError(f"{where}: array 'values' must have the shape of 'keys' "
                         f"{(frames, tokens, heads, dim)}, not {a.shape}")
    if key == "queries" and a.shape[:3] + a.shape[-1:] != (frames, tokens, heads, dim):
        raise TraceError(f"{where}: array 'queries' must have the shape of 'keys' "
                         f"{(frames, tokens, heads, dim)} or [{frames}, {tokens}, {heads}, G, "
                         f"{dim}], not {a.shape}")
    if key == "queries" and a.ndim == 5 and a.shape[3] < 1:
        raise TraceError(f"{where}: array 'queries' must have at least one query head per "
                         f"KV head (G >= 1), not shape {a.shape}")
    if key == "text_queries":
        shapes = [(heads, group, dim)] if group > 1 else [(heads, dim), (heads, 1, dim)]
        if a.shape[1:] not in shapes:
            wanted = " or ".join(_shape(("X", *s)) for s in shapes)
            raise TraceError(f"{where}: array 'text_queries' must have shape {wanted} (G = "
                             f"{group} as in 'queries'), not {a.shape}")
    if key in ("text_keys", "text_values"):
        text = np.shape(arrays["text_queries"])[0] if "text_queries" in arrays else 0
        if a.shape != (text, heads, dim):
            raise TraceError(f"{where}: array {key!r} must have shape "
                             f"{_shape((text, heads, dim))} (a row per text query of "
                             f"'text_queries'), not {a.shape}")


def _check_scalar(key: str, value, arrays: dict, where: str) -> None:
    a = np.asarray(value)
    if a.shape != () or a.dtype.kind not in "iu":
        raise TraceError(f"{where}: scalar {key!r} must be an integer scalar, "
                         f"not {a.dtype} of shape {a.shape}")
    v = int(a)
    if key == "layer" and v < 0:
        raise TraceError(f"{where}: scalar 'layer' must be >= 0, not {v}")
    if key == "sink":
        frames, tokens = np.shape(arrays["keys"])[:2]
        if not 0 <= v < frames * tokens:
            raise TraceError(f"{where}: scalar 'sink' must be in 0..{frames * tokens - 1} "
                             f"(fewer than the trace's tokens), not {v}")


def check_trace(arrays: dict, where: str) -> None:
    """Refuse ``arrays`` (a trace file's contents) unless they follow the layout of the module
    docstring; the message names the offending array or scalar."""
    for key in ("keys", "values", "queries"):
        if key not in arrays:
            raise TraceError(f"{where}: missing array {key!r}")
    unknown = set(arrays) - set(FLOAT_ARRAYS) - set(SCALARS)
    if unknown:
        raise TraceError(f"{where}: unknown array {sorted(unknown)[0]!r}")
    for key in FLOAT_ARRAYS:
        if key not in arrays:
            continue
        a = np.asarray(arrays[key])
        if a.dtype.kind != "f":
            raise TraceError(f"{where}: array {key!r} must hold floats, not {a.dtype}")
        _check_array(key, a, arrays, where)
        if not np.all(np.isfinite(a)):
            raise TraceError(f"{where}: array {key!r} holds NaN or infinite values")
    pair = [key for key in ("text_keys", "text_values") if key in arrays]
    if len(pair) == 1:
        other = "text_values" if pair == ["text_keys"] else "text_keys"
        raise TraceError(f"{where}: array {other!r} must come with {pair[0]!r}, not be left out")
    for key in SCALARS:
        if key in arrays:
            _check_scalar(key, arrays[key], arrays, where)


def load_trace(path) -> Trace:
    """Read a trace ``.npz`` (version 1 or 2); a malformed one is refused naming the offending
    array or scalar."""
    try:
        arrays = read_npz(path)
    except VectorError as error:
        raise TraceError(str(error)) from None
    check_trace(arrays, str(path))
    layer = int(arrays["layer"]) if "layer" in arrays else None
    sink = int(arrays["sink"]) if "sink" in arrays else 0
    return Trace(arrays["keys"], arrays["values"], arrays["queries"],
                 arrays.get("text_queries"), arrays.get("text_keys"), arrays.get("text_values"),
                 layer=layer, sink=sink)


def save_trace(path, trace: Trace) -> None:
    """Write ``trace`` as a ``.npz`` that :func:`load_trace` reads back unchanged."""
    write_npz(path, trace.arrays())


@dataclasses.dataclass(frozen=True)
class TraceParams:
    """Knobs of the synthetic trace.

    Parameters
    ----------
    frames, tokens, heads, head_dim : int
        Trace size; tokens form a square-ish patch grid.
    text_queries : int
        Text-generation queries after the last frame (text tokens, each with its own key
        and value).
    group : int
        G, query heads per KV head (GQA); the extra query heads are independent draws like
        the first. 1 writes a 4-D ``queries``.
    regions : int
        Objects per scene; tokens of one object share a key direction (spatial redundancy).
    spatial : float
        Share of a key's variance that comes from its object (0..1).
    temporal : float
        Frame-to-frame correlation of a token's own part (0..1): temporal redundancy.
    cut_prob : float
        Chance per frame of a scene cut: new objects, new layout, no memory.
    drift : float
        How far (in patches per frame) object centres move.
    seed : int
    """

    frames: int = 16
    tokens: int = 64
    heads: int = 2
    head_dim: int = 64
    text_queries: int = 8
    regions: int = 6
    spatial: float = 0.8
    temporal: float = 0.95
    cut_prob: float = 0.1
    drift: float = 0.3
    seed: int = 0
    group: int = 1

    def __post_init__(self):
        for name in ("frames", "tokens", "heads", "head_dim", "regions", "group"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if not isinstance(self.text_queries, int) or self.text_queries < 0:
            raise ValueError(f"text_queries must be a non-negative integer, "
                             f"not {self.text_queries!r}")
        for name in ("spatial", "temporal", "cut_prob"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in 0..1, not {value!r}")
        if self.drift < 0:
            raise ValueError(f"drift must be non-negative, not {self.drift!r}")


def generate_trace(params: TraceParams = TraceParams()) -> Trace:
    """A synthetic streaming-video trace with objects, motion, redundancy and scene cuts.

    Text tokens' keys are the heads' shared offset plus a fresh random direction (they are
    about no one patch); their values mix their keys as the frames' do.
    """
    p = params
    rng = np.random.default_rng(p.seed)
    side = math.ceil(math.sqrt(p.tokens))
    grid = np.stack(np.divmod(np.arange(p.tokens), side), axis=1).astype(np.float64)
    shape = (p.frames, p.tokens, p.heads, p.head_dim)
    keys, queries = np.empty(shape), np.empty(shape)
    mix_v = rng.standard_normal((p.heads, p.head_dim, p.head_dim)) / math.sqrt(p.head_dim)
    # A shared offset per head, as real keys have, so hashes are not centred on zero.
    offset = 0.3 * rng.standard_normal((p.heads, p.head_dim))

    def new_scene():
        centres = rng.uniform(0, side, size=(p.regions, 2))
        velocity = rng.standard_normal((p.regions, 2)) * p.drift
        objects = rng.standard_normal((p.regions, p.heads, p.head_dim))
        own = rng.standard_normal((p.tokens, p.heads, p.head_dim))
        return centres, velocity, objects, own

    centres, velocity, objects, own = new_scene()
    looks = np.empty(shape)           # what each token's queries look for: its object
    a, b = math.sqrt(p.spatial), math.sqrt(1 - p.spatial)
    t_keep, t_new = p.temporal, math.sqrt(1 - p.temporal ** 2)
    for f in range(p.frames):
        if f and rng.random() < p.cut_prob:
            centres, velocity, objects, own = new_scene()
        elif f:
            centres = np.clip(centres + velocity, 0, side)
            own = t_keep * own + t_new * rng.standard_normal(own.shape)
        nearest = np.argmin(((grid[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
        keys[f] = a * objects[nearest] + b * own + offset
        # A query looks for its own object: same direction, fresh detail.
        looks[f] = a * objects[nearest]
        queries[f] = looks[f] + b * rng.standard_normal(own.shape)
    values = np.einsum("fthd,hde->fthe", keys, mix_v)
    text = (a * objects[rng.integers(0, p.regions, size=p.text_queries)]
            + b * rng.standard_normal((p.text_queries, p.heads, p.head_dim)))
    # Everything drawn from here on is new in version 2 traces; drawn after the rest, it
    # leaves the arrays of a version 1 trace of the same seed bit-identical.
    text_keys = rng.standard_normal((p.text_queries, p.heads, p.head_dim)) + offset
    text_values = np.einsum("xhd,hde->xhe", text_keys, mix_v)
    if p.group > 1:
        extra = (looks[:, :, :, None]
                 + b * rng.standard_normal((*shape[:3], p.group - 1, p.head_dim)))
        queries = np.concatenate([queries[:, :, :, None], extra], axis=3)
        # Each extra text query head looks for an object of its own.
        chosen = rng.integers(0, p.regions, size=(p.text_queries, p.group - 1))
        extra = (a * objects[chosen].transpose(0, 2, 1, 3)
                 + b * rng.standard_normal((p.text_queries, p.heads, p.group - 1, p.head_dim)))
        text = np.concatenate([text[:, :, None], extra], axis=2)
    f32 = np.float32
    return Trace(keys.astype(f32), values.astype(f32), queries.astype(f32), text.astype(f32),
                 text_keys.astype(f32), text_values.astype(f32))
