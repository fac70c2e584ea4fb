"""The order of a ``dre`` vector (SPEC 6): each frame's tokens, then every query that comes
after that frame, with its score rows. The golden model, the stimulus generator, the
testbenches' beat encoder and the host driver all walk a vector with this one generator."""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["Frame", "Query", "dre_walk"]


@dataclasses.dataclass(frozen=True)
class Frame:
    index: int
    start: int      # its tokens are hashes[start:end]
    end: int


@dataclasses.dataclass(frozen=True)
class Query:
    index: int
    frame: int      # the frame it comes after
    rows: slice     # its rows of the vector's scores


def dre_walk(frame_end, query_after, query_rows=None):
    """Yield a :class:`Frame` per frame, each followed by a :class:`Query` per query after it.
    Without ``query_rows`` every query's ``rows`` is empty."""
    query_after = np.asarray(query_after).reshape(-1)
    sizes = (np.zeros(query_after.size, dtype=np.int64) if query_rows is None
             else np.asarray(query_rows).reshape(-1))
    start = q = row = 0
    for frame, end in enumerate(np.asarray(frame_end).reshape(-1).tolist()):
        yield Frame(frame, start, end)
        start = end
        while q < query_after.size and query_after[q] == frame:
            yield Query(q, frame, slice(row, row + int(sizes[q])))
            row += int(sizes[q])
            q += 1
