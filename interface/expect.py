"""What every output stream should carry, beat by beat, and where a run first left it.

SPEC 6 outputs are arrays; a waveform shows beats. To point a user at the cycle where an RTL
run went wrong, the expected outputs (the golden model's, or a file's) are turned back into
the beats each output stream must carry, and the beats a run took are compared with them in
order. A beat is a dict ``field -> (value, care)``: only the ``care`` bits count (an end beat's
page, the lanes past a query's clusters, the padding after a token's last byte).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from vrex.golden.dre import run_dre

from .dre import dre_beats
from .layouts import (KV_STREAMS, POP_STREAMS, PUSH_STREAMS, QUERY_TAG_BITS, dre_layouts,
                      id_layout, kv_layouts, mask_layout, row_layout)

__all__ = ["expected_beats", "input_streams", "output_layouts", "Taken", "Difference",
           "first_difference", "beat_text", "fields"]

ALL = -1                                   # every bit of a field counts


def _lanes(values, lanes: int) -> list[tuple[int, int]]:
    """Selection bits in beats of ``lanes``: (mask, care) per beat."""
    out = []
    for start in range(0, len(values), lanes):
        chunk = values[start:start + lanes]
        out.append((sum(int(v) << i for i, v in enumerate(chunk)), (1 << len(chunk)) - 1))
    return out


def _dre(vectors, want: dict) -> dict[str, list[dict]]:
    a, cfg = vectors.arrays, vectors.config
    golden = run_dre(a["hashes"], a["frame_end"], a["query_after"], a["query_rows"],
                     a["scores"], cfg)
    ns = dre_beats(a, cfg, golden)[2]       # each query's clusters: fixed by the inputs
    slots = [{"cluster": (int(c), ALL), "slot": (cfg.no_slot if s < 0 else int(s), ALL)}
             for c, s in zip(want["cluster"], want["slot"])]
    selects, descs = [], []
    for q, n in enumerate(ns):
        beats = _lanes(want["select"][q, :n], cfg.wtu_lanes)
        selects += [{"mask": m, "last": (int(i == len(beats) - 1), ALL)}
                    for i, m in enumerate(beats)]
        rows = want["descriptors"][want["descriptors"][:, 0] == q]
        descs += [{"page": (int(p), ALL), "tokens": (int(t), ALL), "end": (0, ALL)}
                  for _, p, t in rows]
        descs.append({"end": (1, ALL)})
    streams = {"o_slot": slots, "o_select": selects, "o_desc": descs}
    if "fetched" in want:
        streams["o_token"] = _tokens(want, ns, cfg)
    return streams


def _tokens(want: dict, ns, cfg) -> list[dict]:
    """``o_token``: each query's fetched tokens (as many as its descriptors name) in bus
    beats, then its end beat (SPEC 7)."""
    beats, rows, bus = [], iter(zip(want["fetched"], want["fetched_slot"])), cfg.bus_bytes
    per_query = np.bincount(want["descriptors"][:, 0], weights=want["descriptors"][:, 2],
                            minlength=len(ns)).astype(int)
    for q, tokens in enumerate(per_query):
        for row, slot in (next(rows, (None, None)) for _ in range(tokens)):
            if row is None:
                break
            data = bytes(row)
            chunks = range(0, len(data), bus)
            for k in chunks:
                part = data[k:k + bus]
                beats.append({"data": (int.from_bytes(part, "little"),
                                       (1 << 8 * len(part)) - 1),
                              "query": (q % (1 << QUERY_TAG_BITS), ALL),
                              "slot": (int(slot), ALL), "last": (int(k == chunks[-1]), ALL),
                              "end": (0, ALL)})
        beats.append({"end": (1, ALL)})
    return beats


def _hcu(vectors, want: dict) -> dict[str, list[dict]]:
    return {"o_id": [{"cluster": (int(c), ALL)} for c in want["cluster"]]}


def _wtu(vectors, want: dict) -> dict[str, list[dict]]:
    lanes = vectors.config.wtu_lanes
    rows = [{"exit_bucket": (int(e), ALL), "threshold": (int(t), ALL), "total": (int(s), ALL)}
            for e, t, s in zip(want["exit_bucket"], want["threshold"], want["total"])]
    masks = [{"mask": m, "final": (0, ALL)} for row in want["row_select"]
             for m in _lanes(row, lanes)]
    masks += [{"mask": m, "final": (1, ALL)} for m in _lanes(want["select"], lanes)]
    return {"o_row": rows, "o_mask": masks}


_UNITS = {"dre": _dre, "hcu": _hcu, "wtu": _wtu}


def input_streams(unit: str, config) -> tuple[str, ...]:
    """The names of ``unit``'s input streams."""
    if unit == "dre":
        return PUSH_STREAMS + tuple(n for n, way, _ in KV_STREAMS
                                    if way == "in" and config.kv_bytes)
    return {"hcu": ("i_hash",), "wtu": ("i_count", "i_score")}[unit]


def output_layouts(unit: str, config) -> dict:
    """The payload layouts of ``unit``'s output streams, as its testbench takes them."""
    if unit == "dre":
        layouts = {**dre_layouts(config), **kv_layouts(config)}
        outs = (*POP_STREAMS, *(n for n, way, _ in KV_STREAMS if way == "out"))
        return {name: layouts[name] for name in outs if name in layouts}
    if unit == "hcu":
        return {"o_id": id_layout(config.max_clusters)}
    if unit == "wtu":
        return {"o_row": row_layout(config.value_bits, config.count_bits, config.max_clusters,
                                    config.max_buckets),
                "o_mask": mask_layout(config.wtu_lanes)}
    raise ValueError(f"no stream model for unit {unit!r}")


def expected_beats(vectors, want: dict) -> dict[str, list[dict]]:
    """The beats each output stream of ``vectors.unit`` must carry for the SPEC 6 outputs
    ``want``: ``{stream: [{field: (value, care)}]}``."""
    if vectors.unit not in _UNITS:
        raise ValueError(f"no stream model for unit {vectors.unit!r}")
    return _UNITS[vectors.unit](vectors, want)


@dataclasses.dataclass(frozen=True)
class Taken:
    """A beat a run took off an output stream: its fields and when (simulation time in
    picoseconds, None where the run cannot tell, as over a board's link)."""
    fields: dict
    time_ps: int | None = None


@dataclasses.dataclass(frozen=True)
class Difference:
    """The first beat of ``stream`` (``index``) that is not what the expected outputs say:
    ``got`` is None if the run ended before it, ``want`` None if the run sent a beat too
    many."""
    stream: str
    index: int
    want: dict | None
    got: Taken | None
    last: Taken | None                      # the stream's last beat before this one

    @property
    def time_ps(self) -> int | None:
        """When it went wrong: the differing beat's time, or the last beat's if none came."""
        return self.got.time_ps if self.got else (self.last.time_ps if self.last else None)

    def describe(self) -> str:
        where = f"{self.stream} beat {self.index}"
        if self.got is None:
            return f"{where} never came: expected {beat_text(self.want)}"
        if self.want is None:
            return f"{where} is one too many: got {beat_text(self.got.fields)}"
        return f"{where}: expected {beat_text(self.want)}, got {beat_text(self.got.fields)}"


def fields(layout, view) -> dict:
    """A beat's fields as integers (``view``: the layout's view, e.g. ``from_bits``)."""
    return {name: int(getattr(view, name)) for name, _ in layout}


def beat_text(beat: dict) -> str:
    """``cluster=3 slot=17``; a don't-care part of a field shows as its care mask."""
    parts = []
    for name, value in beat.items():
        if isinstance(value, tuple):
            value, care = value
            if care != ALL and care != 0:
                parts.append(f"{name}={value:#x}/{care:#x}")
                continue
        parts.append(f"{name}={value:#x}" if name in ("mask", "data") else f"{name}={value}")
    return " ".join(parts)


def _matches(want: dict, got: dict) -> bool:
    return all((int(got[name]) ^ value) & care == 0 for name, (value, care) in want.items())


def first_difference(want: dict[str, list[dict]],
                     taken: dict[str, list[Taken]]) -> list[Difference]:
    """Per stream, the first beat that differs from ``want``; earliest in time first (those
    whose time is unknown last). Empty when every stream carried exactly its beats."""
    found = []
    for stream, beats in want.items():
        got = taken.get(stream, [])
        for i in range(max(len(beats), len(got))):
            w = beats[i] if i < len(beats) else None
            g = got[i] if i < len(got) else None
            if w is None or g is None or not _matches(w, g.fields):
                found.append(Difference(stream, i, w, g, got[i - 1] if 0 < i <= len(got)
                                        else None))
                break
    return sorted(found, key=lambda d: (d.time_ps is None, d.time_ps or 0))
