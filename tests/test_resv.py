"""ReSV end to end (golden/resv.py) and the methods it compares (golden/retrieval.py) on
cases with known answers, and the relations that must hold on any trace."""

import numpy as np
import pytest

from vrex.golden.config import Mode, load_config
from vrex.golden.hcu import run_hcu
from vrex.golden.resv import attention, evaluate_head, step_metrics
from vrex.golden.retrieval import baseline_tokens, wicsum_float, wicsum_float_bucketed
from vrex.golden.trace import Trace, TraceParams, generate_trace, hash_keys, hyperplanes
from vrex.scripts.evaluate import format_table, summarize

DEFAULT = load_config("default")
SELECTIONS = ["int-bucketed", "int-exact", "float-bucketed", "float-exact"]


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
    m = step_metrics(q, k, v, np.ones(20, dtype=bool), np.arange(20) < 12)
    assert m["output_error"] == 0.0 and m["mass_recall"] == pytest.approx(1.0)
    assert m["retrieval_ratio"] == 1.0 and m["kv_bytes"] == 20 * 2 * 8 * 2
    assert m["keeps_all"] and m["retrieved_tokens"] == 12
    # Attention over one token is that token's value.
    out, weights = attention(q, k, v, np.eye(20, dtype=bool)[4])
    assert np.allclose(out, v[4]) and np.allclose(weights[:, 4], 1.0)


def test_output_error_is_bounded_by_two():
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(2, 30))
        q = rng.standard_normal((4, 8)) * rng.uniform(0.1, 10)
        k = rng.standard_normal((n, 8))
        v = rng.standard_normal((n, 8)) * rng.uniform(0.01, 100, size=(n, 1))
        mask = rng.random(n) < rng.uniform(0, 1)
        m = step_metrics(q, k, v, mask, np.ones(n, dtype=bool))
        assert 0.0 <= m["output_error"] <= 2.0
    # Light attention on a large value that full attention barely weighs: divided by full
    # attention's RMS value norm alone, the error would be (1 - w) / sqrt(w), far above 2.
    q, k = np.array([[1.0, 0.0]]), np.array([[40.0, 0.0], [0.0, 0.0]])
    v = np.array([[0.0, 0.0], [1000.0, 0.0]])
    mask = np.array([False, True])
    full, w = attention(q, k, v)
    light, _ = attention(q, k, v, mask)
    assert np.linalg.norm(light - full) / np.sqrt(w @ (v * v).sum(axis=1)) > 100
    m = step_metrics(q, k, v, mask, np.ones(2, dtype=bool))
    assert m["output_error"] == pytest.approx(1.0, abs=1e-6)      # |o_light - o_full| ~ |v|
    assert m["mass_recall"] < 1e-6


def test_keeping_nothing_leaves_a_row_without_attention():
    q, k, v = np.ones((2, 4)), np.ones((3, 4)), np.full((3, 4), 2.0)
    m = step_metrics(q, k, v, np.zeros(3, dtype=bool), np.ones(3, dtype=bool))
    # Zero output against the full output 2: the error is |o_full| / RMS = 1.
    assert m["output_error"] == pytest.approx(1.0) and m["mass_recall"] == 0.0
    assert not m["keeps_all"] and m["attended_tokens"] == 0


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


@pytest.mark.parametrize("selection", SELECTIONS)
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
        # The token baseline and streaming spend exactly the hardware's budget; the window
        # none.
        assert methods["topk-token"]["retrieved_tokens"] == hw["retrieved_tokens"]
        assert methods["streaming"]["retrieved_tokens"] == hw["retrieved_tokens"]
        assert methods["window"]["retrieved_tokens"] == 0
        for r in methods.values():
            assert 0.0 <= r["output_error"] <= 2.0
            assert r["keeps_all"] == (r["retrieved_tokens"] == r["candidates"])
        # More attended, more mass: every method includes the window.
        assert methods["window"]["mass_recall"] <= hw["mass_recall"] + 1e-12
        assert hw["kv_bytes"] == hw["attended_tokens"] * 2 * 32 * 2


def _records(trace, **kwargs):
    return {(r["kind"], r["frames"], r["method"]): r
            for r in evaluate_head(trace, 0, DEFAULT, **kwargs)}


def test_a_group_of_identical_query_heads_selects_as_one():
    trace = generate_trace(TraceParams(frames=4, tokens=32, heads=1, head_dim=32,
                                       text_queries=3, seed=7))
    twice = Trace(trace.keys, trace.values, np.stack([trace.queries] * 2, axis=3),
                  np.stack([trace.text_queries] * 2, axis=2), trace.text_keys,
                  trace.text_values)
    assert twice.group == 2
    one, two = _records(trace, rows=8), _records(twice, rows=8)
    assert one.keys() == two.keys()
    for key, r in one.items():
        assert two[key]["rows"] == 2 * r["rows"]
        for name, value in r.items():
            if name in ("rows", "group"):
                continue
            # The OR over identical rows is the OR over one: the same tokens, the same mass.
            expected = pytest.approx(value, rel=1e-12) if isinstance(value, float) else value
            assert two[key][name] == expected, (key, name)


def test_every_query_head_of_the_group_adds_to_the_selection():
    two = generate_trace(TraceParams(frames=4, tokens=32, heads=1, head_dim=32,
                                     text_queries=3, seed=7, group=2))
    one = Trace(two.keys, two.values, two.queries[:, :, :, 0], two.text_queries[:, :, 0],
                two.text_keys, two.text_values)
    kept = [{k: r["retrieved_tokens"] for k, r in _records(t, rows=8).items()
             if k[2] == "resv/float-exact"} for t in (one, two)]
    # An OR over more rows keeps a superset (float scores: no batch-wide integer scale).
    assert all(kept[1][k] >= n for k, n in kept[0].items())
    assert any(kept[1][k] > n for k, n in kept[0].items())


def _spiked_trace(tokens=4, dim=8, text=0, **changes):
    """Two frames of keys pointing away from the queries (-4 e), but where ``changes`` puts
    a key along them (``(frame, token): scale``)."""
    e = np.eye(dim)[0]
    keys = np.broadcast_to(-4.0 * e, (2, tokens, 1, dim)).copy()
    for (frame, token), scale in changes.get("spikes", {}).items():
        keys[frame, token, 0] = scale * e
    values = np.random.default_rng(0).standard_normal((2, tokens, 1, dim))
    queries = np.broadcast_to(e, (2, tokens, 1, dim)).copy()
    text_keys = changes.get("text_keys", np.zeros((0, 1, dim)))
    return Trace(keys, values, queries, np.broadcast_to(e, (text, 1, dim)).copy(), text_keys,
                 np.ones_like(text_keys), sink=changes.get("sink", 0))


def test_prefill_attends_its_own_frame_causally():
    # The row at token 0 of frame 1 weighs its own key (20 e) as much as frame 0's spike, and
    # never token 1 of its frame (40 e: after it). The window method attends frame 1 alone.
    trace = _spiked_trace(spikes={(0, 0): 20.0, (1, 0): 20.0, (1, 1): 40.0})
    r = _records(trace, rows=1, window=0)
    assert r["prefill", 1, "window"]["mass_recall"] == pytest.approx(0.5, abs=1e-3)
    assert r["prefill", 1, "resv/int-bucketed"]["mass_recall"] == pytest.approx(1.0, abs=1e-3)


def test_text_queries_attend_the_text_tokens_causally():
    dim = 8
    text_keys = np.zeros((2, 1, dim))
    text_keys[:, 0, 0] = [-4.0, 40.0]       # token 0 like the frames; token 1 after query 0
    trace = _spiked_trace(text=2, text_keys=text_keys)
    window = _records(trace, window=0)["text", 2, "window"]
    # Query 1: nearly all on text token 1. Query 0: text token 0 among 9 equal keys.
    assert window["mass_recall"] == pytest.approx((1.0 + 1 / 9) / 2, abs=1e-3)
    # Without text keys (a version 1 trace) the text queries see the frames alone.
    bare = _spiked_trace(text=2)
    assert _records(bare, window=0)["text", 2, "window"]["mass_recall"] == 0.0


def test_sink_tokens_are_always_attended_and_never_chosen():
    tokens = 8
    trace = _spiked_trace(tokens=tokens, spikes={(0, 0): 20.0, (0, 5): 20.0}, sink=1)
    r = _records(trace, rows=2, window=0)
    for rec in r.values():
        # The sink prefix is not among the older tokens (frame 0 but token 0) ...
        assert rec["candidates"] == tokens - 1 and rec["retrieved_tokens"] <= tokens - 1
    # ... and every method attends it: even the window alone holds half the mass.
    assert r["prefill", 1, "window"]["mass_recall"] == pytest.approx(0.5, abs=1e-3)
    assert r["prefill", 1, "window"]["retrieved_tokens"] == 0
    # The sink prefix is not clustered: a whole-frame prefix leaves frame 1's clusters alone.
    keys = generate_trace(TraceParams(frames=3, tokens=16, heads=1, head_dim=16, seed=2))
    whole = Trace(keys.keys, keys.values, keys.queries, sink=16)
    rec = _records(whole, window=0)["prefill", 2, "resv/int-bucketed"]
    hashes = hash_keys(keys.keys[1, :, 0], hyperplanes(16, DEFAULT.hash_bits, 0))
    assert rec["clusters"] == run_hcu(hashes, DEFAULT).counts.size
    assert rec["candidates"] == 16 and ("prefill", 1, "window") not in _records(whole,
                                                                               window=0)


def test_a_step_that_keeps_everything_is_counted():
    # Frame 0: one key repeated, a single cluster; WiCSum must keep it, so all of frame 0.
    rng = np.random.default_rng(4)
    tokens, dim = 8, 16
    keys = rng.standard_normal((3, tokens, 1, dim))
    keys[0] = rng.standard_normal(dim)
    queries = keys[0, 0] + 0.1 * rng.standard_normal(keys.shape)       # looking for it
    trace = Trace(keys, rng.standard_normal(keys.shape), queries)
    records = evaluate_head(trace, 0, DEFAULT, rows=4)
    hw = [r for r in records if r["method"] == "resv/int-bucketed"]
    assert [r["keeps_all"] for r in hw] == [True]
    assert hw[0]["retrieved_tokens"] == hw[0]["candidates"] == tokens
    lines = format_table(summarize(records), heads=False).splitlines()
    assert "| all | prefill | resv/int-bucketed | 100.0% | 1/1 |" in "\n".join(lines)
    assert "| all | prefill | window | 0.0% | 0/1 |" in "\n".join(lines)
    dominant = [r for r in evaluate_head(_dominant_trace(), 0, DEFAULT)
                if r["method"] == "resv/int-bucketed"]
    assert [r["keeps_all"] for r in dominant] == [False]


@pytest.mark.parametrize("first", [0, 3, 16])
def test_baselines_spend_the_budget_in_their_units(first):
    rng = np.random.default_rng(first)
    keys, q = rng.standard_normal((70, 8)), rng.standard_normal((3, 8))
    for budget in range(0, 75, 5):
        kept = {name: baseline_tokens(name, q, keys, budget, frame_tokens=16, page_tokens=8,
                                      first=first)
                for name in ("topk-token", "topk-page", "topk-frame", "streaming")}
        assert kept["topk-token"].sum() == kept["streaming"].sum() == min(budget, 70)
        # Whole pages (frames), cut at absolute multiples of 8 (16), the first and last may
        # be partial: the nearest whole number of them to the budget, at least one.
        for name, size in (("topk-page", 8), ("topk-frame", 16)):
            groups = (first + np.arange(70)) // size
            taken = np.unique(groups[kept[name]])
            for g in taken:
                assert kept[name][groups == g].all()
            assert taken.size == (0 if budget == 0 else max(1, round(budget / size)))
    # The page holding a key along every query is the one a one-page budget keeps.
    keys[40:48] = -keys[40:48]
    keys[42] = 10 * q.mean(axis=0)
    page = baseline_tokens("topk-page", q, keys, 8, frame_tokens=16, page_tokens=8)
    assert np.flatnonzero(page).tolist() == list(range(40, 48))
    # streaming keeps its sinks (first tokens) and then the newest.
    assert np.flatnonzero(baseline_tokens("streaming", q, keys, 6, frame_tokens=16,
                                          page_tokens=8)).tolist() == [0, 1, 2, 3, 68, 69]
    assert np.flatnonzero(baseline_tokens("streaming", q, keys, 6, frame_tokens=16,
                                          page_tokens=8, sinks=0)).tolist() == list(range(64, 70))


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
        "topk-token", "topk-frame", "topk-page", "streaming", "window"}
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


def test_agreeing_methods_stay_visible_in_the_error_plot():
    # Two methods at the same points (the float- and int-bucketed selections often agree):
    # distinct hollow markers, the one drawn first the larger, so neither hides the other.
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vrex.scripts.evaluate import error_points
    records = [{"kind": "prefill", "method": m, "retrieval_ratio": 0.2, "output_error": 0.01}
               for m in ("resv/float-bucketed", "resv/int-bucketed")]
    fig, ax = plt.subplots()
    first, second = error_points(ax, records, "prefill")
    plt.close(fig)
    assert not np.array_equal(first.get_paths()[0].vertices, second.get_paths()[0].vertices)
    assert first.get_sizes()[0] > second.get_sizes()[0]
    assert len(first.get_facecolors()) == 0 and len(second.get_facecolors()) == 0
