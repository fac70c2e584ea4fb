"""The WTU's proof harness: WTUs of each schedule (the scan with and without early exit, the
histogram) fed the same batch of free scores, counts and settings; each unit's outputs held to
SPEC 3 written out as logic, and the units' exit buckets and masks to one another (the
early-exit miter); every accumulator, adder-tree node and row-setup register asserted to hold
its value (``WTU(checks="ranges")``)."""

import functools
import operator

from amaranth.asserts import AnyConst, AnySeq
from amaranth.hdl import Array, Assert, Assume, Cat, Const, Cover, Mux, Signal, signed

from vrex.rtl.wtu import WTU

from .rules import harness_module, stream_rule

__all__ = ["wtu_harness", "UNITS"]

# name: (early_exit, schedule)
UNITS = {"ee": (True, "scan"), "full": (False, "scan"), "hist": (True, "histogram")}


def _spec3(m, scores, counts, columns, ratio, buckets, mode, *, max_buckets, exp_frac,
           exp_bits):
    """SPEC 3 (and 3.1) for one row as combinational logic at widths that cannot overflow:
    the selection bits, the exit bucket, T and S."""
    n = len(scores)
    valid = [j < columns for j in range(n)]
    sb = len(scores[0])
    vb = max(sb, exp_bits) + 2
    wide = signed(vb + len(counts[0]) + n.bit_length() + 2)
    big = 1 << (vb + 1)
    min_s = Signal(signed(sb + 1), name="ref_min_s")   # columns >= 1
    max_s = Signal(signed(sb + 1), name="ref_max_s")
    m.d.comb += [min_s.eq(_fold(scores, valid, lambda a, b: Mux(b < a, b, a), big)),
                 max_s.eq(_fold(scores, valid, lambda a, b: Mux(b > a, b, a), -big))]
    # Mode exp: E[d mod 2**q] >> (d >> q), d = max(s) - s; E written out from SPEC 3.1's
    # definition here (the largest e with e**(2**q) <= 2**(W * 2**q - f), capped).
    words = []
    for f in range(1 << exp_frac):
        e = (1 << exp_bits) - 1
        while e ** (1 << exp_frac) > 1 << (exp_bits * (1 << exp_frac) - f):
            e -= 1
        words.append(e)
    v = [Signal(signed(vb), name=f"ref_v{j}") for j in range(n)]
    key = [Signal(signed(vb), name=f"ref_key{j}") for j in range(n)]
    for j in range(n):
        d = (max_s - scores[j]).as_unsigned()
        exp_v = Array(Const(w, exp_bits) for w in words)[d % (1 << exp_frac)] >> (d >> exp_frac)
        m.d.comb += v[j].eq(Mux(mode == 2, exp_v,
                                Mux(mode == 1, Mux(scores[j] < 0, 0, scores[j]),
                                    scores[j] - min_s)))
        m.d.comb += key[j].eq(Mux(mode == 2, scores[j], v[j]))   # exp: buckets over scores
    weighted = [Signal(wide, name=f"ref_vc{j}") for j in range(n)]
    m.d.comb += [weighted[j].eq(Mux(valid[j], v[j] * counts[j], 0)) for j in range(n)]
    total = Signal(wide, name="ref_total")
    m.d.comb += total.eq(sum(weighted))
    threshold = Signal(wide, name="ref_threshold")
    m.d.comb += threshold.eq((total * ratio) >> 16)
    lo = Signal.like(key[0], name="ref_lo")
    hi = Signal.like(key[0], name="ref_hi")
    m.d.comb += [lo.eq(_fold(key, valid, lambda a, b: Mux(b < a, b, a), big)),
                 hi.eq(_fold(key, valid, lambda a, b: Mux(b > a, b, a), -big))]
    width = Signal(vb, name="ref_width")
    m.d.comb += width.eq((hi - lo).as_unsigned() // buckets + 1)
    bucket = [Signal(vb, name=f"ref_b{j}") for j in range(n)]
    m.d.comb += [bucket[j].eq((hi - key[j]).as_unsigned() // width) for j in range(n)]
    exit_bucket = Signal(range(max_buckets), name="ref_exit")
    m.d.comb += exit_bucket.eq(buckets - 1)
    for b in reversed(range(max_buckets)):
        prefix = sum(Mux(bucket[j] <= b, weighted[j], 0) for j in range(n))
        with m.If((b < buckets) & (prefix > threshold)):
            m.d.comb += exit_bucket.eq(b)
    select = Cat(*(valid[j] & (bucket[j] <= exit_bucket) for j in range(n)))
    return select, exit_bucket, threshold, total


def _fold(terms, valid, pick, identity):
    acc = identity
    for term, ok in zip(terms, valid):
        acc = Mux(ok, pick(acc, term), acc)
    return acc


def wtu_harness(*, rows=2, score_bits=3, count_bits=2, max_clusters=3, lanes=2, max_buckets=4,
                exp_frac=1, exp_bits=2, units=("ee", "full", "hist"), stalls=False, within=80,
                unit=WTU, compare=("total", "threshold_of_total", "exit", "mask")):
    """``units``: which of :data:`UNITS` to build (two or more make a miter). ``stalls``: the
    inputs' valid and the outputs' ready are free (back-pressure), stream rules asserted on
    the outputs; without, the units run at full throughput and every output must have left
    within ``within`` cycles (so a check that deep compares them all). ``compare``: which
    outputs each unit is held to SPEC 3 for: ``total`` (S), ``threshold`` (T from SPEC's S:
    slow, the solver must see two multipliers of different operands agree),
    ``threshold_of_total`` (T from the S the unit sent), ``exit``, ``mask``. ``unit``: the WTU
    class (a test passes a broken one)."""
    m, ports = harness_module()
    depth = -(-max_clusters // lanes)
    columns = Signal(range(max_clusters + 1))
    ratio = Signal(16)
    buckets = Signal(range(max_buckets + 1))
    mode = Signal(2)
    m.d.comb += [columns.eq(AnyConst(len(columns))),
                 ratio.eq(AnyConst(16)),
                 buckets.eq(AnyConst(len(buckets))),
                 mode.eq(AnyConst(2)),
                 Assume((columns >= 1) & (columns <= max_clusters)),
                 Assume((buckets >= 1) & (buckets <= max_buckets)),
                 Assume(mode <= 2)]
    beats = (columns + lanes - 1) // lanes
    pad = depth * lanes
    counts = [Signal(count_bits, name=f"cnt{j}") for j in range(pad)]
    scores = [[Signal(signed(score_bits), name=f"s{r}_{j}") for j in range(pad)]
              for r in range(rows)]
    for sig in counts + [s for row in scores for s in row]:
        m.d.comb += sig.eq(AnyConst(len(sig)))
    count_beats = Array(Cat(*counts[k * lanes:(k + 1) * lanes]) for k in range(depth))
    score_beats = Array(Array(Cat(*row[k * lanes:(k + 1) * lanes]) for k in range(depth))
                        for row in scores)

    # The expected rows, and the final OR, as (depth * lanes)-bit masks.
    expected = []
    for r in range(rows):
        expected.append(_spec3(m, scores[r][:max_clusters], counts[:max_clusters], columns,
                               ratio, buckets, mode, max_buckets=max_buckets,
                               exp_frac=exp_frac, exp_bits=exp_bits))
    final = Signal(max_clusters, name="ref_final")
    m.d.comb += final.eq(functools.reduce(operator.or_, (e[0] for e in expected)))
    want_masks = Array([e[0] for e in expected] + [final])

    done = []
    for name in units:
        early_exit, schedule = UNITS[name]
        dut = unit(score_bits=score_bits, count_bits=count_bits, max_clusters=max_clusters,
                   lanes=lanes, max_buckets=max_buckets, exp_frac=exp_frac, exp_bits=exp_bits,
                   early_exit=early_exit, schedule=schedule, checks="ranges")
        m.submodules[name] = dut
        m.d.comb += [dut.columns.eq(columns), dut.ratio.eq(ratio), dut.buckets.eq(buckets),
                     dut.mode.eq(mode)]
        done.append(_drive(m, dut, name, rows=rows, beats=beats, depth=depth,
                           count_beats=count_beats, score_beats=score_beats, stalls=stalls,
                           expected=expected, want_masks=want_masks, lanes=lanes,
                           compare=compare))
    # The miter: every unit sends the exit bucket and the masks the first sent. (T and S come
    # from the row setup, the same logic in every schedule, before any selection: comparing
    # them here would only ask the solver to see two equal multipliers as equal, slowly.
    # The reference checks them against SPEC 3 instead.)
    _, rows_a, got_rows_a, masks_a, got_masks_a = done[0]
    for other in done[1:]:
        _, rows_b, got_rows_b, masks_b, got_masks_b = other
        for r in range(rows):
            m.d.comb += Assert(~((rows_a > r) & (rows_b > r)) |
                               (got_rows_a[r].exit_bucket == got_rows_b[r].exit_bucket),
                               f"same_exit_{r}")
        for r in range(rows + 1):
            m.d.comb += Assert(~((masks_a > r) & (masks_b > r)) |
                               (got_masks_a[r] == got_masks_b[r]), f"same_mask_{r}")
    done = Cat(*(d[0] for d in done)).all()
    if not stalls:
        cycle = Signal(range(within + 2))
        with m.If(cycle <= within):
            m.d.sync += cycle.eq(cycle + 1)
        m.d.comb += Assert((cycle <= within) | done, "all_out_in_time")
    # Covers of what the first unit sent: the whole batch, a row that exits in the first of
    # the buckets, one that exits in the last.
    m.d.comb += Cover(done, "batch_done")
    for r in range(rows):
        sent = (rows_a > r)
        m.d.comb += [Cover(sent & (got_rows_a[r].exit_bucket == 0) & (buckets == max_buckets),
                           f"row{r}_exits_first_bucket"),
                     Cover(sent & (got_rows_a[r].exit_bucket == max_buckets - 1),
                           f"row{r}_exits_last_bucket")]
    return m, ports


def _drive(m, dut, name, *, rows, beats, depth, count_beats, score_beats, stalls, expected,
           want_masks, lanes, compare):
    """Feed ``dut`` the batch and check what it sends against ``expected``; returns the
    signal that says it has sent everything."""
    def offer(port, more, what):
        """Offer ``port``'s beats while ``more``: always, or (stalls) when the environment
        likes, holding an offer until it is taken."""
        if not stalls:
            m.d.comb += port.valid.eq(more)
            return
        held = Signal(name=f"{name}_{what}_held")
        m.d.comb += port.valid.eq(more & (held | AnySeq(1)))
        m.d.sync += held.eq(port.valid & ~port.ready)

    sent_counts = Signal(range(depth + 1), name=f"{name}_sent_counts")
    row_in = Signal(range(rows + 1), name=f"{name}_row_in")
    beat_in = Signal(range(depth + 1), name=f"{name}_beat_in")
    offer(dut.i_count, sent_counts < beats, "count")
    m.d.comb += dut.i_count.payload.eq(count_beats[sent_counts])
    with m.If(dut.i_count.valid & dut.i_count.ready):
        m.d.sync += sent_counts.eq(sent_counts + 1)
    offer(dut.i_score, (sent_counts == beats) & (row_in < rows), "score")
    m.d.comb += [dut.i_score.payload.scores.eq(score_beats[row_in][beat_in]),
                 dut.i_score.payload.last.eq((row_in == rows - 1) & (beat_in + 1 == beats))]
    with m.If(dut.i_score.valid & dut.i_score.ready):
        with m.If(beat_in + 1 == beats):
            m.d.sync += [beat_in.eq(0), row_in.eq(row_in + 1)]
        with m.Else():
            m.d.sync += beat_in.eq(beat_in + 1)
    stream_rule(m, dut.i_count, assume=True, name=f"{name}_i_count")
    stream_rule(m, dut.i_score, assume=True, name=f"{name}_i_score")

    # o_row: one beat per row, each SPEC 3's.
    for what, port in (("o_row", dut.o_row), ("o_mask", dut.o_mask)):
        m.d.comb += port.ready.eq(AnySeq(1) if stalls else 1)
        stream_rule(m, port, assume=False, name=f"{name}_{what}")
    rows_out = Signal(range(rows + 1), name=f"{name}_rows_out")
    row = dut.o_row.payload
    with m.If(dut.o_row.valid & dut.o_row.ready):
        m.d.sync += rows_out.eq(rows_out + 1)
        m.d.comb += Assert(rows_out < rows, f"{name}_no_extra_row")
        for r, (_, exit_bucket, threshold, total) in enumerate(expected):
            with m.If(rows_out == r):
                if "exit" in compare:
                    m.d.comb += Assert(row.exit_bucket == exit_bucket, f"{name}_row{r}_exit")
                if "threshold" in compare:
                    m.d.comb += Assert(row.threshold == threshold, f"{name}_row{r}_threshold")
                if "threshold_of_total" in compare:
                    m.d.comb += Assert(row.threshold == (row.total * dut.ratio) >> 16,
                                       f"{name}_row{r}_threshold_of_total")
                if "total" in compare:
                    m.d.comb += Assert(row.total == total, f"{name}_row{r}_total")

    # o_mask: per row ``beats`` beats of its selection, then the final OR, flagged final.
    masks_out = Signal(range(rows + 2), name=f"{name}_masks_out")
    mask_beat = Signal(range(depth + 1), name=f"{name}_mask_beat")
    mask = dut.o_mask.payload
    want = Signal(depth * lanes, name=f"{name}_want_mask")
    m.d.comb += want.eq(want_masks[masks_out])
    with m.If(dut.o_mask.valid & dut.o_mask.ready):
        m.d.comb += [Assert(masks_out <= rows, f"{name}_no_extra_mask"),
                     Assert(mask.final == (masks_out == rows), f"{name}_final_flag")]
        if "mask" in compare:
            m.d.comb += Assert(mask.mask == want.word_select(mask_beat, lanes), f"{name}_mask")
        with m.If(mask_beat + 1 == beats):
            m.d.sync += [mask_beat.eq(0), masks_out.eq(masks_out + 1)]
        with m.Else():
            m.d.sync += mask_beat.eq(mask_beat + 1)
    # What it sent, kept for the miter: per row its o_row beat, and each whole mask.
    got_rows = Array(Signal(row.shape(), name=f"{name}_row{r}") for r in range(rows))
    got_masks = Array(Signal(depth * lanes, name=f"{name}_mask{r}") for r in range(rows + 1))
    with m.If(dut.o_row.valid & dut.o_row.ready & (rows_out < rows)):
        m.d.sync += got_rows[rows_out].eq(row)
    with m.If(dut.o_mask.valid & dut.o_mask.ready & (masks_out <= rows)):
        for k in range(depth):
            with m.If(mask_beat == k):
                m.d.sync += got_masks[masks_out].word_select(k, lanes).eq(mask.mask)
    finished = Signal(name=f"{name}_done")
    m.d.comb += finished.eq((rows_out == rows) & (masks_out == rows + 1))
    return finished, rows_out, got_rows, masks_out, got_masks
