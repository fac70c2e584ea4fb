"""The host driver: end to end against the simulated board, equal to the golden model; and
clear errors for a silent board, a corrupt answer, a refusal and a board built for another
configuration."""

import dataclasses

import numpy as np
import pytest

from vrex.board.protocol import RESPONSE_SYNC, Command, Status, frame
from vrex.golden.config import load_config
from vrex.golden.stimulus import random_vectors
from vrex.golden.vectors import run_golden
from vrex.host.check import bringup_check, check_vectors_on
from vrex.host.driver import (BoardError, BoardTimeout, CommandError, DreDriver, DreFault,
                              ProtocolError)
from vrex.host.link import SimLink

SMALL = load_config("small")


@pytest.fixture(scope="module")
def small_driver():
    return DreDriver(SimLink(SMALL), SMALL)


def test_bringup_check_passes_on_the_simulated_board(small_driver):
    results = bringup_check(small_driver, seeds=(1, 2))
    assert [r.mismatches for r in results] == [[], []], [r.line() for r in results]


def test_overflows_and_run_time_settings_end_to_end():
    # A tiny table and page pool: both overflow flags, slots of -1, and the vector's own
    # threshold and mode written to the board before the run.
    config = SMALL.replace(max_clusters=16, max_pages=4)
    driver = DreDriver(SimLink(config), config)
    vectors = random_vectors("dre", config.replace(th_hd=9, mode=0), 7, tokens=48, frames=2,
                             queries=2)
    want = run_golden(vectors)
    assert want["cluster_overflow"] and want["page_overflow"] and (want["slot"] == -1).any()
    result = check_vectors_on(driver, vectors, "overflow")
    assert result.passed, result.line()
    counters = driver.counters()
    assert counters["TOKENS"] == 48 and counters["QUERIES"] == 2
    assert counters["CLUSTERS"] == 16 and counters["PAGES"] == 4


def test_run_time_settings_reach_the_board(small_driver):
    # The board runs the ratio it is given: under another ratio its selection follows the
    # golden model's for that ratio, which differs from the default's.
    vectors = random_vectors("dre", SMALL, 2, tokens=30, frames=2, queries=2)
    default = run_golden(vectors)
    ratio = next(r for r in (0, 6553, 65535) if not np.array_equal(
        run_golden(dataclasses.replace(vectors, config=SMALL.replace(ratio=r)))["select"],
        default["select"]))
    got = small_driver.run(vectors.arrays, settings=SMALL.replace(ratio=ratio))
    want = run_golden(dataclasses.replace(vectors, config=SMALL.replace(ratio=ratio)))
    assert np.array_equal(got["select"], want["select"])
    assert not np.array_equal(got["select"], default["select"])


def test_vector_for_another_board_is_refused(small_driver):
    vectors = random_vectors("dre", SMALL.replace(max_pages=128), 1, tokens=4, frames=1,
                             queries=1)
    with pytest.raises(ValueError, match="max_pages = 128 in the vector file, 256 on the board"):
        check_vectors_on(small_driver, vectors, "other")


def test_board_built_for_another_configuration():
    link = SimLink(SMALL)
    with pytest.raises(BoardError, match="LANES reads"):
        DreDriver(link, SMALL.replace(hcu_lanes=2)).check_board()
    with pytest.raises(BoardError, match="bridge is not this configuration's"):
        DreDriver(link, SMALL.replace(hash_bits=48)).check_board()


class ScriptedLink:
    """A link whose board answers with fixed bytes (or nothing)."""

    name = "scripted link"
    default_timeout = 0.1

    def __init__(self, answer: bytes):
        self.answer, self.sent, self.resyncs = answer, [], 0

    def write(self, data):
        self.sent.append(bytes(data))

    def read(self, n, timeout):
        out, self.answer = self.answer[:n], self.answer[n:]
        return out

    def resync(self):
        self.resyncs += 1


def test_silent_board_times_out():
    link = ScriptedLink(b"")
    with pytest.raises(BoardTimeout, match=r"READ: no answer from scripted link within 0.1 s "
                                           r"\(0 of 3 bytes\)"):
        DreDriver(link, SMALL).read("ID")
    assert link.resyncs == 1


def test_short_answer_times_out():
    with pytest.raises(BoardTimeout, match="1 of 5 bytes"):
        DreDriver(ScriptedLink(bytes([RESPONSE_SYNC, 0, 4, 0x12])), SMALL).read("ID")


def test_corrupt_answers():
    good = frame(RESPONSE_SYNC, Status.OK, bytes(4))
    bad_crc = good[:-1] + bytes([good[-1] ^ 0x80])
    with pytest.raises(ProtocolError, match="READ: bad checksum"):
        DreDriver(ScriptedLink(bad_crc), SMALL).read("ID")
    with pytest.raises(ProtocolError, match="starts with 0x00, not 0x5a"):
        DreDriver(ScriptedLink(b"\x00" + good[1:]), SMALL).read("ID")


def test_refusal_names_command_and_status():
    answer = frame(RESPONSE_SYNC, Status.BAD_COMMAND)
    with pytest.raises(CommandError, match="POP o_desc: the board answered BAD_COMMAND"):
        DreDriver(ScriptedLink(answer), SMALL).pop("o_desc")


def test_register_names_and_access():
    driver = DreDriver(ScriptedLink(b""), SMALL)
    with pytest.raises(ValueError, match="register 'NOPE': not one of ID, CTRL"):
        driver.read("NOPE")
    with pytest.raises(ValueError, match="register TOKENS is read-only"):
        driver.write("TOKENS", 1)
    with pytest.raises(ValueError, match="not a 32-bit word"):
        driver.write("RATIO", 1 << 32)
    with pytest.raises(ValueError, match="max_beats must be in 1..255 \\(one frame\\), not 256"):
        driver.pop("o_slot", 256)


def test_push_reports_full():
    driver = DreDriver(ScriptedLink(frame(RESPONSE_SYNC, Status.FULL)), SMALL)
    assert driver.push("i_hash", [{"hash": 1, "query": 0}]) is False
    assert driver.link.sent[0][1] == Command.PUSH | 0


@pytest.mark.slow
def test_bringup_check_with_the_default_configuration():
    # What the ULX3S runs: 16 WTU lanes, 33-byte score beats, seven to a frame.
    config = load_config("default")
    results = bringup_check(DreDriver(SimLink(config), config), seeds=(1,), tokens=24)
    assert results[0].passed, results[0].line()


def test_a_cut_score_stream_is_reported_and_cleared():
    # A host that sends one beat too few and a `last` on a beat inside a row: the board
    # answers the query with an empty selection and the end beat, the driver raises DreFault
    # naming the cause and the query, and CLEAR forgets it; the next run is exact.
    config = SMALL.replace(wtu_lanes=2)
    driver = DreDriver(SimLink(config), config)
    driver.clear()
    driver.push("i_hash", [{"hash": h, "query": 0} for h in (0, 0xFFFFFFFF, 0xFFFF)])
    slots = []
    for _ in range(50):
        slots += driver.pop("o_slot")
        if len(slots) == 3:
            break
    assert [int(s.cluster) for s in slots] == [0, 1, 2]
    driver.push("i_hash", [{"hash": 0, "query": 1}])
    driver.push("i_score", [{"scores": [5, 1], "last": 1}])     # a row is two beats
    beats = []
    for _ in range(50):
        beats += driver.pop("o_desc")
        if beats:
            break
    assert [b.end for b in beats] == [1], "the cut query ends with its end beat alone"
    selects = driver.pop("o_select")
    assert [int(b.mask) for b in selects] == [0, 0]
    with pytest.raises(DreFault, match="query 0 .*last_early"):
        driver.check_faults()
    driver.clear()
    driver.check_faults()
    vectors = random_vectors("dre", config, 3, tokens=20, frames=2, queries=2)
    result = check_vectors_on(driver, vectors, "after a fault")
    assert result.passed, result.line()
