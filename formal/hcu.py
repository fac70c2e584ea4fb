"""The HCU's early-exit miter: the HCU with its early-exit comparators and the baseline
without them, fed the same tokens, give every token the same cluster."""

from amaranth.asserts import AnyConst
from amaranth.hdl import Array, Assert, Assume, Cover, Signal

from vrex.rtl.hcu import HCU

from .rules import harness_module

__all__ = ["hcu_miter"]


def hcu_miter(*, tokens=3, hash_bits=4, digit=1, max_clusters=2, count_bits=2, within=24,
              th_offset=0):
    """``th_offset``: the baseline's threshold is off by this much (a test's broken design)."""
    m, ports = harness_module()
    units = {}
    for name, early in (("ee", True), ("full", False)):
        units[name] = HCU(hash_bits=hash_bits, digit=digit, lanes=1, max_clusters=max_clusters,
                          count_bits=count_bits, early_exit=early)
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
