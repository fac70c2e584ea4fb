"""`vrex formal`: the proofs pass on the design, and fail on a design broken on purpose."""

import pytest

from vrex.formal.controller import controller_harness
from vrex.formal.sby import missing_tools, run_sby
from vrex.formal.units import run_proofs
from vrex.rtl.controller import Controller

pytestmark = pytest.mark.skipif(bool(missing_tools()), reason=f"not installed: {missing_tools()}")


def test_controller_proofs_pass(tmp_path):
    results = run_proofs(["controller"], build=tmp_path)
    assert [r.mode for r in results] == ["bmc", "cover"]
    assert all(r.passed for r in results), [r.line() + "\n" + r.detail for r in results]


class Unarbitrated(Controller):
    """The controller as it was before the proof found it out: a selection is taken while ids
    are in flight, and the walk reads the chain table under the slot path's feet."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.i_select.ready.eq(1)
        return m


def test_a_broken_controller_is_caught(tmp_path):
    m, ports = controller_harness(unit=Unarbitrated)
    result = run_sby(m, ports, "unarbitrated", mode="bmc", depth=10, workdir=tmp_path)
    assert not result.passed and result.status == "FAIL"
    assert "controller.py" in result.detail            # the failed assertion's location


def test_unknown_unit_is_named():
    with pytest.raises(ValueError, match="unit must be one of controller, not 'hcu2'"):
        run_proofs(["hcu2"])
