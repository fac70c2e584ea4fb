"""A component that refuses its parameters is no design left unused: Amaranth must not warn
"created but never used" for it. A valid component nobody elaborates still must.

Amaranth reports unused elaboratables only once some design has been elaborated, and only
when the object is collected, so each test elaborates a small valid design and collects
garbage after the refusal, with the refused object's traceback already dropped."""

import gc
import warnings

import pytest
from amaranth.back import rtlil
from amaranth.hdl import UnusedElaboratable

from conftest import small_config
from vrex.board.bridge import Bridge
from vrex.board.top import BOARDS, BoardTop, LinkTop
from vrex.board.uart import UARTRx, UARTTx
from vrex.rtl.baselines.sort import SortDatapath
from vrex.rtl.controller import Controller
from vrex.rtl.hcu import HCU
from vrex.rtl.wtu import WTU
from vrex.synth.harness import ScanHarness


def _unused_warnings(construct, error, match) -> list[str]:
    """The UnusedElaboratable warnings left after ``construct()`` raised ``error``, a valid
    design was elaborated and garbage was collected."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(error, match=match):
            construct()
        rtlil.convert(UARTTx(4))                # from now on Amaranth reports unused designs
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, UnusedElaboratable)]


REFUSALS = {
    # check_int (rtl/params.py), in each constructor that uses it
    "hcu_int": (lambda: HCU(hash_bits=8, digit=9), ValueError,
                r"digit must be an integer in 1\.\.8, not 9"),
    "wtu_int": (lambda: WTU(score_bits=1), ValueError,
                r"score_bits must be an integer in 2\.\.32, not 1"),
    "controller_int": (lambda: Controller(page_tokens=0), ValueError,
                       r"page_tokens must be an integer in 1\.\.65536, not 0"),
    "wtu_total": (lambda: WTU(score_bits=32, count_bits=32, max_clusters=1 << 16), ValueError,
                  "must fit a 63-bit total, not 80 bits"),
    "wtu_schedule": (lambda: WTU(schedule="sort"), ValueError,
                     "schedule must be 'scan' or 'histogram', not 'sort'"),
    "wtu_checks": (lambda: WTU(checks="all"), ValueError,
                   "checks must be False, True, 'ranges' or 'control', not 'all'"),
    "sort_lanes": (lambda: SortDatapath(lanes=6), ValueError,
                   "lanes must be a power of two, not 6"),
    "bridge": (lambda: Bridge(pushes=[(8, 4)], pops=[(8, 4)], addr_width=4, timeout=0),
               ValueError, "bridge timeout 0: must be at least one cycle"),
    "uart_rx_divisor": (lambda: UARTRx(3), ValueError, "UART divisor 3"),
    "uart_tx_divisor": (lambda: UARTTx(divisor=2), ValueError, "UART divisor 2"),
    "link_divisor": (lambda: LinkTop(small_config(), divisor=3, timeout=10), ValueError,
                     "UART divisor 3"),
    "board_baud": (lambda: BoardTop(BOARDS["icebreaker"], small_config(), baud=4_000_000),
                   ValueError, "baud 4000000.*at most 3000000"),
    "harness_dut": (lambda: ScanHarness(3), TypeError,
                    "dut must be a wiring.Component, not 3"),
}


@pytest.mark.parametrize("kind", REFUSALS)
def test_refused_component_is_not_reported_unused(kind):
    construct, error, match = REFUSALS[kind]
    assert _unused_warnings(construct, error, match) == []


def test_valid_unused_component_still_warns_at_its_line():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rtlil.convert(UARTTx(4))
        forgotten = SortDatapath(lanes=2)      # valid, never elaborated
        del forgotten
        gc.collect()
    unused = [w for w in caught if issubclass(w.category, UnusedElaboratable)]
    assert len(unused) == 1
    assert "SortDatapath" in str(unused[0].message)
    assert "created but never used" in str(unused[0].message)
    assert unused[0].filename == __file__       # the constructor's caller, not the mixin
