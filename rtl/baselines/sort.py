"""Sort-based WiCSum selection: the baseline the WTU's bucket scan is measured against.

The obvious way to build WiCSum is to sort the row by value, descending, and take the prefix of
``v * cnt`` until it passes the threshold. With ``lanes`` scores a cycle that is a bitonic
network sorting each beat, a bitonic merger of ``2 * lanes`` for the ``ceil(log2 P)`` passes
that merge the ``P`` sorted beats, and a prefix-sum stage with a comparator per lane.

:class:`SortDatapath` is that datapath, pipelined as the WTU's lane pipeline is: a register
after the multipliers, after every :data:`LEVELS` compare-and-exchange stages of each network,
and after every :data:`LEVELS` lanes of the prefix chain (two levels of logic a stage, like
the WTU's adder trees), so the two are compared at about the same clock. Its FSM, row memories
and load-pass logic are left out, so the real unit would be larger: that favours the baseline.
Its cycle model (``vrex.golden.baselines``) charges each network's and the prefix chain's
latency (:meth:`SortDatapath.latencies_of`), which the tests hold to this datapath.
"""

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..params import CheckedParams

__all__ = ["sort_network", "merge_network", "SortDatapath", "LEVELS"]

#: Levels of logic between two pipeline registers (compare-and-exchange stages, prefix adds).
LEVELS = 2


def sort_network(n: int) -> list[list[tuple[int, int]]]:
    """Stages of a bitonic sorting network on ``n`` (a power of two) wires. Each pair
    ``(i, j)`` puts the larger key on wire ``i``; the output is descending."""
    stages = []
    size = 2
    while size <= n:
        half = size // 2
        while half:
            stage = []
            for i in range(n):
                j = i ^ half
                if j > i:
                    descending = (i & size) == 0
                    stage.append((i, j) if descending else (j, i))
            stages.append(stage)
            half //= 2
        size *= 2
    return stages


def merge_network(n: int) -> list[list[tuple[int, int]]]:
    """Stages merging two descending runs on wires ``0..n-1`` and ``n..2n-1`` into one
    descending run on ``2n`` wires (``n`` a power of two): the second run enters reversed, which
    makes the whole a bitonic sequence, and half-cleaners finish it."""
    stages = [[(i, 2 * n - 1 - i) for i in range(n)]]
    half = n // 2
    while half:
        stages.append([(i, i ^ half) for i in range(2 * n) if (i ^ half) > i])
        half //= 2
    return stages


def _pair(key_bits, payload_bits):
    return data.StructLayout({"key": signed(key_bits), "payload": payload_bits})


class SortDatapath(CheckedParams, wiring.Component):
    """The datapath of a sort-based WiCSum unit of ``lanes`` (a power of two) lanes.

    Members
    -------
    value, count, weight : per lane ``v``, ``cnt`` and the multiplier's ``v * cnt``, the payload
        the network carries.
    sort_in, sort_out : ``lanes`` (key, payload) pairs; ``sort_out`` is ``sort_in`` descending.
    merge_in, merge_out : ``2 * lanes`` pairs; two descending runs in, one out.
    prefix_in : ``lanes`` sorted pairs whose payload is the weight ``v * cnt``.
    acc_in : the running sum before this beat. threshold : ``T``.
    acc_out : the running sum after it. passed : some prefix inside the beat exceeds ``T``.
    exit_lane : the first lane whose prefix exceeds ``T``.

    Each output follows its inputs by its part's latency (:meth:`latencies_of`), one set of
    inputs a cycle.
    """

    @classmethod
    def check(cls, *, lanes, **_):
        if lanes < 1 or lanes & (lanes - 1):
            raise ValueError(f"lanes must be a power of two, not {lanes!r}")

    def __init__(self, *, lanes=16, key_bits=17, count_bits=16, total_bits=48):
        payload_bits = key_bits + count_bits
        self.lanes, self.key_bits, self.payload_bits = lanes, key_bits, payload_bits
        self.total_bits = total_bits
        pair = _pair(key_bits, payload_bits)
        super().__init__({
            "value": In(data.ArrayLayout(key_bits - 1, lanes)),
            "count": In(data.ArrayLayout(count_bits, lanes)),
            "weight": Out(data.ArrayLayout(payload_bits, lanes)),
            "sort_in": In(data.ArrayLayout(pair, lanes)),
            "sort_out": Out(data.ArrayLayout(pair, lanes)),
            "merge_in": In(data.ArrayLayout(pair, 2 * lanes)),
            "merge_out": Out(data.ArrayLayout(pair, 2 * lanes)),
            "prefix_in": In(data.ArrayLayout(pair, lanes)),
            "acc_in": In(total_bits),
            "threshold": In(total_bits),
            "acc_out": Out(total_bits),
            "passed": Out(1),
            "exit_lane": Out(range(lanes)),
        })

    @staticmethod
    def latencies_of(lanes: int) -> dict[str, int]:
        """Cycles from an input to its output, per part: ``weight`` (the multipliers),
        ``sort`` and ``merge`` (the networks), ``prefix`` (the chain)."""
        stages = lambda n: -(-n // LEVELS)                          # noqa: E731
        return {"weight": 1, "sort": stages(len(sort_network(lanes))),
                "merge": stages(len(merge_network(lanes))), "prefix": stages(lanes)}

    def _network(self, m, name, wires, stages):
        pair = _pair(self.key_bits, self.payload_bits)
        for depth, stage in enumerate(stages):
            nxt = list(wires)
            for hi, lo in stage:
                a, b = wires[hi], wires[lo]
                swap = Signal(name=f"{name}_swap{depth}_{hi}_{lo}")
                top = Signal(pair, name=f"{name}_s{depth}_w{hi}")
                bottom = Signal(pair, name=f"{name}_s{depth}_w{lo}")
                m.d.comb += [swap.eq(b.key > a.key),
                             top.eq(Mux(swap, b, a)), bottom.eq(Mux(swap, a, b))]
                nxt[hi], nxt[lo] = top, bottom
            wires = nxt
            if (depth + 1) % LEVELS == 0 or depth + 1 == len(stages):
                held = [Signal(pair, name=f"{name}_r{depth}_w{i}") for i in range(len(wires))]
                m.d.sync += [h.eq(w) for h, w in zip(held, wires)]
                wires = held
        return wires

    def elaborate(self, platform):
        m = Module()
        n = self.lanes
        m.d.sync += [self.weight[i].eq(self.value[i] * self.count[i]) for i in range(n)]
        out = self._network(m, "sort", [self.sort_in[i] for i in range(n)], sort_network(n))
        m.d.comb += [self.sort_out[i].eq(w) for i, w in enumerate(out)]
        out = self._network(m, "merge", [self.merge_in[i] for i in range(2 * n)],
                            merge_network(n))
        m.d.comb += [self.merge_out[i].eq(w) for i, w in enumerate(out)]

        # The prefix chain: LEVELS lanes a stage; the running sum, the exit found so far, the
        # threshold and the lanes still to add travel down the stages.
        running, threshold = self.acc_in, self.threshold
        payloads = [self.prefix_in[lane].payload for lane in range(n)]
        passed, exit_lane = Const(0), Const(0, range(n))
        for lane in range(n):
            step = Signal(self.total_bits, name=f"prefix{lane}")
            m.d.comb += step.eq(running + payloads[lane])
            hit = Signal(name=f"prefix_hit{lane}")
            m.d.comb += hit.eq((step > threshold) & ~passed)
            first = Signal(name=f"prefix_passed{lane}")
            chosen = Signal(range(n), name=f"prefix_exit{lane}")
            m.d.comb += [first.eq(passed | hit), chosen.eq(Mux(hit, lane, exit_lane))]
            running, passed, exit_lane = step, first, chosen
            if (lane + 1) % LEVELS == 0 or lane + 1 == n:
                state = [Signal.like(v, name=f"prefix_r{lane}_{i}")
                         for i, v in enumerate([running, passed, exit_lane, threshold])]
                later = [Signal(self.payload_bits, name=f"prefix_r{lane}_in{j}")
                         for j in range(lane + 1, n)]
                m.d.sync += [a.eq(b) for a, b in zip(state + later, [running, passed, exit_lane,
                                                                     threshold]
                                                     + payloads[lane + 1:])]
                running, passed, exit_lane, threshold = state
                payloads[lane + 1:] = later
        m.d.comb += [self.acc_out.eq(running), self.passed.eq(passed),
                     self.exit_lane.eq(exit_lane)]
        return m
