"""The streams around one moment of a waveform, drawn before anyone opens a viewer.

A simulation's FST (or VCD) is read with pywellen; at each rising clock edge in a window the
handshake of every stream is sampled as the flip-flops saw it (just before the edge), and each
beat that moved is decoded with its stream's payload layout. The window is drawn twice: as
text for the terminal, and as a WaveDrom picture (SVG through yowasp-wavedrom, JSON beside it
for any other WaveDrom renderer).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from vrex.interface.expect import fields

__all__ = ["StreamWindow", "read_window", "draw_text", "wavedrom", "write_wavedrom"]


@dataclasses.dataclass
class StreamWindow:
    """Clock edges ``edges`` (ps) and per stream its ``valid``, ``ready`` (0, 1, None if
    unknown) and the decoded payload of each beat that moved, at each edge."""
    edges: list[int]
    period_ps: int
    streams: dict                        # name -> {"valid": [...], "ready": [...], "beat": [...]}
    marked: int | None = None            # index in ``edges`` of the moment looked at

    def cycle(self, i: int) -> int:
        """The clock cycle of edge ``i``, counted from the start of the simulation."""
        return self.edges[i] // self.period_ps


def _scope_with(scopes, wanted: str):
    """The first scope, depth first, that holds a variable ``wanted``."""
    for scope in scopes:
        names = {v.name: v for v in scope.vars()}
        if wanted in names:
            return names
        found = _scope_with(list(scope.scopes()), wanted)
        if found:
            return found
    return None


def _value(signal, time: int):
    v = signal.value_at(time)
    return v if isinstance(v, int) else None       # strings carry x or z bits


def read_window(path: Path, names: list[str], at_ps: int, *, layouts: dict | None = None,
                before: int = 8, after: int = 3) -> StreamWindow:
    """The streams ``names`` in ``before`` cycles up to the edge at ``at_ps`` (or the last edge
    before it) and ``after`` cycles past it; the beats of those in ``layouts`` (name ->
    payload layout) decoded, the others shown as having moved."""
    import pywellen
    layouts = layouts or {}
    wave = pywellen.Waveform(str(path))
    first = names[-1]
    found = _scope_with(list(wave.scopes()), f"{first}__valid")
    if found is None or "clk" not in found:
        raise ValueError(f"{path}: no clk and {first}__valid in any scope")
    clk = found["clk"].signal
    edges = [t for t, v in (clk[i] for i in range(len(clk))) if v == 1 and t > 0]
    if len(edges) < 2:
        raise ValueError(f"{path}: fewer than two clock edges")
    period = edges[1] - edges[0]
    here = max((i for i, t in enumerate(edges) if t <= at_ps), default=0)
    lo, hi = max(0, here - before), min(len(edges), here + after + 1)
    window = edges[lo:hi]
    streams = {}
    for name in names:
        if f"{name}__valid" not in found:
            continue
        sig = {p: found[f"{name}__{p}"].signal for p in ("valid", "ready", "payload")}
        valid = [_value(sig["valid"], t - 1) for t in window]
        ready = [_value(sig["ready"], t - 1) for t in window]
        beat = []
        for t, v, r in zip(window, valid, ready):
            bits = _value(sig["payload"], t - 1) if v and r else None
            layout = layouts.get(name)
            beat.append(None if bits is None else
                        fields(layout, layout.from_bits(bits)) if layout else {})
        streams[name] = {"valid": valid, "ready": ready, "beat": beat}
    return StreamWindow(window, period, streams, here - lo)


_LEVEL = {1: "‾‾‾‾‾", 0: "_____", None: "xxxxx"}


def draw_text(window: StreamWindow, labels: dict | None = None) -> str:
    """Rows of the streams' ``valid`` and ``ready`` per cycle, and a row naming each beat that
    moved (``labels``: (stream, edge index) -> text, default ``*``); the marked cycle under
    ``^``."""
    labels = labels or {}
    width = 6
    rows = ["cycle".ljust(16) + "".join(f"{window.cycle(i):<{width}}"
                                        for i in range(len(window.edges)))]
    for name, s in window.streams.items():
        for part in ("valid", "ready"):
            rows.append(f"{name}.{part}".ljust(16)
                        + "".join(_LEVEL[v] + " " for v in s[part]))
        moved = [labels.get((name, i), "*") if b is not None else "" for i, b in
                 enumerate(s["beat"])]
        rows.append(f"{name} beat".ljust(16) + "".join(f"{m:<{width}}" for m in moved))
    if window.marked is not None:
        rows.append(" " * (16 + width * window.marked) + "^")
    return "\n".join(row.rstrip() for row in rows)


def wavedrom(window: StreamWindow, title: str, labels: dict | None = None) -> dict:
    """The window as WaveJSON: the clock, then per stream its handshake and the beats that
    moved (labelled, the marked one in another colour)."""
    labels = labels or {}

    def level(values):
        wave, last = "", object()
        for v in values:
            c = "x" if v is None else str(v)
            wave += "." if c == last else c
            last = c
        return wave

    signal = [{"name": "clk", "wave": "p" + "." * (len(window.edges) - 1)}]
    for name, s in window.streams.items():
        wave, data = "", []
        for i, beat in enumerate(s["beat"]):
            if beat is None:
                wave += "x"
                continue
            wave += "5" if i == window.marked else "="
            data.append(labels.get((name, i), ""))
        signal.append([name, {"name": "valid", "wave": level(s["valid"])},
                       {"name": "ready", "wave": level(s["ready"])},
                       {"name": "beat", "wave": wave, "data": data}])
    return {"signal": signal, "head": {"text": title, "tick": window.cycle(0)},
            "config": {"hscale": 2}}


def write_wavedrom(window: StreamWindow, title: str, path: Path,
                   labels: dict | None = None) -> Path:
    """Write ``path`` (.json) and, with yowasp-wavedrom, the SVG beside it; returns the SVG."""
    import yowasp_wavedrom
    source = wavedrom(window, title, labels)
    path.with_suffix(".json").write_text(json.dumps(source, indent=1) + "\n")
    svg = path.with_suffix(".svg")
    svg.write_text(yowasp_wavedrom.render(source))
    return svg
