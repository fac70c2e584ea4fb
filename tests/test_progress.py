"""Progress on the terminal: simulation bars count input beats, tool runs show their phase,
nothing shows with --quiet or off a terminal."""

import shutil

import pytest

from vrex.scripts.progress import Progress


def test_nothing_off_a_terminal_or_when_quiet(capsys):
    Progress(bars=False).beats("x", 1, 2)
    Progress(quiet=True)("a message")
    assert capsys.readouterr().err == ""
    Progress(bars=False)("a message")
    assert capsys.readouterr().err == "a message\n"


def test_quiet_flag_silences_the_messages(tmp_path, capsys):
    from vrex.scripts.cli import main
    assert main(["--quiet", "vectors", "random", "--unit", "hcu", "-o",
                 str(tmp_path / "v.npz")]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("line, phase", [
    ("2.3.1. Executing PROC_CLEAN pass (remove empty switches from decision trees).",
     "yosys: PROC_CLEAN"),
    ("Info: Routing globals...", "nextpnr: Routing globals..."),
    ("Info: Max frequency for clock '$glbnet$clk': 82.70 MHz (PASS at 12.00 MHz)",
     "nextpnr: Max frequency for clock"),
])
def test_a_tool_logs_phase(tmp_path, line, phase):
    from vrex.synth.yosys import log_phase
    name = phase.split(":")[0]
    (tmp_path / f"{name}.log").write_text(f"noise\n{line}\nmore noise\n")
    assert log_phase(tmp_path).startswith(phase)


def test_tool_runs_of_a_worker_pool_are_shown(tmp_path):
    # A study's tool runs happen in worker processes; its driver finds them by their marker
    # and shows each as its own tool run is shown, and closes the bar when it ends.
    import os
    from vrex.synth.yosys import RUNNING, JobWatch
    shown, closed = [], []

    class Recorder:
        def tool(self, name, elapsed, phase):
            shown.append((name, phase))

        def done(self, name):
            closed.append(name)

    work = tmp_path / "hcu-digit-4-0123456789abcdef"
    work.mkdir()
    (work / "yosys.log").write_text("3.1. Executing ABC pass (technology mapping).\n")
    (work / RUNNING).write_text(str(os.getpid()))
    dead = tmp_path / "wtu-9876543210fedcba"            # a run killed midway
    dead.mkdir()
    (dead / RUNNING).write_text("999999999")
    watch = JobWatch(tmp_path, Recorder())
    watch()
    assert shown == [("synth hcu-digit-4", "yosys: ABC")] and closed == []
    (work / RUNNING).unlink()
    watch()
    assert closed == ["synth hcu-digit-4"]


@pytest.mark.skipif(not shutil.which("iverilog"), reason="iverilog not installed")
def test_a_simulation_shows_its_beats(tmp_path, capsys):
    from vrex.golden.config import load_config
    from vrex.golden.stimulus import random_vectors
    from vrex.testbench.runner import simulate
    vectors = random_vectors("hcu", load_config("small"), 3, tokens=60)
    simulate(vectors, tmp_path / "o.npz", build_root=tmp_path / "b", stall=0.5,
             progress=Progress(bars=True))
    err = capsys.readouterr().err
    assert "sim hcu: running icarus" in err and "60/60" in err
