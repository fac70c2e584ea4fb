import pytest

from vrex.golden.config import Config, ConfigError, Mode, load_config, preset_names


def test_presets_load():
    assert {"default", "small"} <= set(preset_names())
    default = load_config("default")
    # The paper's DRE: 32-bit hashes, 1024 clusters, 16 HCU bits a cycle; 8 WTU lanes (the
    # paper's 16 pay too little on a latency-bound row: docs/wtu.md).
    assert (default.hash_bits, default.max_clusters, default.digit, default.wtu_lanes) == \
        (32, 1024, 16, 8)
    assert load_config() == default
    assert load_config("small").max_clusters < default.max_clusters


def test_toml_round_trip(tmp_path):
    cfg = Config(th_hd=9, mode=Mode.SHIFT)
    path = tmp_path / "c.toml"
    path.write_text(cfg.to_toml())
    assert load_config(path) == cfg


@pytest.mark.parametrize("field, value, message", [
    ("hash_bits", 0, "hash_bits must be in 1..64, not 0"),
    ("hash_bits", 65, "hash_bits must be in 1..64, not 65"),
    ("max_clusters", 0, "max_clusters must be in 1..65536, not 0"),
    ("count_bits", 33, "count_bits must be in 1..32, not 33"),
    ("score_bits", 1, "score_bits must be in 2..32, not 1"),
    ("ratio", 65536, "ratio must be in 0..65535, not 65536"),
    ("ratio", -1, "ratio must be in 0..65535, not -1"),
    ("mode", 3, "mode must be in 0..2, not 3"),
    ("mode", "median", "mode must be 'shift' or 'clamp' or 'exp', not 'median'"),
    ("exp_frac", 7, "exp_frac must be in 0..6, not 7"),
    ("exp_bits", 25, "exp_bits must be in 1..24, not 25"),
    ("wtu_schedule", "sort", "wtu_schedule must be 'scan' or 'histogram', not 'sort'"),
    ("wtu_schedule", 2, "wtu_schedule must be in 0..1, not 2"),
    ("digit", 33, "digit must be in 1..hash_bits=32, not 33"),
    ("th_hd", 34, "th_hd must be in 0..hash_bits+1=33, not 34"),
    ("buckets", 17, "buckets must be in 1..max_buckets=16, not 17"),
    ("hcu_lanes", 2048, "hcu_lanes must be in 1..max_clusters=1024, not 2048"),
    ("wtu_lanes", 0, "wtu_lanes must be in 1..65536, not 0"),
    ("page_tokens", 1.5, "page_tokens must be an integer, not 1.5"),
    ("max_pages", True, "max_pages must be an integer, not True"),
])
def test_bad_parameter_is_named(field, value, message):
    with pytest.raises(ConfigError) as info:
        Config(**{field: value})
    assert str(info.value) == message


def test_total_width_limit_is_named():
    with pytest.raises(ConfigError,
                       match="63-bit WiCSum total.*score_bits=32, exp_bits=16, count_bits=32"):
        Config(score_bits=32, count_bits=32)


def test_unknown_and_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="unknown parameter 'hashbits'"):
        Config().replace(hashbits=3)
    bad = tmp_path / "bad.toml"
    bad.write_text("th_hd = [")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    bad.write_text("th_hd = 40\n")
    with pytest.raises(ConfigError, match=r"bad.toml: th_hd must be in 0..hash_bits\+1=33, not 40"):
        load_config(bad)
    bad.write_text("colour = 1\n")
    with pytest.raises(ConfigError, match="unknown parameter 'colour'"):
        load_config(bad)
    with pytest.raises(ConfigError, match="must be a preset .* or a TOML file, not 'nope'"):
        load_config("nope")


def test_derived_widths():
    cfg = Config(max_pages=64, page_tokens=16)
    # 1024 slots: the all-ones value must not be a real slot, so 11 bits, not 10.
    assert cfg.slot_bits == 11 and cfg.no_slot == 2047
    cfg = Config(max_pages=100, page_tokens=10)
    assert cfg.no_slot == 1023 > 999
    cfg = Config(score_bits=8, count_bits=4, max_clusters=3, wtu_lanes=1, exp_bits=8)
    assert cfg.total_bits == (3 * 255 * 15).bit_length()
    # Mode exp's values are exp_bits wide: the wider of the two sets the total.
    assert cfg.replace(exp_bits=16).total_bits == (3 * 65535 * 15).bit_length()


@pytest.mark.parametrize("given, stored", [(0.3, 19660), ("0.3", 19660), (0.5, 32768),
                                           ("0", 0), ("19660", 19660), (0.0, 0)])
def test_ratio_is_taken_as_a_fraction_too(given, stored):
    # Users think of the WiCSum ratio as a fraction; Q0.16 stays what the register holds.
    assert Config(ratio=given).ratio == stored


@pytest.mark.parametrize("given, message", [
    (1.0, r"ratio must be a fraction in \[0, 1\) \(0.3 or 30%\) or Q0.16 integer 0..65535, "
          r"not 1.0"),
    ("120%", r"ratio must be a fraction .* not 1.2"),
    ("-0.2", r"ratio must be a fraction .* not -0.2"),
    ("lots", r"ratio must be a fraction in \[0, 1\) \(0.3 or 30%\) or Q0.16 integer, not 'lots'"),
])
def test_a_bad_ratio_is_named(given, message):
    with pytest.raises(ConfigError, match=message):
        Config(ratio=given)


def test_set_ratio_as_a_fraction_on_the_command_line(capsys):
    from vrex.scripts.cli import main
    assert main(["config", "show", "--set", "ratio=0.3"]) == 0
    assert "\nratio = 19660 " in capsys.readouterr().out


def test_every_parameter_is_described():
    # One table says what each parameter is (config show, the flow's report, the SoC top).
    from vrex.golden.config import PARAMETER_DOCS
    assert list(PARAMETER_DOCS) == Config.names()
