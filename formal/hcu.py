"""The HCU's early-exit miter: the HCU with its early-exit comparators and the baseline
without them, fed the same tokens, give every token the same cluster."""

from amaranth.asserts import AnyConst
from amaranth.hdl import Array, Assert, Assume, Cover, Mux, Signal

from vrex.rtl.hcu import HCU

from .rules import free_inputs, harness_module, stream_rule

__all__ = ["hcu_miter", "hcu_spec", "hcu_streams", "watch_hcu"]


def hcu_miter(*, tokens=3, hash_bits=6, digit=2, segment=2, max_clusters=2, count_bits=2,
              within=24, th_offset=0):
    """``th_offset``: the baseline's threshold is off by this much (a test's broken design).
    The early-exit HCU stops on the lower bound with ``segment``-bit popcount gaps (the
    defaults: a 2-bit gap per digit, three digits), the baseline compares every digit."""
    m, ports = harness_module()
    units = {}
    for name, early in (("ee", True), ("full", False)):
        units[name] = HCU(hash_bits=hash_bits, digit=digit, lanes=1, max_clusters=max_clusters,
                          count_bits=count_bits, early_exit=early, segment=segment)
        m.submodules[name] = units[name]
    hashes = Array(Signal(hash_bits, name=f"hash{i}") for i in range(tokens))
    for h in hashes:
        m.d.comb += h.eq(AnyConst(hash_bits))
    th_hd = Signal(range(hash_bits + 2))
    m.d.comb += [th_hd.eq(AnyConst(len(th_hd))), Assume(th_hd <= hash_bits + 1)]
    got = {}
    for name, hcu in units.items():
        sent = Signal(range(tokens + 1), name=f"{name}_sent")
        out = Signal(range(tokens + 1), name=f"{name}_out")
        ids = Array(Signal(len(hcu.o_id.payload.as_value()), name=f"{name}_id{i}")
                    for i in range(tokens))
        m.d.comb += [hcu.th_hd.eq(th_hd + (th_offset if name == "full" else 0)),
                     hcu.clear.eq(0), hcu.rd_addr.eq(0),
                     hcu.i_hash.valid.eq(sent < tokens), hcu.i_hash.payload.eq(hashes[sent]),
                     hcu.o_id.ready.eq(1)]
        with m.If(hcu.i_hash.valid & hcu.i_hash.ready):
            m.d.sync += sent.eq(sent + 1)
        with m.If(hcu.o_id.valid & (out < tokens)):
            m.d.sync += [out.eq(out + 1), ids[out].eq(hcu.o_id.payload.as_value())]
        m.d.comb += Assert(~hcu.o_id.valid | (out < tokens), f"{name}_no_extra_id")
        got[name] = (out, ids)
    (out_a, ids_a), (out_b, ids_b) = got["ee"], got["full"]
    for j in range(tokens):
        m.d.comb += Assert(~((out_a > j) & (out_b > j)) | (ids_a[j] == ids_b[j]),
                           f"same_cluster_{j}")
    # Every token leaves both units within `within` cycles, whatever the hashes: a bounded
    # check at least that deep therefore compares every token's cluster.
    cycle = Signal(range(within + 2))
    with m.If(cycle <= within):
        m.d.sync += cycle.eq(cycle + 1)
    m.d.comb += [
        Assert((cycle <= within) | ((out_a == tokens) & (out_b == tokens)), "all_out_in_time"),
        Cover((out_a == tokens) & (out_b == tokens), "all_tokens_out"),
    ]
    return m, ports


def hcu_streams(*, hash_bits=4, digit=2, segment=1, lanes=2, max_clusters=3, count_bits=2,
                capacity=1):
    """The HCU under free back-pressure, free hashes, thresholds, clears and table reads:
    ``o_id`` keeps the stream rule, an id leaves only for a token taken and not yet answered,
    at most ``capacity`` tokens are inside at once (so none is dropped and overwritten), a
    founding id names the next cluster and any other one already founded, and the table
    counts what was founded."""
    m, ports = harness_module()
    m.submodules.dut = dut = HCU(hash_bits=hash_bits, digit=digit, segment=segment, lanes=lanes,
                                 max_clusters=max_clusters, count_bits=count_bits, checks=True)
    free_inputs(m, dut)
    watch_hcu(m, dut, hash_bits=hash_bits, max_clusters=max_clusters, capacity=capacity,
              assume=True)
    return m, ports


def watch_hcu(m, dut, *, hash_bits, max_clusters, capacity=1, assume):
    """The properties and invariants of an ``HCU(checks=True)`` in ``m``, with what its
    environment must do (the stream rule on ``i_hash``, the threshold and the read address
    inside their ranges, CLEAR only while idle) assumed (``assume``, the unit alone) or
    asserted (the unit inside the DRE)."""
    given = Assume if assume else Assert
    stream_rule(m, dut.i_hash, assume=assume, name="hcu_i_hash")
    stream_rule(m, dut.o_id, assume=False, name="hcu_o_id")
    m.d.comb += [given(dut.th_hd <= hash_bits + 1, "hcu_th_inside"),
                 given(dut.rd_addr < max_clusters, "hcu_rd_addr_inside")]
    taken_in = dut.i_hash.valid & dut.i_hash.ready
    taken_out = dut.o_id.valid & dut.o_id.ready
    inside = Signal(range(capacity + 2))
    m.d.sync += inside.eq(inside + taken_in - taken_out)
    # Clusters founded since reset or the last CLEAR (which the environment gives only while
    # the HCU is idle and no hash is offered, as the DRE does).
    m.d.comb += given(~dut.clear | (~dut.busy & ~dut.i_hash.valid), "hcu_clear_idle")
    founded = Signal(range(max_clusters + 1))
    ident = dut.o_id.payload
    with m.If(taken_out & ident.new):
        m.d.sync += founded.eq(founded + 1)
    with m.If(dut.clear):
        m.d.sync += founded.eq(0)
    table = dut.n_clusters
    m.d.comb += [
        Assert(~dut.o_id.valid | (inside > 0), "no_id_without_a_token"),
        Assert(inside <= capacity, "no_token_dropped"),
        Assert(inside == dut.holding, "the_harness_counts_the_token_inside"),
        Assert(~dut.o_id.valid | Mux(ident.new, (ident.cluster == founded) &
                                     (founded < max_clusters), ident.cluster < founded),
               "id_names_a_founded_cluster"),
        Assert(table == founded, "table_counts_the_founded"),
        Cover(table == max_clusters, "table_full"),
        Cover(dut.cluster_overflow & taken_out, "token_forced_into_full_table"),
    ]
    return dict(inside=inside, founded=founded)


def hcu_spec(*, hash_bits=6, digit=2, segment=2, max_clusters=3, lanes=1, early_exit=True,
             unit=HCU):
    """The HCU against SPEC 2 for every length: under free hashes, thresholds, clears and
    back-pressure, each token's id is the one SPEC 2 gives against the table the harness keeps
    (the nearest leader, ties to the lower id, if it lies below the token's threshold or the
    table is full; else a new cluster led by the token). Proved for the unit with and without
    early exit, it makes the early-exit miter hold for every length. ``unit``: the HCU class
    (a test passes a broken one)."""
    m, ports = harness_module()
    m.submodules.dut = dut = unit(hash_bits=hash_bits, digit=digit, segment=segment,
                                  lanes=lanes, max_clusters=max_clusters, count_bits=2,
                                  early_exit=early_exit, checks=True)
    free_inputs(m, dut)
    watched = watch_hcu(m, dut, hash_bits=hash_bits, max_clusters=max_clusters, assume=True)
    n = watched["founded"]
    # The harness's own table and the token inside.
    ref = Array(Signal(hash_bits, name=f"ref{c}") for c in range(max_clusters))
    token, th = Signal(hash_bits), Signal.like(dut.th_hd)
    with m.If(dut.i_hash.valid & dut.i_hash.ready):
        m.d.sync += [token.eq(dut.i_hash.payload), th.eq(dut.th_hd)]
    ident = dut.o_id.payload
    with m.If(dut.o_id.valid & dut.o_id.ready & ident.new):
        m.d.sync += ref[ident.cluster].eq(token)
    # SPEC 2 for the token inside, as logic.
    big = hash_bits + 1
    best = Signal(range(max_clusters), name="spec_best")
    best_d = Signal(range(big + 1), name="spec_best_d")
    dists = [Signal(range(big + 1), name=f"spec_d{c}") for c in range(max_clusters)]
    for c in range(max_clusters):
        m.d.comb += dists[c].eq(Mux(c < n, sum((token ^ ref[c])[i] for i in range(hash_bits)),
                                    big))
    chosen, chosen_d = 0, dists[0]          # the first minimum: ties to the lower id
    for c in range(1, max_clusters):
        nearer = dists[c] < chosen_d
        chosen, chosen_d = Mux(nearer, c, chosen), Mux(nearer, dists[c], chosen_d)
    m.d.comb += [best.eq(chosen), best_d.eq(chosen_d)]
    join = (n == max_clusters) | ((n != 0) & (best_d < th))
    m.d.comb += [
        Assert(~dut.o_id.valid | Mux(join, (ident.cluster == best) & ~ident.new,
                                     (ident.cluster == n) & ident.new), "spec_2_cluster"),
        # The invariants that make it inductive: the unit holds the harness's token and sees
        # the harness's table.
        Assert(~dut.holding | ((dut.token.hash == token) & (dut.token.th == th)),
               "the_token_inside"),
        *(Assert(~(n > c) | (dut.table[c] == ref[c]), f"table_{c}")
          for c in range(max_clusters)),
    ]
    return m, ports
