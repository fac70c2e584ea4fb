"""An RTL simulation checked against the expected outputs, and a mismatch made easy to look at.

:func:`checked_run` simulates a vector file and compares its outputs with the golden model's
(or given ones). On a difference it keeps a waveform (rerunning the same seed with waves if
the first run had none), finds the first output beat that is not what the expected outputs
say and the cycle it moved in, and draws the streams around that cycle from the waveform:
as text for the terminal and as a WaveDrom SVG beside the FST.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from vrex.golden.vectors import Vectors, compare_outputs, run_golden
from vrex.interface.expect import (Difference, Taken, expected_beats, fields,
                                   first_difference, input_streams, output_layouts)

from .runner import RunFailed, beat_log, sim_dir, simulate, waveform
from .waves import draw_text, read_window, write_wavedrom

__all__ = ["Mismatch", "checked_run", "compared_keys"]


@dataclasses.dataclass
class Mismatch:
    """What differs, where it first showed, and where to look."""
    unit: str
    differs: list[str]                       # SPEC 6 keys that differ (or the failure)
    first: Difference | None                 # the first output beat that differs, if any
    fst: Path | None = None
    svg: Path | None = None
    drawing: str = ""
    cycle: int | None = None                 # clock cycle of the moment drawn

    def report(self) -> str:
        lines = [f"MISMATCH: {self.unit} RTL differs from the expected outputs in "
                 f"{', '.join(self.differs)}"]
        if self.first is not None:
            when = "" if self.cycle is None else \
                f" (cycle {self.cycle}, {self.first.time_ps / 1000:g} ns)"
            lines.append(f"first differing beat: {self.first.describe()}{when}")
        elif self.cycle is not None:
            lines.append(f"every output beat is as expected; drawn around the last one "
                         f"(cycle {self.cycle})")
        if self.fst:
            lines.append(f"waveform: {_shown(self.fst)}")
        if self.drawing:
            lines += ["", self.drawing, ""]
        if self.svg:
            lines.append(f"picture: {_shown(self.svg)}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        return {"differs": self.differs,
                "first_beat": None if self.first is None else self.first.describe(),
                "cycle": self.cycle, "waveform": self.fst and str(self.fst),
                "picture": self.svg and str(self.svg)}


def _shown(path: Path) -> Path:
    """``path`` relative to the working directory when it is under it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def compared_keys(vectors: Vectors, idle: float = 0.0, stall: float = 0.0) -> set[str]:
    """Outputs not compared: ``cycles`` when the streams pause at random (the golden model
    counts full streams) or with the KV engine (the memory's latency is not modelled)."""
    return {"cycles"} if idle or stall or "kv" in vectors.arrays else set()


def checked_run(vectors: Vectors, out: Path, *, want: dict | None = None,
                sim: str = "icarus", idle: float = 0.0, stall: float = 0.0, seed: int = 0,
                waves: bool = False, build_root: Path = Path("build/sim"),
                soc_top: bool = False, log: str = "test.log",
                progress=None) -> tuple[dict | None, Mismatch | None]:
    """Simulate ``vectors`` into ``out`` and compare with ``want`` (default: the golden
    model's outputs). Returns the RTL's outputs (None if the testbench failed) and a
    :class:`Mismatch` or None."""
    want = run_golden(vectors) if want is None else want
    skip = compared_keys(vectors, idle, stall)
    run = dict(sim=sim, idle=idle, stall=stall, seed=seed, build_root=build_root,
               soc_top=soc_top, log=log, progress=progress)
    got, failure = _try(vectors, out, waves, run)
    differs = [failure] if failure else \
        [k for k in compare_outputs(got, want) if k not in skip]
    if not differs:
        return got, None
    if not waves:
        if progress:
            progress(f"sim {vectors.unit}: outputs differ; rerunning seed {seed} with waves")
        _try(vectors, out, True, run)
    build = sim_dir(vectors, sim, build_root, waves=True, soc_top=soc_top)
    return got, locate(vectors, want, build, log, differs)


def _try(vectors, out, waves, run) -> tuple[dict | None, str | None]:
    try:
        return simulate(vectors, out, waves=waves, **run), None
    except RunFailed as error:
        return None, f"the testbench failed ({error})"


def locate(vectors: Vectors, want: dict, build: Path, log: str,
           differs: list[str]) -> Mismatch:
    """The first differing beat in ``build``'s beat log, drawn from its waveform."""
    layouts = output_layouts(vectors.unit, vectors.config)
    taken = read_beats(beat_log(build, log), layouts)
    try:
        expected = expected_beats(vectors, want)
    except (KeyError, IndexError, ValueError):       # outputs of other vectors (--expect)
        expected = None
        differs = [*differs, "(the expected outputs do not fit these vectors' streams)"]
    first = None if expected is None else next(iter(first_difference(expected, taken)), None)
    mismatch = Mismatch(vectors.unit, differs, first, fst=waveform(build, log))
    at = first.time_ps if first else max((b[-1].time_ps for b in taken.values() if b),
                                         default=None)
    if mismatch.fst is None or at is None:
        return mismatch
    names = [*input_streams(vectors.unit, vectors.config), *layouts]
    window = read_window(mismatch.fst, names, at, layouts=layouts)
    labels = _labels(window, taken)
    mismatch.cycle = window.cycle(window.marked)
    mismatch.drawing = draw_text(window, labels)
    title = first.describe() if first else f"{vectors.unit}: {', '.join(differs)} differ"
    mismatch.svg = write_wavedrom(window, title, build / f"{Path(log).stem}-mismatch.svg",
                                  labels)
    return mismatch


def read_beats(path: Path, layouts: dict) -> dict[str, list[Taken]]:
    """The beat log a testbench wrote, decoded with the streams' layouts."""
    if not path.exists():
        return {}
    raw = json.loads(path.read_text())
    taken = {}
    for name, beats in raw.items():
        layout = layouts[name]
        taken[name] = [Taken(fields(layout, layout.from_bits(int(bits, 16))), t)
                       for t, bits in beats]
    return taken


def _labels(window, taken: dict[str, list[Taken]]) -> dict:
    """``#index`` of each beat in the window, by the time the log gives it."""
    labels = {}
    for name, beats in taken.items():
        index = {b.time_ps: i for i, b in enumerate(beats)}
        for i, t in enumerate(window.edges):
            if t in index:
                labels[(name, i)] = f"#{index[t]}"
    return labels
