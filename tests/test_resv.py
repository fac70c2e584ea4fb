"""ReSV end to end (golden/resv.py) on cases with known answers, and the relations that must
hold on any trace."""

import numpy as np
import pytest

from vrex.golden.config import Mode, load_config
from vrex.golden.resv import (attention, evaluate_head, step_metrics, wicsum_float,
                              wicsum_float_bucketed)
from vrex.golden.trace import Trace, TraceParams, generate_trace

DEFAULT = load_config("default")


def test_wicsum_float_keeps_the_fewest_highest():
    scores = np.array([[3.0, 1.0, 0.0, -2.0]])
    counts = np.array([1, 1, 1, 5])
    # Total 4 (clamp); the top value alone (3) passes half of it.
    assert wicsum_float(scores, counts, 0.5, Mode.CLAMP).tolist() == [[1, 0, 0, 0]]
    # 3 is not more than 0.75 of 4: the next one is needed.
    assert wicsum_float(scores, counts, 0.75, Mode.CLAMP).tolist() == [[1, 1, 0, 0]]
    # Nothing passes a ratio of 1: every cluster.
    assert wicsum_float(scores, counts, 1.0, Mode.CLAMP).all()
    # shift: values 5, 3, 2, 0 weighted 5, 3, 2, 0: 5 > 0.4 * 10.
    assert wicsum_float(scores, counts, 0.4, Mode.SHIFT).tolist() == [[1, 0, 0, 0]]


def test_float_buckets_follow_the_spec_rule():
    # Values 8, 7, 1, 0 in 2 buckets of width 4: {8, 7} and {1, 0}. The top bucket's 15 of 16
    # passes 0.5 of the total: it alone is kept; at 0.95 both buckets are.
    scores = np.array([[8.0, 7.0, 1.0, 0.0]])
    counts = np.ones(4)
    assert wicsum_float_bucketed(scores, counts, 0.5, Mode.CLAMP, 2).tolist() == \
        [[1, 1, 0, 0]]
    assert wicsum_float_bucketed(scores, counts, 0.95, Mode.CLAMP, 2).all()
    # The exact rule on the same floats is a subset of the buckets (at 0.4: 8 alone).
    exact = wicsum_float(scores, counts, 0.4, Mode.CLAMP)
    assert exact.tolist() == [[1, 0, 0, 0]]
    assert not (exact & ~wicsum_float_bucketed(scores, counts, 0.4, Mode.CLAMP, 2)).any()


def test_attending_to_everything_is_exact():
    rng = np.random.default_rng(0)
    q = rng.standard_normal((3, 8))
    k, v = rng.standard_normal((20, 8)), rng.standard_normal((20, 8))
    m = step_metrics(q, k, v, np.ones(20, dtype=bool), old=12)
    assert m["output_rel_error"] == 0.0 and m["mass_recall"] == pytest.approx(1.0)
    assert m["retrieval_ratio"] == 1.0 and m["kv_bytes"] == 20 * 2 * 8 * 2
    # Attention over one token is that token's value.
    out, weights = attention(q, k, v, np.eye(20, dtype=bool)[4])
    assert np.allclose(out, v[4]) and np.allclose(weights[:, 4], 1.0)


def _dominant_trace(tokens=8, dim=16, seed=1):
    """Three frames; in frame 0 half the tokens share one key along the queries' direction,
    the rest (and frame 1, the recent window) point away from it."""
    rng = np.random.default_rng(seed)
    e = np.zeros(dim)
    e[0] = 1.0
    keys = -4.0 * e + 0.3 * rng.standard_normal((3, tokens, 1, dim))
    keys[0, :tokens // 2, 0] = 20.0 * e
    values = rng.standard_normal((3, tokens, 1, dim))
    queries = np.broadcast_to(e, (3, tokens, 1, dim)).copy()
    return Trace(keys, values, queries, np.zeros((0, 1, dim)))


@pytest.mark.parametrize("selection", ["int-bucketed", "int-exact", "float-bucketed",
                                       "float-exact"])
def test_one_dominant_cluster_is_all_that_is_retrieved(selection):
    trace = _dominant_trace()
    records = [r for r in evaluate_head(trace, 0, DEFAULT, selections=[selection])
               if r["method"] == f"resv/{selection}" and r["frames"] == 2]
    (r,) = records
    # The older part is frame 0: its dominant half, one cluster, and nothing else.
    assert r["retrieval_ratio"] == 0.5 and r["retrieved_tokens"] == 4
    assert r["selected_clusters"] == 1
    assert r["mass_recall"] > 0.99


def test_relations_on_a_generated_trace():
    trace = generate_trace(TraceParams(frames=5, tokens=32, heads=1, head_dim=32,
                                       text_queries=4))
    records = evaluate_head(trace, 0, DEFAULT, rows=8)
    by_step = {}
    for r in records:
        by_step.setdefault((r["kind"], r["frames"]), {})[r["method"]] = r
    assert {k for k, _ in by_step} == {"prefill", "text"}
    for methods in by_step.values():
        hw = methods["resv/int-bucketed"]
        # The exact rule keeps a subset of the buckets' clusters (SPEC 3).
        assert methods["resv/int-exact"]["retrieved_tokens"] <= hw["retrieved_tokens"]
        assert methods["resv/float-exact"]["retrieved_tokens"] <= \
            methods["resv/float-bucketed"]["retrieved_tokens"]
        # The token baseline spends exactly the hardware's budget; the window none.
        assert methods["topk-token"]["retrieved_tokens"] == hw["retrieved_tokens"]
        assert methods["window"]["retrieved_tokens"] == 0
        # More attended, more mass: every method includes the window.
        assert methods["window"]["mass_recall"] <= hw["mass_recall"] + 1e-12
        assert hw["kv_bytes"] == hw["attended_tokens"] * 2 * 32 * 2


def test_bad_arguments_are_named():
    trace = _dominant_trace()
    with pytest.raises(ValueError, match="head must be in 0..0, not 1"):
        evaluate_head(trace, 1, DEFAULT)
    with pytest.raises(ValueError, match="selection must be one of .*, not 'sorted'"):
        evaluate_head(trace, 0, DEFAULT, selections=["sorted"])
    with pytest.raises(ValueError, match="baseline must be one of .*, not 'h2o'"):
        evaluate_head(trace, 0, DEFAULT, baselines=["h2o"])
    with pytest.raises(ValueError, match="window must be >= 0 tokens, not -1"):
        evaluate_head(trace, 0, DEFAULT, window=-1)


def test_eval_command(tmp_path, capsys):
    import json

    from vrex.golden.trace import save_trace
    from vrex.scripts.cli import main
    trace = tmp_path / "t.npz"
    save_trace(trace, generate_trace(TraceParams(frames=4, tokens=16, heads=2, head_dim=16,
                                                 text_queries=2)))
    assert main(["eval", str(trace), "--rows", "4", "--json", str(tmp_path / "e.json"),
                 "--plots", str(tmp_path / "plots")]) == 0
    out = capsys.readouterr().out
    assert "| all | prefill | resv/int-bucketed |" in out and "| 1 | text | window |" in out
    figures = json.loads((tmp_path / "e.json").read_text())
    assert {r["method"] for r in figures["steps"]} == {
        "resv/int-bucketed", "resv/int-exact", "resv/float-bucketed", "resv/float-exact",
        "topk-token", "topk-frame", "window"}
    assert (tmp_path / "plots" / "error_vs_ratio.png").stat().st_size > 0
    assert (tmp_path / "plots" / "selected_clusters.png").stat().st_size > 0
    # Two traces are two layers: heads are named layer.head, "all" covers both.
    assert main(["eval", str(trace), str(trace), "--rows", "4", "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "2 layers" in out and "| 1.1 | text | window |" in out


def test_eval_refuses_bad_input(tmp_path, capsys):
    from vrex.scripts.cli import main
    bad = tmp_path / "bad.npz"
    np.savez(bad, keys=np.zeros((2, 4, 1, 8)), values=np.zeros((2, 4, 1, 8)))
    assert main(["eval", str(bad), "--no-plot"]) == 2
    assert "queries" in capsys.readouterr().err
    assert main(["eval", "--selection", "sorted", "--no-plot"]) == 2
    assert "--selection must be one of int-bucketed, int-exact, float-bucketed" in \
        capsys.readouterr().err
    assert main(["eval", "--rows", "0", "--no-plot"]) == 2
    assert "rows must be a positive integer, not 0" in capsys.readouterr().err


def test_eval_sweep(tmp_path, capsys):
    import json

    from vrex.scripts.cli import main
    from vrex.scripts.evaluate import parse_sweep
    assert parse_sweep("ratio=0.3,16384") == ("ratio", [19660, 16384])
    assert parse_sweep("mode=shift,clamp") == ("mode", ["shift", "clamp"])
    with pytest.raises(ValueError, match="NAME one of th_hd, ratio"):
        parse_sweep("lanes=2")
    with pytest.raises(ValueError, match="--sweep th_hd: bad value 'x'"):
        parse_sweep("th_hd=5,x")
    out = tmp_path / "s.json"
    assert main(["eval", "--sweep", "ratio=0.1,0.5", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["sweep"]
    hw = {r["value"]: r for r in rows
          if r["method"] == "resv/int-bucketed" and r["kind"] == "prefill"}
    # A higher ratio keeps more, never less.
    assert hw[32768]["retrieval_ratio"] >= hw[6553]["retrieval_ratio"]
    assert "| ratio | 0.500 | prefill | resv/int-bucketed |" in capsys.readouterr().out
