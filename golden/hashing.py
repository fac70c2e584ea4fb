"""The steps of ReSV that run outside the DRE (SPEC 1), on the host or the main engine:
random-hyperplane hashing of keys, member-mean cluster keys and integer cluster scores (in
modes ``shift`` and ``clamp`` one scale a batch; in mode ``exp`` log2 units, SPEC 3.1)."""

from __future__ import annotations

import numpy as np

__all__ = ["hyperplanes", "hash_keys", "cluster_means", "int_scores", "attention_logits",
           "host_scores"]


def hyperplanes(head_dim: int, hash_bits: int, seed: int = 0) -> np.ndarray:
    """Random hyperplanes ``H`` (``head_dim x hash_bits``) of SPEC 1 step 1."""
    return np.random.default_rng([seed, 0x5EED]).standard_normal((head_dim, hash_bits))


def hash_keys(keys: np.ndarray, planes: np.ndarray) -> np.ndarray:
    """Bit ``b`` of a key's hash is 1 where ``(k @ H)[b] > 0``; bit 0 is the LSB."""
    bits = (np.asarray(keys, dtype=np.float64) @ planes) > 0
    weights = np.uint64(1) << np.arange(planes.shape[1], dtype=np.uint64)
    return (bits.astype(np.uint64) * weights).sum(axis=-1, dtype=np.uint64)


def cluster_means(keys: np.ndarray, cluster: np.ndarray, clusters: int) -> np.ndarray:
    """Representative key of each cluster: the mean of its members' keys (``[clusters, D]``)."""
    keys = np.asarray(keys, dtype=np.float64)
    sums = np.zeros((clusters, keys.shape[-1]))
    np.add.at(sums, cluster, keys)
    members = np.bincount(cluster, minlength=clusters)[:, None]
    return sums / np.maximum(members, 1)


def int_scores(queries: np.ndarray, cluster_keys: np.ndarray, score_bits: int) -> np.ndarray:
    """Signed ``score_bits`` integer scores ``Q @ Kc.T``, one scale for the whole batch.

    The scale maps the largest magnitude to the largest positive code, so the batch uses the
    full range; a common scale keeps the ranking within and across rows.
    """
    scores = np.asarray(queries, dtype=np.float64) @ np.asarray(cluster_keys).T
    top = (1 << (score_bits - 1)) - 1
    peak = np.abs(scores).max(initial=0.0)
    scale = top / peak if peak > 0 else 1.0
    return np.clip(np.rint(scores * scale), -top - 1, top).astype(np.int64)


def attention_logits(dot, queries) -> np.ndarray:
    """``q . k / sqrt(D)``: the softmax's logits, natural-log units (queries are not
    pre-scaled)."""
    return dot / np.sqrt(np.shape(queries)[-1])


def host_scores(queries, cluster_keys, config) -> np.ndarray:
    """The integer scores the host sends the DRE for one batch, in the ``config``'s mode: in
    ``shift`` and ``clamp`` :func:`int_scores`; in ``exp`` the attention logits in log2 units
    with ``exp_frac`` fraction bits (``expweight.log2_scores``): the scale the host folds
    into its output, the same for every batch."""
    from .config import Mode
    from .expweight import log2_scores
    if config.mode is Mode.EXP:
        dot = np.asarray(queries, dtype=np.float64) @ np.asarray(cluster_keys).T
        return log2_scores(attention_logits(dot, queries), config.exp_frac, config.score_bits)
    return int_scores(queries, cluster_keys, config.score_bits)
