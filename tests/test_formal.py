"""`vrex formal`: the proofs pass on the design, and fail on a design broken on purpose."""

import pytest

from vrex.formal.controller import controller_harness
from vrex.formal.emitter import emitter_harness
from vrex.formal.setup import setup_harness
from vrex.formal.skid import stage_harness
from vrex.formal.guard import guard_harness
from vrex.formal.hcu import hcu_miter, hcu_spec
from vrex.formal.sby import missing_tools, run_sby
from vrex.formal.units import PROOFS, run_proofs
from vrex.formal.wtu_streams import wtu_streams
from vrex.formal.dre_streams import dre_streams
from vrex.rtl.controller import Controller
from vrex.rtl.guard import ScoreGuard
from vrex.rtl.skid import Skid
from vrex.rtl.wtu.emitter import MaskEmitter
from vrex.rtl.wtu import WTU
from vrex.rtl.dre import DRE
from vrex.rtl.hcu import HCU

pytestmark = pytest.mark.skipif(bool(missing_tools()), reason=f"not installed: {missing_tools()}")


def broken(base, doc, drive):
    """``base`` broken on purpose, for a proof to catch: the statements ``drive(unit)``
    returns are added to its module after it is built (the later assignment wins)."""
    class Broken(base):
        def elaborate(self, platform):
            m = super().elaborate(platform)
            m.d.comb += drive(self)
            return m
    Broken.__doc__ = doc
    Broken.__name__ = Broken.__qualname__ = f"Broken{base.__name__}"
    return Broken


# One test a proof, so that parallel workers share them out.
@pytest.mark.parametrize("proof", [pytest.param(p, marks=pytest.mark.slow) if p.slow else p
                                   for p in PROOFS], ids=lambda proof: proof.name)
def test_proof_passes(tmp_path, proof):
    module, ports = proof.harness()
    result = run_sby(module, ports, proof.name, mode=proof.mode, depth=proof.depth,
                     workdir=tmp_path / proof.name, timeout=proof.timeout)
    assert result.passed, result.line() + "\n" + result.detail


def test_run_proofs_selects_by_unit(tmp_path):
    results = run_proofs(["controller"], build=tmp_path, depth=4)
    assert [r.name for r in results] == [p.name for p in PROOFS if p.unit == "controller"]
    with pytest.raises(ValueError, match="unit must be one of"):
        run_proofs(["kvmu"], build=tmp_path)


Unarbitrated = broken(
    Controller, "The controller as it was before the proof found it out: a selection is taken "
    "while ids are in flight, and the walk reads the chain table under the slot path's feet.",
    lambda u: [u.i_select.ready.eq(1)])


def test_a_broken_controller_is_caught(tmp_path):
    m, ports = controller_harness(unit=Unarbitrated)
    result = run_sby(m, ports, "unarbitrated", mode=PROOFS[0].mode, depth=PROOFS[0].depth,
                     workdir=tmp_path)
    assert not result.passed and result.status == "FAIL"
    assert "controller.py" in result.detail            # the failed assertion's location


class SelfLinked(Controller):
    """A controller that links a chain's old tail to itself, not to the page appended: the
    chain no longer reaches its tail (its descriptor walk would never end)."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        port = m.submodules.links.write_ports[0]
        m.d.comb += port.data.eq(port.addr)
        return m


def test_the_controller_proof_catches_a_chain_that_misses_its_tail(tmp_path):
    # The links are internal ports: the chain invariants (formal/controller.py) read them.
    # (Two tokens of one cluster fill a page and open a second within 8 cycles.)
    assert_caught(tmp_path, lambda: controller_harness(unit=SelfLinked), depth=8,
                  where="formal/controller.py", proof="controller")


@pytest.mark.parametrize("broken", [{"th_offset": 1}, {"within": 8}])
def test_the_hcu_miter_catches_a_threshold_off_by_one(tmp_path, broken):
    # One HCU compares against a threshold one higher: some token's cluster differs. And a
    # bound too short for the tokens to leave is refused, not silently vacuous.
    m, ports = hcu_miter(**broken)
    result = run_sby(m, ports, "hcu-broken", mode="bmc", depth=30, workdir=tmp_path)
    assert result.status == "FAIL" and "hcu.py" in result.detail


class EarlyExitOffByOne(WTU):
    """A WTU whose early exit leaves when the running sum reaches T instead of passing it."""

    def passes(self, beat_sum, left):
        return beat_sum >= left if self.early_exit else beat_sum > left


@pytest.mark.parametrize("name", ["wtu-miter", "wtu-spec"])
def test_the_wtu_proofs_catch_an_exit_comparator_off_by_one(tmp_path, name):
    # The miter sees the two scans disagree; the spec proof sees the exit differ from SPEC 3.
    proof = next(p for p in PROOFS if p.name == name)
    m, ports = proof.harness(unit=EarlyExitOffByOne)
    result = run_sby(m, ports, f"{name}-broken", mode="bmc", depth=proof.depth,
                     workdir=tmp_path)
    assert result.status == "FAIL" and "wtu.py" in result.detail


def test_unknown_unit_is_named():
    with pytest.raises(ValueError,
                       match="unit must be one of controller, dre, guard, hcu, stages, wtu, "
                             "not 'hcu2'"):
        run_proofs(["hcu2"])
    with pytest.raises(ValueError, match="proof must be one of .*controller-cover.*, "
                                         "not 'wtu-batch'"):
        run_proofs(names=["wtu-batch"])


def test_vrex_formal_runs_proofs_by_name_and_skips_slow_ones_when_quick(tmp_path, capsys):
    from vrex.scripts.cli import main
    slow = next(p for p in PROOFS if p.slow)
    assert main(["formal", "--proof", "controller-cover", "--proof", slow.name, "--quick",
                 "--build", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("controller-cover: reached (cover")
    assert out[1].startswith(f"{slow.name}: skipped (--quick")
    assert out[-1] == f"1 of 1 proofs passed; skipped as slow: {slow.name}"
    assert main(["formal", "--proof", "dre-idel"]) == 2
    assert "proof must be one of" in capsys.readouterr().err


LastThrough = broken(ScoreGuard, "A guard that passes the host's last to the WTU as it is.",
                     lambda u: [u.o_score.payload.last.eq(u.i_score.payload.last)])


def test_the_idle_bound_is_not_vacuous(tmp_path):
    # A bound shorter than a query's way through the WTU and the controller fails, with a
    # counterexample from reset at the return-to-idle assertion.
    m, ports = dre_streams(idle=(0, 20))
    result = run_sby(m, ports, "idle-short", mode="bmc", depth=30, workdir=tmp_path)
    assert result.status == "FAIL" and "dre_streams.py" in result.detail, result.line()


RowBeatAgain = broken(MaskEmitter, "An emitter that offers its o_row beat again after it "
                      "was taken.",
                      lambda u: [u.o_row.valid.eq(u.active & ~u.o_mask.payload.final)])


StaleSkid = broken(Skid, "A skid register that offers the incoming beat even while it "
                   "holds an older one.", lambda u: [u.o.payload.eq(u.i.payload)])


# Each unbounded proof against a design broken on purpose: the proof (with its depth) fails
# with a real counterexample, not an induction failure.
@pytest.mark.parametrize("harness, proof", [
    (lambda: guard_harness(unit=LastThrough), "guard"),
    (lambda: emitter_harness(unit=RowBeatAgain), "wtu-emitter"),
    (lambda: stage_harness(kind="skid", unit=StaleSkid), "skid"),
    (lambda: setup_harness(consistent=False), "wtu-setup"),
], ids=["guard-last-through", "emitter-row-twice", "skid-stale", "setup-inconsistent-row"])
def test_an_unbounded_proof_catches_a_broken_design(tmp_path, harness, proof):
    depth = next(p.depth for p in PROOFS if p.name == proof)
    m, ports = harness()
    result = run_sby(m, ports, proof, mode="prove", depth=depth, workdir=tmp_path)
    assert result.status == "FAIL", result.line()


def assert_caught(tmp_path, harness, *, depth, where, proof):
    """A design broken on purpose fails: a real counterexample from reset within ``depth``
    cycles, at an assertion in ``where``; and the unbounded ``proof`` (its mode and depth) no
    longer passes (a whole transaction is longer than the induction's depth, so the proof
    alone would only say UNKNOWN)."""
    m, ports = harness()
    result = run_sby(m, ports, "broken", mode="bmc", depth=depth, workdir=tmp_path)
    assert result.status == "FAIL" and where in result.detail, result.line()
    spec = next(p for p in PROOFS if p.name == proof)
    m, ports = harness()
    result = run_sby(m, ports, "broken", mode=spec.mode, depth=spec.depth,
                     workdir=tmp_path / "prove")
    assert not result.passed, result.line()


FinalNeverFlagged = broken(WTU, "A WTU whose final mask goes out unflagged, as one more "
                           "row's mask.", lambda u: [u.o_mask.payload.final.eq(0)])


ScoresAlwaysTaken = broken(WTU, "A WTU that takes score beats while it works on the row "
                           "before (they are lost).", lambda u: [u.i_score.ready.eq(1)])


@pytest.mark.parametrize("unit", [FinalNeverFlagged, ScoresAlwaysTaken],
                         ids=["final-unflagged", "scores-always-taken"])
def test_the_wtu_streams_proof_catches_a_broken_unit(tmp_path, unit):
    assert_caught(tmp_path, lambda: wtu_streams(unit=unit), depth=30,
                  where="formal/wtu_streams.py", proof="wtu-streams")


ExitAlwaysFirst = broken(WTU, "A WTU that reports every row's exit in the first bucket.",
                        lambda u: [u.o_row.payload.exit_bucket.eq(0)])


MaskAllSet = broken(WTU, "A WTU whose masks keep every cluster.",
                    lambda u: [u.o_mask.payload.mask.eq(-1)])


@pytest.mark.parametrize("unit, proof", [(ExitAlwaysFirst, "wtu-batches"),
                                         (MaskAllSet, "wtu-batches-full"),
                                         (ExitAlwaysFirst, "wtu-batches-histogram")],
                         ids=["exit-first", "mask-all-full-scan", "exit-first-histogram"])
def test_the_wtu_batches_proofs_catch_a_wrong_answer(tmp_path, unit, proof):
    # Each proof's own harness, the unit swapped. (A batch of one row is out within 20
    # cycles; the induction's base case finds the same counterexample in seconds, so the
    # unbounded proof fails fast.)
    harness = next(p.harness for p in PROOFS if p.name == proof)
    assert_caught(tmp_path, lambda: harness(unit=unit), depth=24,
                  where="formal/wtu_batches.py", proof=proof)


SelectAlwaysLast = broken(DRE, "A DRE that flags every selection beat as the last.",
                          lambda u: [u.o_select.payload.last.eq(1)])


MarkerAsToken = broken(DRE, "A DRE that hands query markers to the HCU as tokens.",
                       lambda u: [u.units["hcu"].i_hash.valid.eq(u.i_hash.valid)])


@pytest.mark.parametrize("unit", [SelectAlwaysLast, MarkerAsToken],
                         ids=["select-always-last", "marker-as-token"])
def test_the_dre_streams_proof_catches_a_broken_dre(tmp_path, unit):
    # (A query takes about 30 cycles from reset.)
    assert_caught(tmp_path, lambda: dre_streams(unit=unit), depth=32,
                  where="formal/dre_streams.py", proof="dre-streams")


class JoinsFirstCluster(HCU):
    """An HCU that reports every joining token in cluster 0."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        with m.If(~self.o_id.payload.new):
            m.d.comb += self.o_id.payload.cluster.eq(0)
        return m


@pytest.mark.parametrize("early_exit", [True, False], ids=["early-exit", "full"])
def test_the_hcu_spec_proof_catches_a_wrong_cluster(tmp_path, early_exit):
    # (Two clusters founded, then a token nearer the second.)
    assert_caught(tmp_path, lambda: hcu_spec(unit=JoinsFirstCluster, early_exit=early_exit),
                  depth=24, where="formal/hcu.py",
                  proof="hcu-spec" if early_exit else "hcu-spec-full")
