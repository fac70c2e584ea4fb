"""The sort-based baseline must really sort, merge and find the prefix exit, or its cell count
would compare the WTU against nothing."""

import itertools

import numpy as np
import pytest
from amaranth.sim import Simulator

from vrex.golden.baselines import sort_latencies, sort_wtu_cycles
from vrex.golden.config import Config
from vrex.golden.wtu import WTU_DECIDE, WTU_MASK_LATENCY, WTU_ROW_SETUP, wtu_extremes
from vrex.rtl.baselines.sort import SortDatapath, merge_network, sort_network


def _apply(stages, rows):
    """Run a comparator network over every row of ``rows`` (descending on wire order)."""
    rows = rows.copy()
    for stage in stages:
        for hi, lo in stage:
            a, b = rows[:, hi].copy(), rows[:, lo].copy()
            rows[:, hi], rows[:, lo] = np.maximum(a, b), np.minimum(a, b)
    return rows


@pytest.mark.parametrize("n", [1, 2, 4, 8, 16])
def test_sort_network_sorts_every_binary_input(n):
    # The 0-1 principle: a comparator network that sorts every 0/1 input sorts every input.
    rows = np.array(list(itertools.product((0, 1), repeat=n)), dtype=np.int64)
    got = _apply(sort_network(n), rows)
    np.testing.assert_array_equal(got, -np.sort(-rows, axis=1))


@pytest.mark.parametrize("n", [1, 2, 4, 8])
def test_merge_network_merges_every_binary_pair_of_runs(n):
    runs = [np.array([1] * k + [0] * (n - k)) for k in range(n + 1)]
    rows = np.array([np.concatenate([a, b]) for a in runs for b in runs])
    np.testing.assert_array_equal(_apply(merge_network(n), rows), -np.sort(-rows, axis=1))


def test_bad_lane_count_is_named():
    with pytest.raises(ValueError, match="lanes must be a power of two, not 6"):
        SortDatapath(lanes=6)


@pytest.mark.parametrize("seed", range(3))
def test_datapath_against_numpy(seed):
    rng = np.random.default_rng(seed)
    lanes, key_bits, count_bits, total_bits = 8, 6, 3, 12
    payload_bits = key_bits + count_bits
    dut = SortDatapath(lanes=lanes, key_bits=key_bits, count_bits=count_bits,
                       total_bits=total_bits)
    trials = []
    for _ in range(20):
        keys = rng.integers(-(1 << (key_bits - 1)), 1 << (key_bits - 1), 2 * lanes)
        keys[rng.random(2 * lanes) < 0.3] = keys[0]           # ties
        payload = rng.integers(0, 1 << payload_bits, 2 * lanes)
        acc = int(rng.integers(0, 1 << 10))
        threshold = int(rng.integers(0, 1 << 11))
        if rng.random() < 0.5:        # exactly a prefix: the exit is the next lane, not this
            run = payload[:lanes][np.argsort(-keys[:lanes], kind="stable")]
            threshold = acc + int(run[:rng.integers(1, lanes + 1)].sum())
        values = rng.integers(0, 1 << (key_bits - 1), lanes)
        counts = rng.integers(0, 1 << count_bits, lanes)
        trials.append((keys, payload, acc, threshold, values, counts))

    latency = SortDatapath.latencies_of(lanes)
    wait = max(latency.values())

    def inputs(ctx, trial):
        keys, payload, acc, threshold, values, counts = trial
        ctx.set(dut.value, values.tolist())
        ctx.set(dut.count, counts.tolist())
        pairs = [{"key": int(k), "payload": int(p)} for k, p in zip(keys, payload)]
        ctx.set(dut.sort_in, pairs[:lanes])
        # Two descending runs for the merger, and a sorted beat for the prefix stage.
        order = [np.argsort(-keys[:lanes], kind="stable"),
                 lanes + np.argsort(-keys[lanes:], kind="stable")]
        ctx.set(dut.merge_in, [pairs[i] for run in order for i in run])
        ctx.set(dut.prefix_in, [pairs[i] for i in order[0]])
        ctx.set(dut.acc_in, acc)
        ctx.set(dut.threshold, threshold)
        return pairs, order

    def check(ctx, part, trial, pairs, order):
        keys, payload, acc, threshold, values, counts = trial
        if part in ("sort", "merge"):
            port, src = (dut.sort_out, pairs[:lanes]) if part == "sort" else (dut.merge_out, pairs)
            got = [(ctx.get(w.key), ctx.get(w.payload)) for w in ctx.get(port)]
            assert [k for k, _ in got] == sorted((p["key"] for p in src), reverse=True)
            assert sorted(got) == sorted((p["key"], p["payload"]) for p in src)
        elif part == "weight":
            assert list(ctx.get(dut.weight)) == (values * counts).tolist()
        else:
            prefix = acc + np.cumsum(payload[order[0]])
            over = np.flatnonzero(prefix > threshold)
            assert ctx.get(dut.acc_out) == prefix[-1] % (1 << total_bits)
            assert ctx.get(dut.passed) == (over.size > 0)
            if over.size:
                assert ctx.get(dut.exit_lane) == over[0]

    async def bench(ctx):
        # One trial a cycle: each part's output is checked its latency later.
        issued = []
        for cycle in range(len(trials) + wait + 1):
            if cycle < len(trials):
                issued.append(inputs(ctx, trials[cycle]))
            await ctx.delay(1e-9)
            for part, cycles in latency.items():
                t = cycle - cycles
                if 0 <= t < len(trials):
                    check(ctx, part, trials[t], *issued[t])
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


def test_sort_cycle_model_by_hand():
    # 64 clusters in 16 lanes: P = 4 beats. Weighed (1) and sorted (log2 16 = 4: 10 stages,
    # 5 registers), 2 merge passes (5 stages, 3 registers), then the prefix pass stops on beat
    # 1 (position 20), decided after the chain's 8 registers and one more; the masks leave as
    # the WTU's.
    cfg = Config(wtu_lanes=16)
    assert sort_latencies(16) == {"weight": 1, "sort": 5, "merge": 3, "prefix": 8}
    per_row = (4 + 1 + 5 + 2 * (4 + 3)) + (20 // 16 + 1) + 8 + WTU_DECIDE
    assert per_row - (20 // 16 + 1 + 8 + WTU_DECIDE) > 4 + wtu_extremes(16) + WTU_ROW_SETUP
    assert sort_wtu_cycles(np.array([20]), 64, cfg) == 4 + per_row + 2 * (4 + WTU_MASK_LATENCY)
    assert sort_wtu_cycles(np.array([20, 63]), 64, cfg) - \
        sort_wtu_cycles(np.array([20]), 64, cfg) == per_row + 2


@pytest.mark.parametrize("lanes", [1, 2, 4, 8, 16, 32])
def test_cycle_model_latencies_are_the_datapaths(lanes):
    # The golden model imports no RTL: its latencies are formulas, held here to the datapath.
    assert sort_latencies(lanes) == SortDatapath.latencies_of(lanes)
