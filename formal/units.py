"""The proofs `vrex formal` runs: per unit, its harness, the mode and the depth."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

from .controller import controller_harness
from .dre_streams import dre_streams
from .emitter import emitter_harness
from .guard import guard_harness
from .setup import setup_harness
from .skid import stage_harness
from .hcu import hcu_miter, hcu_spec, hcu_streams
from .sby import ProofResult, run_sby
from .wtu import wtu_harness
from .wtu_batches import wtu_batches
from .wtu_streams import wtu_streams

__all__ = ["PROOFS", "run_proofs", "selected"]


@dataclasses.dataclass(frozen=True)
class Proof:
    name: str                   # its name in the report and its directory under the build
    unit: str                   # what --unit selects
    harness: object             # () -> (module, ports)
    mode: str
    depth: int
    properties: tuple           # what it checks, for the docs and the report
    slow: bool = False          # minutes, not seconds: the test suite runs it under -m slow
    timeout: float = 1800       # seconds before sby is stopped


# Small but not trivial sizes: every table can fill, every pool run out, every bucket exit.
WTU_SMALL = dict(score_bits=2, count_bits=1, max_clusters=3, lanes=2, max_buckets=4, rows=2,
                 exp_frac=1, exp_bits=2)

PROOFS = [
    Proof("controller", "controller", controller_harness, "prove", 6, (
        "unbounded (k-induction): o_slot and o_desc: a valid beat stays, payload unchanged, "
        "until taken",
        "a slot only for an id inside, at most two inside (none dropped); a descriptor only "
        "for a selection inside",
        "no slot handed out twice between clears (CLEARs free, given while idle)",
        "every slot inside the page pool (or no_slot); PAGES <= max_pages; descriptor "
        "pages < max_pages",
        "no chain-table read met by a write in its cycle is used (what its no_rw_check "
        "relies on; Controller(checks=True))",
        "invariants over the tables (read without a clock in Controller(checks=True)): "
        "every committed chain inside the pages handed out, ending in a page of its own, "
        "filled past the watched slot if it ends in its page; every page handed out that "
        "ends no chain links inside; the forwarding registers and the slot step's entry as "
        "stored; ids inside belong to founded clusters, a founding id is its cluster's "
        "first; no id inside while a selection is captured or walked",
        "the descriptor walk's way out: every committed chain reaches its tail along its "
        "links within the pages handed out, passing no other chain's tail; the walk reads "
        "the entry it picked and offers a page on that chain, the link RAM's output its "
        "successor once read; a selection has at most a buffer of words (assumed of "
        "i_select)",
        )),
    Proof("controller-cover", "controller", controller_harness, "cover", 12, (
        "cover: the page pool exhausted (PAGE_OVERFLOW set)",
        "cover: a slot handed out again after a CLEAR took the pages back")),
    Proof("hcu-miter", "hcu", hcu_miter, "bmc", 30, (
        "early exit is exact: with the lower-bound exit (2-bit popcount gaps, three 2-bit "
        "digits) and without early exit, every token gets the same cluster and founding "
        "flag (3 tokens of free 6-bit hashes, free threshold, a 2-cluster table so the "
        "full-table rule is reached too)",
        "every token leaves both units within 24 cycles, so depth 30 compares them all; "
        "no id beyond the tokens sent")),
    Proof("hcu-spec", "hcu", hcu_spec, "prove", 12, (
        "unbounded (k-induction): the HCU with early exit (6-bit hashes, 2-bit digits, 2-bit "
        "popcount gaps, 3 clusters, the third from the block RAM) gives every token SPEC 2's "
        "cluster against the table the harness keeps: the nearest leader (ties to the lower "
        "id) if below the token's threshold or the table is full, else a new cluster; under "
        "free hashes, thresholds, clears and back-pressure, tokens back to back",
        "invariants: the unit holds the harness's token and sees its table (rows 0 and 1 in "
        "their copies, row 2 in the RAM); the read address three rows ahead of the group "
        "(HCU(checks=True))")),
    Proof("hcu-spec-full", "hcu", functools.partial(hcu_spec, early_exit=False), "prove", 12, (
        "unbounded (k-induction): the same for the HCU without early exit; with hcu-spec, "
        "early exit is exact for every length",)),
    Proof("hcu-streams", "hcu", hcu_streams, "prove", 6, (
        "unbounded (k-induction): o_id: a valid beat stays, payload unchanged, until taken "
        "(free back-pressure, hashes, thresholds, clears)",
        "no id without a token inside, at most one token inside (none dropped)",
        "a founding id names the next cluster, any other id a founded one; N_CLUSTERS "
        "counts them",
        "invariants (HCU(checks=True)): the state one of three; the table's size, its next "
        "place and slot in step; the group compared inside the table; a winner found inside "
        "it; a full table always finds one")),
    Proof("hcu-cover", "hcu", hcu_streams, "cover", 30, (
        "cover: the table full", "cover: a token forced into the nearest cluster of a full "
        "table")),
    Proof("wtu-miter", "wtu", functools.partial(wtu_harness, **WTU_SMALL, units=("ee", "full"),
                                                within=48, compare=()), "bmc", 50, (
        "early exit is exact: the scan with and without it, fed the same 2 rows of free "
        "scores, counts and settings (columns, ratio, buckets, mode), sends the same exit "
        "bucket for each row and the same row and final masks",
        "every output leaves within 48 cycles, so depth 50 compares them all",
        "no accumulator, adder-tree node or row-setup register overflows "
        "(WTU(checks='ranges'))",
        "no score-buffer read whose word is used meets a write to it (what its no_rw_check "
        "relies on; WTU(checks='ranges'))")),
    Proof("wtu-spec", "wtu", functools.partial(
            wtu_harness, **{**WTU_SMALL, "rows": 1}, units=("ee",), within=32,
            compare=("total", "threshold_of_total", "exit", "mask")), "bmc", 34, (
        "a row's S, exit bucket and mask and the final mask are SPEC 3's, written out as "
        "logic at widths that cannot overflow; T = (S * ratio) >> 16 of the S sent (one row; "
        "the miter carries it to two)",
        "the row leaves within 32 cycles, so depth 34 checks it",
        "no accumulator, adder-tree node or row-setup register overflows")),
    Proof("wtu-streams", "wtu", wtu_streams, "prove", 6, (
        "unbounded (k-induction): the WTU (scan, early exit; 2-bit scores, 1-bit counts, 3 "
        "clusters, 2 lanes, 2 buckets, all modes) over any number of batches of free data, "
        "settings changed between batches, free back-pressure on every port: o_row and "
        "o_mask keep the stream rule",
        "nothing lost or repeated: an o_row beat and a mask only for a row taken; the final "
        "mask, flagged final on every beat, only after the batch's last row and once every "
        "row's o_row beat and mask have left; no count or score beat taken outside its part "
        "of the batch",
        "the row buffers' collision checks (what their no_rw_check relies on)",
        "invariants (WTU(checks='control')): the FSM in one state, its beat counter inside; "
        "a selection and its beats in the lanes only in SELECT; the buffers' delayed writes "
        "after the states that take beats; which emission runs in which state; the emitter "
        "reads a word before the load pass replaces it; and, in the harness, the host's part "
        "of the batch, its counters and the rows pending in step with the unit's state")),
    Proof("wtu-ranges", "wtu", functools.partial(wtu_harness, units=("ee",), stalls=True,
                                                 compare=()), "bmc", 30, (
        "no accumulator, adder-tree node or row-setup register overflows under free "
        "back-pressure on every port (one batch of 2 rows; 3-bit scores, 2-bit counts)",
        "o_row and o_mask keep the stream rule; no beat beyond the batch; the final flag on "
        "the final mask only (as wtu-streams, here bounded)")),
    Proof("wtu-emitter", "wtu", emitter_harness, "prove", 8, (
        "unbounded (k-induction): the WTU's output stage alone (2-bit scores, 3 clusters, 2 "
        "lanes) under free back-pressure and free data: o_row and o_mask keep the stream rule",
        "each emission sends exactly its beats: a row's mask, beats-a-row o_mask beats and "
        "one o_row beat; the final mask, its beats flagged final and no o_row beat",
        "invariants: the beats sent, in the output register and in the read stage add up to "
        "the words read; the row beat sent when the emitter says so (MaskEmitter(checks=True))"
        )),
    Proof("wtu-setup", "wtu", setup_harness, "prove", 8, (
        "unbounded (k-induction): the WTU's row setup alone (2-bit scores, 1-bit counts, 3 "
        "clusters, 4 buckets, all three modes): no register overflows (span, reciprocal of B, "
        "min(s) * sum(cnt), quotient, S, width, edge, T; RowSetup(checks=True)) for any "
        "statistics a row can have, once its inputs held still for its latency",)),
    Proof("wtu-setup-cover", "wtu", setup_harness, "cover", 12, (
        "cover: settled in mode exp", "cover: settled in mode shift with a negative score")),
    Proof("wtu-emitter-cover", "wtu", emitter_harness, "cover", 16, (
        "cover: a row's mask sent", "cover: the final mask sent")),
    Proof("guard", "guard", guard_harness, "prove", 16, (
        "unbounded (k-induction): o_score keeps the stream rule whatever the host does but "
        "withdraw a beat (last anywhere, stops, aborts, free back-pressure from the WTU)",
        "no beat passes and no host beat is taken outside a query",
        "last reaches the WTU only on a row's final beat as the WTU counts them: the WTU "
        "always sees whole rows",
        "with the WTU ready and the host silent, a query's stream ends within TIMEOUT + "
        "beats-a-row cycles (TIMEOUT up to 7, 3 beats a row)",
        "invariants: padding only inside a query; the wait below TIMEOUT "
        "(ScoreGuard(checks=True))")),
    Proof("guard-cover", "guard", guard_harness, "cover", 20, (
        "cover: a stream cut by last early", "cover: a stream cut by the timeout",
        "cover: a cut stream's padded row taken with last")),
    Proof("skid", "stages", functools.partial(stage_harness, kind="skid"), "prove", 4, (
        "unbounded (k-induction): the skid register between the units (rtl/skid.py): its "
        "output keeps the stream rule and carries exactly the input's beats, in order, none "
        "lost or repeated; an empty one passes a beat in its own cycle",)),
    Proof("forward", "stages", functools.partial(stage_harness, kind="forward"), "prove", 4, (
        "unbounded (k-induction): the forward register: the same",)),
    Proof("dre-streams", "dre", dre_streams, "prove", 6, (
        "unbounded (k-induction): the whole DRE (2-bit hashes, 2 clusters, 1 WTU lane, 1 "
        "bucket, 1 token a page, 2 pages) under a free host (any beats, scores, register "
        "writes and CLEARs, free back-pressure): o_slot, o_select, o_desc keep the stream "
        "rule",
        "nothing lost or repeated: a slot only for a token taken and not answered, at most "
        "four inside; one query at a time; its selection exactly its beats, last on the final "
        "one, and only inside it; descriptors only inside it, the end beat after its "
        "selection; no slot handed out twice between clears",
        "composed: each unit's own proof (HCU, controller, WTU, score guard, the three "
        "stream registers) watches it inside the DRE, and what that proof assumed of its "
        "environment is asserted, proved from the other units and the DRE's invariants (the "
        "query FSM's state against the units', tokens and final-mask beats accounted for, "
        "founded clusters in step, the registers inside their ranges)")),
    Proof("dre-streams-cover", "dre", dre_streams, "cover", 50, (
        "cover: a query answered (its selection and its end beat); a WTU batch sent",)),
    Proof("dre-idle", "dre", functools.partial(dre_streams, idle=(0, 60)), "prove", 62, (
        "unbounded (k-induction): the whole DRE (as dre-streams) under a free host: broken "
        "score streams, CLEARs and register writes at any time, free back-pressure; once "
        "the host is quiet (no beat offered, every output taken, no register written) for "
        "60 cycles, STATUS.BUSY is low: it returns to idle (TIMEOUT 0), whatever it was "
        "doing",
        "with it, everything dre-streams proves, and its invariants; the induction needs the "
        "controller's walk to end (its chains reach their tails) and the WTU's selection to "
        "issue its last beat (their invariants)"), slow=True, timeout=5400),
    Proof("wtu-batches", "wtu", wtu_batches, "prove", 56, (
        "unbounded (k-induction): the WTU scan with early exit (2-bit scores, 1-bit counts, 3 "
        "clusters, 2 lanes, 2 buckets, all modes) over any number of batches of one or two "
        "rows, settings changed between batches, no stalls inside a batch: every row's exit "
        "bucket, S, T of its S and mask, and every final mask, are SPEC 3's (3.1's in mode "
        "exp); no accumulator, adder-tree node or row-setup register overflows",
        "every batch leaves within 52 cycles of its first count beat; no decision pending "
        "between rows; what a batch leaves behind does not change the next one's answer"),
        slow=True, timeout=10800),
    Proof("wtu-batches-full", "wtu",
          functools.partial(wtu_batches, early_exit=False), "prove", 56, (
              "unbounded (k-induction): the same for the WTU scan without early exit; with "
              "wtu-batches, early exit is exact for every length (both give every row SPEC 3's "
              "exit bucket and mask, and every batch SPEC 3's final mask, so the same ones)",
              "every batch leaves within 52 cycles of its first count beat, as with early exit"),
          slow=True, timeout=10800),
    Proof("wtu-batches-histogram", "wtu",
          functools.partial(wtu_batches, schedule="histogram"), "prove", 56, (
              "unbounded (k-induction): the same for the WTU's histogram schedule (one pass "
              "accumulates every bucket's prefix sum): SPEC 3's answers, no overflow",
              "every batch leaves within 52 cycles of its first count beat"),
          slow=True, timeout=10800),
    Proof("wtu-cover", "wtu", functools.partial(wtu_harness, **WTU_SMALL, units=("ee",),
                                                within=48, compare=()), "cover", 50, (
        "cover: a row exits in the first of 4 buckets", "cover: a row exits in the last",
        "cover: the whole batch out")),
]


def run_proofs(units=None, *, names=None, quick: bool = False,
               build: Path = Path("build/formal"), depth: int | None = None,
               progress=None) -> list[ProofResult]:
    """The proofs of ``units`` (default: all), or those named in ``names``; with ``quick``,
    none of the slow ones (minutes to hours each, see docs/formal.md)."""
    for field, given, known in (("unit", units, {p.unit for p in PROOFS}),
                                ("proof", names, {p.name for p in PROOFS})):
        for value in given or ():
            if value not in known:
                raise ValueError(f"{field} must be one of {', '.join(sorted(known))}, "
                                 f"not {value!r}")
    results = []
    for proof in selected(units, names=names, quick=quick):
        module, ports = proof.harness()
        result = run_sby(module, ports, proof.name, mode=proof.mode,
                         depth=depth or proof.depth, workdir=Path(build) / proof.name,
                         timeout=proof.timeout)
        if progress:
            progress(result.line())
        results.append(result)
    return results


def selected(units=None, *, names=None, quick: bool = False) -> list[Proof]:
    """The proofs ``run_proofs`` would run, in order."""
    return [p for p in PROOFS
            if (not units or p.unit in units) and (not names or p.name in names)
            and not (quick and p.slow)]
