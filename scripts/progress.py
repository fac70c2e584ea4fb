"""Progress on the terminal for the steps that take more than a moment: a tqdm bar per
simulation (input beats taken of all), per tool run (elapsed time and the tool's phase) and
per sweep (points done of all).
Bars show only on a terminal and not with ``--quiet``; messages go to stderr unless quiet.

tqdm (already a dependency, for the model's downloads) draws them: it is maintained, thread
safe, and turns itself off when stderr is not a terminal.
"""

from __future__ import annotations

import shutil
import sys
import threading

__all__ = ["Progress"]


class Progress:
    """Messages and bars for one command. ``quiet``: neither; ``bars``: force bars on or off
    (default: only when stderr is a terminal)."""

    def __init__(self, *, quiet: bool = False, bars: bool | None = None):
        self.quiet = quiet
        self.bars_on = (not quiet) and (sys.stderr.isatty() if bars is None else bars)
        self._bars = {}
        self._lock = threading.Lock()

    def __call__(self, message: str) -> None:
        """A line of its own, between the bars."""
        if self.quiet:
            return
        if self.bars_on:
            from tqdm import tqdm
            tqdm.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr, flush=True)

    def _bar(self, name: str, total: int | None, unit: str):
        from tqdm import tqdm
        bar = self._bars.get(name)
        if bar is None:
            fmt = None if total else "{desc}: {elapsed}{postfix}"
            # The width once, with a fallback: a terminal that reports none (0 columns)
            # would otherwise get no bar at all.
            width = shutil.get_terminal_size((80, 20)).columns
            bar = self._bars[name] = tqdm(total=total, desc=name, unit=unit, leave=False,
                                          file=sys.stderr, ncols=width, bar_format=fmt)
        return bar

    def beats(self, name: str, done: int, total: int) -> None:
        """A simulation's input beats taken so far, of ``total``."""
        self.count(name, done, total, "beat")

    def count(self, name: str, done: int, total: int, unit: str) -> None:
        """``done`` of ``total`` things (``unit``: what one is called) finished so far."""
        if not self.bars_on:
            return
        with self._lock:
            bar = self._bar(name, total, unit)
            bar.total = total
            bar.n = done
            bar.refresh()

    def tool(self, name: str, elapsed: float, phase: str) -> None:
        """A tool run's elapsed seconds and what its log says it is doing."""
        if not self.bars_on:
            return
        with self._lock:
            bar = self._bar(name, None, "s")
            bar.set_postfix_str(phase[:48], refresh=True)

    def done(self, name: str) -> None:
        """Close ``name``'s bar."""
        with self._lock:
            bar = self._bars.pop(name, None)
            if bar is not None:
                bar.close()
