"""Sweeps beyond one machine: points run through one executor interface (a local process pool,
or Ray), `vrex sweep --ray` gives the local pool's table, and `vrex explore` finds the Pareto
fronts of a grid."""

import importlib.util
import json
import operator
import sys

import numpy as np
import pytest

from vrex.golden.config import ConfigError, load_config
from vrex.scripts.cli import main
from vrex.synth.executor import LocalExecutor
from vrex.synth.explore import FRONTS, grid_points, pareto_front

needs_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                               reason="Ray (the cluster extra) not installed")


def _dominated(rows, i, x, y):
    return any(r[x] <= rows[i][x] and r[y] <= rows[i][y] and
               (r[x] < rows[i][x] or r[y] < rows[i][y]) for r in rows)


@pytest.mark.parametrize("seed", range(5))
def test_pareto_front_is_every_point_nothing_beats(seed):
    rng = np.random.default_rng(seed)
    rows = [{"a": int(a), "b": int(b)} for a, b in rng.integers(0, 8, size=(30, 2))]
    front = pareto_front(rows, "a", "b")
    undominated = [i for i in range(len(rows)) if not _dominated(rows, i, "a", "b")]
    assert sorted(front) == undominated, f"seed {seed}"        # equal points all on it
    assert [rows[i]["a"] for i in front] == sorted(rows[i]["a"] for i in front)


def test_grid_and_random_draws():
    base = load_config("small")
    grid = grid_points(base, {"digit": [1, 2, 4], "wtu_lanes": [1, 2]})
    assert len(grid) == 6 and {(p["digit"], p["wtu_lanes"]) for p in grid} == \
        {(d, w) for d in (1, 2, 4) for w in (1, 2)}
    drawn = grid_points(base, {"digit": [1, 2, 4], "wtu_lanes": [1, 2]}, draws=4, seed=3)
    assert len(drawn) == 4 and all(p in grid for p in drawn)
    assert drawn == grid_points(base, {"digit": [1, 2, 4], "wtu_lanes": [1, 2]}, draws=4,
                                seed=3)
    with pytest.raises(ConfigError, match="explore point digit=64, wtu_lanes=1: digit"):
        grid_points(base, {"digit": [64], "wtu_lanes": [1]})


def test_local_pool_keeps_the_order_and_counts_points():
    seen = []

    def progress(message):
        seen.append(message)

    calls = [(b, 3) for b in range(12)]
    assert LocalExecutor(3).map(operator.pow, calls, progress=progress) == \
        [b ** 3 for b in range(12)]
    assert seen[-1] == "points: 12 of 12 points done"


def test_ray_without_the_extra_says_how_to_install(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)          # import ray raises ImportError
    assert main(["sweep", "--config", "small", "--axis", "hash_bits=16", "--ray", "auto",
                 "--out", str(tmp_path / "s"), "--build", str(tmp_path / "b")]) == 2
    assert 'pip install -e ".[cluster]"' in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


@needs_ray
def test_sweep_on_a_local_ray_gives_the_local_pools_table(tmp_path):
    args = ["sweep", "--config", "small", "--axis", "hash_bits=16,32", "--no-plot",
            "--jobs", "2"]
    assert main(args + ["--out", str(tmp_path / "pool"), "--build", str(tmp_path / "a")]) == 0
    assert main(args + ["--out", str(tmp_path / "ray"), "--build", str(tmp_path / "b"),
                        "--ray", "auto"]) == 0
    for name in ("sweep.md", "sweep.json"):
        assert (tmp_path / "pool" / name).read_text() == (tmp_path / "ray" / name).read_text()


def test_explore_marks_both_fronts(tmp_path, capsys):
    trace = tmp_path / "trace.npz"
    assert main(["trace", "generate", "-o", str(trace), "--frames", "3"]) == 0
    out = tmp_path / "explore"
    assert main(["explore", "--config", "small", "--axis", "hash_bits=16,32",
                 "--axis", "th_hd=5,7", "--accuracy-trace", str(trace), "--out", str(out),
                 "--build", str(tmp_path / "b")]) == 0
    rows = json.loads((out / "explore.json").read_text())
    assert len(rows) == 4 and (out / "explore.png").stat().st_size > 0
    for flag, x, y in FRONTS:
        on = [i for i, r in enumerate(rows) if r[flag]]
        assert on and not any(_dominated(rows, i, x, y) for i in on)
        assert all(_dominated(rows, i, x, y) for i in range(len(rows)) if i not in on)
    # th_hd is a run-time register: the same logic; hash_bits shapes the HCU alone.
    by = {(r["hash_bits"], r["th_hd"]): r for r in rows}
    assert by[16, 5]["kge"] == by[16, 7]["kge"] < by[32, 7]["kge"]
    assert by[16, 5]["wtu_kge"] == by[32, 5]["wtu_kge"]
    table = (out / "explore.md").read_text()
    assert "| hash_bits | th_hd | kGE |" in table and "*" in table and "+" in table


def test_explore_refusals_name_the_value(tmp_path, capsys):
    base = ["explore", "--config", "small", "--out", str(tmp_path / "e"),
            "--build", str(tmp_path / "b")]
    assert main(base + ["--axis", "digits=1,2"]) == 2
    assert "--axis 'digits': no such parameter" in capsys.readouterr().err
    assert main(base + ["--axis", "th_hd=5", "--accuracy-trace", str(tmp_path / "x.npz")]) == 2
    assert "--accuracy-trace" in capsys.readouterr().err
    bad = tmp_path / "bad.npz"                # a trace without its arrays: refused up front
    np.savez(bad, keys=np.zeros(3))
    assert main(base + ["--axis", "th_hd=5", "--accuracy-trace", str(bad)]) == 2
    assert str(bad) in capsys.readouterr().err
    assert not (tmp_path / "e").exists() and not (tmp_path / "b").exists()


def test_accuracy_over_several_traces_is_the_mean_of_their_steps(tmp_path):
    from vrex.golden.trace import TraceParams, generate_trace, save_trace
    from vrex.synth.explore import _accuracy
    paths = []
    for seed in (1, 2):
        paths.append(str(tmp_path / f"t{seed}.npz"))
        save_trace(paths[-1], generate_trace(TraceParams(frames=3, seed=seed)))
    config = load_config("small")
    one, two = (_accuracy(config, [p]) for p in paths)
    both = _accuracy(config, paths)          # the same steps in each trace: an even mean
    for key in ("output_error", "retrieved"):
        assert both[key] == pytest.approx((one[key] + two[key]) / 2, abs=1e-4)
    assert one != two
