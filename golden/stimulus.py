"""Inputs for vector files: seeded random vectors that reach the corner cases, and realistic
vectors cut from a streaming trace. Every builder returns a checked :class:`Vectors`."""

from __future__ import annotations

import numpy as np

from .config import Config
from .hashing import cluster_means, hash_keys, host_scores, hyperplanes
from .hcu import HcuModel
from .trace import Trace
from .vectors import UNITS, Vectors, check_vectors, file_scalars
from .walk import Frame, dre_walk

__all__ = ["random_hashes", "random_vectors", "trace_vectors", "trace_all", "row_pick",
           "WTU_SHAPES"]


def _vectors(unit: str, config: Config, arrays: dict) -> Vectors:
    """A checked vector file; a ``dre`` file under a configuration with the KV engine
    (``kv_bytes`` > 0) also gets every token's K and V bytes (random, seeded by the hashes)."""
    if unit == "dre" and config.kv_bytes and "kv" not in arrays:
        hashes = arrays["hashes"]
        rng = np.random.default_rng([hashes.size, int(hashes.sum() % (1 << 63))])
        arrays = {**arrays, "kv": rng.integers(0, 256, (hashes.size, config.kv_bytes),
                                               dtype=np.uint8)}
    return check_vectors({"unit": np.array(unit), **file_scalars(config, "kv" in arrays),
                          **arrays}, where=f"{unit} stimulus")


def random_hashes(rng: np.random.Generator, config: Config, tokens: int,
                  *, leaders: int | None = None, flips: int | None = None) -> np.ndarray:
    """Hashes scattered around a few leaders, so joins, new clusters and ties all happen."""
    bits = config.hash_bits
    if leaders is None:
        leaders = int(rng.integers(1, 2 * config.max_clusters + 2))
    if flips is None:
        flips = int(rng.integers(0, max(1, config.th_hd) + 2))
    top = (1 << bits) - 1
    centres = rng.integers(0, top, size=leaders, dtype=np.uint64, endpoint=True)
    out = centres[rng.integers(0, leaders, size=tokens)]
    for _ in range(flips):
        out ^= np.uint64(1) << rng.integers(0, bits, size=tokens).astype(np.uint64)
    return out


# Row shapes the WTU must get right, each a function (rng, rows, columns, config) -> scores.
WTU_SHAPES = {
    "uniform": lambda rng, r, c, cfg: rng.integers(cfg.score_min, cfg.score_max,
                                                   size=(r, c), endpoint=True),
    "narrow": lambda rng, r, c, cfg: rng.integers(-3, 4, size=(r, c)),
    "equal": lambda rng, r, c, cfg: np.full((r, c), rng.integers(cfg.score_min, cfg.score_max,
                                                                  endpoint=True)),
    "negative": lambda rng, r, c, cfg: rng.integers(cfg.score_min, 0, size=(r, c)),
    "extreme": lambda rng, r, c, cfg: rng.choice([cfg.score_min, cfg.score_max], size=(r, c)),
    "peaked": lambda rng, r, c, cfg: np.where(rng.random((r, c)) < 0.05, cfg.score_max,
                                              rng.integers(0, 8, size=(r, c))),
}


def _random_counts(rng, columns, config):
    kind = rng.integers(0, 4)
    if kind == 0:
        return rng.integers(0, config.count_max, size=columns, endpoint=True)
    if kind == 1:
        return np.full(columns, config.count_max)
    if kind == 2:                                   # mostly zero counts
        return np.where(rng.random(columns) < 0.7, 0, rng.integers(1, 4, size=columns))
    return rng.integers(1, min(config.count_max, 64), size=columns, endpoint=True)


def _random_hcu(rng, config, *, tokens, **_):
    return {"hashes": random_hashes(rng, config, tokens)}


def _random_wtu(rng, config, *, rows, columns, shape, **_):
    if columns is None:
        columns = int(rng.integers(1, config.max_clusters + 1))
    shape = shape or rng.choice(sorted(WTU_SHAPES))
    scores = WTU_SHAPES[shape](rng, rows, columns, config)
    return {"scores": np.asarray(scores, dtype=np.int64),
            "counts": _random_counts(rng, columns, config)}


def _random_dre(rng, config, *, tokens, rows, frames, queries, shape, **_):
    hashes = random_hashes(rng, config, tokens)
    cuts = np.sort(rng.integers(0, tokens + 1, size=frames - 1))
    query_after = np.sort(rng.integers(0, frames, size=queries))
    query_rows = rng.integers(1, rows + 1, size=queries)
    shape = shape or rng.choice(sorted(WTU_SHAPES))
    scores = WTU_SHAPES[shape](rng, int(query_rows.sum()), config.max_clusters, config)
    return {"hashes": hashes, "frame_end": np.append(cuts, tokens), "query_after": query_after,
            "query_rows": query_rows, "scores": np.asarray(scores, dtype=np.int64)}


# The random inputs of each unit with vector files (vrex.golden.vectors.VECTOR_UNITS).
_RANDOM = {"hcu": _random_hcu, "wtu": _random_wtu, "dre": _random_dre}


def _unit(unit: str) -> str:
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}, not {unit!r}")
    return unit


def random_vectors(unit: str, config: Config, seed: int, *, tokens: int = 200,
                   rows: int = 4, columns: int | None = None, frames: int = 4,
                   queries: int = 3, shape: str | None = None) -> Vectors:
    """A random vector file for ``unit``; ``seed`` makes it reproducible."""
    build = _RANDOM[_unit(unit)]
    arrays = build(np.random.default_rng(seed), config, tokens=tokens, rows=rows,
                   columns=columns, frames=frames, queries=queries, shape=shape)
    return _vectors(unit, config, arrays)


def row_pick(available: int, rows: int) -> np.ndarray:
    """``rows`` evenly spread row indices out of ``available``."""
    rows = min(rows, available)
    return np.linspace(0, available - 1, rows).round().astype(np.int64)


def trace_vectors(unit: str, trace: Trace, config: Config, *, head: int = 0,
                  rows: int = 16, hash_seed: int = 0) -> Vectors:
    """The ``unit`` vector file of one KV head of ``trace`` (:func:`trace_all`)."""
    _unit(unit)
    return trace_all(trace, config, head=head, rows=rows, hash_seed=hash_seed,
                     units=(unit,))[unit]


def trace_all(trace: Trace, config: Config, *, head: int = 0, rows: int = 16,
              hash_seed: int = 0, units=UNITS) -> dict[str, Vectors]:
    """The vector files of ``units`` for one KV head of ``trace``: its hashes, and the scores
    its queries give the clusters the golden HCU finds (one walk for them all).

    Queries follow causality: the queries of frame ``f + 1`` score the clusters that exist
    after frame ``f``; the text queries (if any) come after the last frame. ``rows`` query
    tokens per frame are used, spread evenly over the frame (the first ``rows`` text
    queries); with G query heads per KV head (GQA), a token gives G rows, one per group head
    (``Trace.query_rows``). The ``wtu`` vector is the last query of that sequence. The
    trace's sink prefix is left out: the first hash is token ``trace.sink``'s.
    """
    for unit in units:
        _unit(unit)
    if not 0 <= head < trace.heads:
        raise ValueError(f"head must be in 0..{trace.heads - 1}, not {head!r}")
    if rows < 1:
        raise ValueError(f"rows must be a positive integer, not {rows!r}")
    planes = hyperplanes(trace.head_dim, config.hash_bits, hash_seed)
    # The sink prefix never reaches the DRE: the host attends to it directly.
    keys = trace.keys[:, :, head].reshape(-1, trace.head_dim)[trace.sink:]
    hashes = hash_keys(keys, planes)
    out = {"hcu": _vectors("hcu", config, {"hashes": hashes})}
    if set(units) <= {"hcu"}:
        return {u: out[u] for u in units}
    frame_end = np.maximum(
        0, np.arange(1, trace.frames + 1, dtype=np.int64) * trace.tokens - trace.sink)
    batches = [(f, trace.query_rows(head, f + 1, row_pick(trace.tokens, rows)))
               for f in range(trace.frames - 1)]
    if trace.text_tokens:
        batches.append((trace.frames - 1,
                        trace.text_query_rows(head, np.arange(min(rows, trace.text_tokens)))))
    if not batches:
        raise ValueError("trace must have two frames or text queries to make queries from")
    hcu = HcuModel(config)
    cluster = np.empty(hashes.size, dtype=np.int64)
    scores, query_rows = [], []
    query_after = [after for after, _ in batches]
    for step in dre_walk(frame_end, query_after):
        if isinstance(step, Frame):
            cluster[step.start:step.end] = hcu.push(hashes[step.start:step.end])
            continue
        end, q = int(frame_end[step.frame]), batches[step.index][1]
        means = cluster_means(keys[:end], cluster[:end], hcu.n)
        block = np.zeros((q.shape[0], config.max_clusters), dtype=np.int64)
        block[:, :hcu.n] = host_scores(q, means, config)
        scores.append(block)
        query_rows.append(q.shape[0])
        last_counts = hcu.counts
    n = last_counts.size
    out["wtu"] = _vectors("wtu", config, {"scores": scores[-1][:, :n], "counts": last_counts})
    out["dre"] = _vectors("dre", config, {
        "hashes": hashes, "frame_end": frame_end,
        "query_after": np.array(query_after, dtype=np.int64),
        "query_rows": np.array(query_rows, dtype=np.int64),
        "scores": np.concatenate(scores)})
    return {u: out[u] for u in units}
