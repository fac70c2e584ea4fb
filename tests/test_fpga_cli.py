"""`vrex fpga` as a user runs it: the bring-up check on the simulated board, with a vector
file of the user's; and clear errors for a port, a bitstream or a programmer that is not
there."""

import pytest

from vrex.scripts.cli import main


def test_check_on_the_simulated_board_with_a_vector_file(tmp_path, capsys):
    vec = tmp_path / "mine.npz"
    assert main(["vectors", "random", "--unit", "dre", "--config", "small", "--seed", "4",
                 "--tokens", "16", "--frames", "2", "--queries", "1", "-o", str(vec)]) == 0
    assert main(["fpga", "check", "--seeds", "1", "--tokens", "12", "--vectors", str(vec)]) == 0
    out = capsys.readouterr().out
    assert "simulated board" in out and "configuration small" in out
    assert "random seed 1: 12 tokens" in out and f"{vec}: 16 tokens, 1 queries: PASS" in out
    assert "2 of 2 runs equal the golden model" in out


def test_check_refuses_a_vector_file_of_another_unit(tmp_path, capsys):
    vec = tmp_path / "hcu.npz"
    assert main(["vectors", "random", "--unit", "hcu", "--config", "small", "-o", str(vec)]) == 0
    assert main(["fpga", "check", "--seeds", "0", "--vectors", str(vec)]) == 2
    assert "needs a dre vector file, not 'hcu'" in capsys.readouterr().err


def test_check_on_a_missing_port(capsys):
    assert main(["fpga", "check", "--port", "/dev/vrex-no-such-port"]) == 2
    assert "serial port '/dev/vrex-no-such-port' at 115200 baud" in capsys.readouterr().err


def test_baud_the_board_clock_cannot_make(capsys, tmp_path):
    assert main(["fpga", "build", "--board", "icebreaker", "--baud", "5000000",
                 "--out", str(tmp_path / "b")]) == 2
    assert "baud 5000000: a 12 MHz clock allows at most 3000000" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()


def test_program_without_bitstream_or_programmer(tmp_path, capsys, monkeypatch):
    assert main(["fpga", "program", "--bitstream", str(tmp_path / "none.bin")]) == 2
    assert "no such file; run vrex fpga build first" in capsys.readouterr().err
    bit = tmp_path / "x.bit"
    bit.write_bytes(b"\0")
    monkeypatch.setenv("OPENFPGALOADER", "vrex-no-such-programmer")
    assert main(["fpga", "program", "--board", "ulx3s", "--bitstream", str(bit)]) == 2
    assert "openFPGALoader is not installed (Debian package openfpgaloader)" in \
        capsys.readouterr().err


@pytest.mark.parametrize("board", ["nope"])
def test_unknown_board(board, capsys):
    with pytest.raises(SystemExit):
        main(["fpga", "build", "--board", board])
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def test_a_board_refuses_the_kv_engine(capsys, tmp_path):
    assert main(["fpga", "build", "--board", "icebreaker", "--config", "small",
                 "--set", "kv_bytes=64", "--out", str(tmp_path / "b")]) == 2
    assert "kv_bytes must be 0 on a board, not 64" in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
