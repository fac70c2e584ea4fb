"""The codec between SPEC 6 vectors and the DRE's stream beats, shared by every testbench
(Amaranth, cocotb, plain Verilog) and the host driver.

Beats are dicts of a stream's fields on the way in (``layout.const(beat)`` makes them bits);
on the way out, anything with the layout's field names as attributes (an Amaranth simulator
view, ``layout.from_bits(bits)``) is decoded, so no caller turns beats into tuples.
"""

from __future__ import annotations

import numpy as np

from vrex.golden.walk import Frame, dre_walk

from .layouts import QUERY_TAG_BITS
from .registers import RegisterMap

__all__ = ["QUERY_MARKER", "lane_beats", "score_beats", "token_beats", "dre_beats",
           "dre_outputs", "kv_beats", "kv_outputs", "DreProgress"]

# An ``i_hash`` beat that runs a query on the clusters of that moment.
QUERY_MARKER = {"hash": 0, "query": 1}


def lane_beats(values, lanes: int, fill: int = 0) -> list[list[int]]:
    """One row of values in beats of ``lanes``, the last beat padded with ``fill``."""
    values = [int(v) for v in values]
    values += [fill] * (-len(values) % lanes)
    return [values[i:i + lanes] for i in range(0, len(values), lanes)]


def score_beats(rows, lanes: int) -> list[dict]:
    """A query's (or a WTU batch's) score rows as ``i_score`` beats, ``ceil(n / lanes)`` a
    row, ``last`` on the final beat."""
    beats = [{"scores": chunk, "last": False} for row in rows for chunk in lane_beats(row, lanes)]
    if beats:
        beats[-1]["last"] = True
    return beats


def token_beats(hashes) -> list[dict]:
    """Tokens' hashes as ``i_hash`` beats."""
    return [{"hash": int(h), "query": 0} for h in hashes]


def dre_beats(arrays: dict, config, golden) -> tuple[list, list, list]:
    """The ``i_hash`` and ``i_score`` beats of a ``dre`` vector, and each query's ``n``: each
    frame's tokens, then a query marker per query after it; each query's rows over the ``n``
    clusters of its moment. ``golden`` is the golden model's ``DreResult`` of the vector: it
    only says how many clusters each query sees (a host reads that from ``CLUSTERS``)."""
    hash_out, score_out, ns = [], [], []
    for step in dre_walk(arrays["frame_end"], arrays["query_after"]):
        if isinstance(step, Frame):
            hash_out += token_beats(arrays["hashes"][step.start:step.end])
            continue
        hash_out.append(dict(QUERY_MARKER))
        batch = golden.queries[step.index]
        ns.append(0 if batch is None else batch.counts.size)
        score_out += score_beats([] if batch is None else batch.scores, config.wtu_lanes)
    return hash_out, score_out, ns


def dre_outputs(slots, selects, descs, ns, status: int, config, cycles: int) -> dict:
    """SPEC 6 ``dre`` outputs from the beats taken off ``o_slot``, ``o_select`` and
    ``o_desc``, each query's ``n`` and the STATUS register."""
    lanes = config.wtu_lanes
    select = np.zeros((len(ns), config.max_clusters), dtype=bool)
    beats = iter(selects)
    for q, n in enumerate(ns):
        for k in range(-(-n // lanes)):
            mask = int(next(beats).mask)
            for lane in range(min(lanes, n - k * lanes)):
                select[q, k * lanes + lane] = bool(mask >> lane & 1)
    descriptors, q = [], 0
    for d in descs:
        if d.end:
            q += 1
        else:
            descriptors.append((q, int(d.page), int(d.tokens)))
    flags = RegisterMap(config).unpack("STATUS", status)
    return {
        "cluster": np.array([int(s.cluster) for s in slots], dtype=np.int64),
        "slot": np.array([-1 if s.slot == config.no_slot else int(s.slot) for s in slots],
                         dtype=np.int64),
        "select": select,
        "descriptors": np.array(descriptors, dtype=np.int64).reshape(-1, 3),
        "cluster_overflow": np.bool_(flags["CLUSTER_OVERFLOW"]),
        "page_overflow": np.bool_(flags["PAGE_OVERFLOW"]),
        "cycles": np.int64(cycles),
    }


def kv_beats(kv, bus_bytes: int) -> list[dict]:
    """Every token's K and V bytes (``kv`` uint8[N, kv_bytes]) as ``i_kv`` beats: byte 0 at
    the lowest bits, the last beat padded with zeros, ``last`` on it (SPEC 7)."""
    beats = []
    for row in np.asarray(kv, dtype=np.uint8):
        data = row.tobytes()
        data += bytes(-len(data) % bus_bytes)
        chunks = [data[i:i + bus_bytes] for i in range(0, len(data), bus_bytes)]
        beats += [{"data": int.from_bytes(c, "little"), "last": i == len(chunks) - 1}
                  for i, c in enumerate(chunks)]
    return beats


def kv_outputs(tokens, config, bursts: int) -> dict:
    """SPEC 7's ``fetched``, ``fetched_slot`` and ``bursts`` from the beats taken off
    ``o_token`` and the read bursts counted on the AXI4 port. Refuses beats that break the
    stream's own rules (a token's beats on one slot, query tags counting the end beats)."""
    rows, slots, data, queries = [], [], b"", 0
    for beat in tokens:
        if beat.end:
            if data:
                raise AssertionError(f"o_token: query {queries} ended inside a token")
            queries += 1
            continue
        if int(beat.query) != queries % (1 << QUERY_TAG_BITS):
            raise AssertionError(f"o_token: a beat of query {queries} is tagged "
                                 f"{int(beat.query)}")
        if data and int(beat.slot) != slots[-1]:
            raise AssertionError(f"o_token: a token's beats change slot at {int(beat.slot)}")
        if not data:
            slots.append(int(beat.slot))
        data += int(beat.data).to_bytes(config.bus_bytes, "little")
        if beat.last:
            rows.append(np.frombuffer(data[:config.kv_bytes], dtype=np.uint8))
            data = b""
    return {"fetched": np.array(rows, dtype=np.uint8).reshape(-1, config.kv_bytes),
            "fetched_slot": np.array(slots, dtype=np.int64), "bursts": np.int64(bursts)}


class DreProgress:
    """How far the DRE's outputs have come: slots taken and queries ended (``end`` beats on
    ``o_desc``, and on ``o_token`` with the KV engine), counted incrementally as beats
    arrive."""

    def __init__(self):
        self.slots = self.ends = self.fetch_ends = self._descs = self._fetched = 0

    def update(self, slots: list, descs: list, fetched: list = ()) -> None:
        self.slots = len(slots)
        self.ends += sum(1 for d in descs[self._descs:] if d.end)
        self._descs = len(descs)
        self.fetch_ends += sum(1 for t in fetched[self._fetched:] if t.end)
        self._fetched = len(fetched)

    def done(self, tokens: int, queries: int, kv: bool = False) -> bool:
        return self.slots == tokens and self.ends == queries and \
            (not kv or self.fetch_ends == queries)
