"""Retrieval controller RTL in the Amaranth simulator against the golden paged layout."""

import numpy as np
import pytest

from vrex.golden.config import Config
from vrex.golden.controller import PagedLayout, descriptor_cycles
from vrex.rtl.controller import Controller
from vrex.testbench.amaranth_controller import simulate_controller


def _script(rng, cfg, rounds):
    """Tokens of new and old clusters, with queries between them."""
    steps, n = [], 0
    for _ in range(rounds):
        ids, new = [], []
        for _ in range(int(rng.integers(1, 40))):
            if n < cfg.max_clusters and (n == 0 or rng.random() < 0.3):
                ids.append(n); new.append(1); n += 1
            else:
                ids.append(int(rng.integers(0, n))); new.append(0)
        steps.append(("tokens", ids, new))
        for _ in range(int(rng.integers(0, 3))):
            steps.append(("query", rng.random(n) < rng.random()))
    return steps


def _golden(steps, cfg):
    layout, out = PagedLayout(cfg), []
    for step in steps:
        if step[0] == "tokens":
            out.append(layout.place(step[1]))
        else:
            out.append((layout.descriptors(step[1]),
                        descriptor_cycles(step[1], layout, cfg.wtu_lanes)))
    return out, layout


@pytest.mark.parametrize("seed", range(8))
def test_random_against_golden(seed):
    rng = np.random.default_rng(seed)
    cfg = Config(max_clusters=int(rng.integers(1, 30)), page_tokens=int(rng.integers(1, 6)),
                 max_pages=int(rng.integers(1, 40)), wtu_lanes=1)
    cfg = cfg.replace(wtu_lanes=int(rng.integers(1, min(cfg.max_clusters, 8) + 1)))
    steps = _script(rng, cfg, 4)
    want, layout = _golden(steps, cfg)
    stressed = seed % 2 == 1
    got = simulate_controller(steps, cfg, idle=0.3 if stressed else 0,
                              stall=0.3 if stressed else 0, seed=seed)
    for i, (g, w) in enumerate(zip(got, want)):
        if steps[i][0] == "tokens":
            np.testing.assert_array_equal(g, w, err_msg=f"seed {seed} step {i} slots")
        else:
            np.testing.assert_array_equal(g[0], w[0], err_msg=f"seed {seed} step {i} desc")
            if not stressed:
                assert g[1] == w[1], f"seed {seed} step {i}: {g[1]} cycles, model {w[1]}"


def test_pool_runs_out():
    # Two pages for three clusters: the third cluster's tokens get no slot, and its selection
    # gives no descriptor.
    cfg = Config(max_clusters=4, page_tokens=2, max_pages=2, wtu_lanes=2)
    steps = [("tokens", [0, 1, 2, 0, 0, 2], [1, 1, 1, 0, 0, 0]),
             ("query", np.array([True, True, True]))]
    want, layout = _golden(steps, cfg)
    assert layout.overflow and (want[0] == cfg.no_slot).sum() == 3
    got = simulate_controller(steps, cfg)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1][0], want[1][0])
    assert got[1][1] == want[1][1]


def test_empty_query():
    cfg = Config(max_clusters=4, page_tokens=2, max_pages=2, wtu_lanes=2)
    got = simulate_controller([("query", np.zeros(0, dtype=bool))], cfg)
    assert got[0][0].shape == (0, 2)
    assert got[0][1] == descriptor_cycles(np.zeros(0, bool), PagedLayout(cfg), 2)


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="page_tokens must be an integer in 1..65536, not 0"):
        Controller(page_tokens=0)
