from __future__ import annotations

import json
from pathlib import Path

import pytest

from fpga_targets import Resources, Target, TargetError, get_target, list_targets, load_targets_file


@pytest.mark.parametrize(
    ("name", "part"), [("u250", "xcu250-figd2104-2L-e"), ("vu13p", "xcvu13p-flga2577-2-e")]
)
def test_builtin_targets(name: str, part: str) -> None:
    t = get_target(name)
    assert isinstance(t, Target)
    assert t.part == part
    assert t.family == "UltraScale+"
    assert t.clock_period_ns == 5.0
    assert t.resources == Resources(
        lut=1_728_000, ff=3_456_000, dsp=12_288, bram_18k=5_376, uram=1_280
    )
    assert t.clock_mhz == pytest.approx(200.0)


@pytest.mark.parametrize(
    ("name", "part", "resources"),
    [
        # the data sheets' totals; BRAM as 18 Kb blocks (two per BRAM36)
        ("xczu49dr", "xczu49dr-ffvf1760-2-e", (425_280, 850_560, 4_272, 2 * 1_080, 80)),
        ("xczu9eg", "xczu9eg-ffvb1156-2-e", (274_080, 548_160, 2_520, 2 * 912, 0)),
    ],
)
def test_zynq_targets(name: str, part: str, resources: tuple[int, ...]) -> None:
    t = get_target(name)
    assert (t.part, t.family, t.clock_period_ns) == (part, "UltraScale+", 5.0)
    assert t.resources == Resources(*resources)


def test_targets_are_frozen() -> None:
    t = get_target("vu13p")
    with pytest.raises(AttributeError):
        t.part = "x"  # type: ignore[misc]


def test_user_target_file_toml_and_json(tmp_path: Path) -> None:
    toml = tmp_path / "mine.toml"
    toml.write_text(
        '[targets.z7]\npart = "xc7z020-clg400-1"\nfamily = "Zynq-7000"\nclock_period_ns = 10\n'
        "[targets.z7.resources]\nlut = 53200\nff = 106400\ndsp = 220\nbram_18k = 280\n"
    )
    found = load_targets_file(toml)
    assert found["z7"].resources.uram == 0
    jsn = tmp_path / "mine.json"
    entry = {k: v for k, v in found["z7"].as_dict().items() if k != "name"}
    jsn.write_text(json.dumps({"targets": {"z7": entry}}))
    assert load_targets_file(jsn)["z7"] == found["z7"]
    assert "z7" in list_targets((str(toml),))
    assert get_target("z7", (str(toml),)).part == "xc7z020-clg400-1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[targets.a]\npart='p'\nfamily='f'\nclock_period_ns=5\n", "missing 'resources'"),
        (
            "[targets.a]\npart='p'\nfamily='f'\nclock_period_ns=-1\n[targets.a.resources]\n"
            "lut=1\nff=1\ndsp=1\nbram_18k=1\n",
            "clock_period_ns must be a positive finite number",
        ),
        (  # issue 21: an infinite clock was accepted, and calibrate then failed with a traceback
            "[targets.a]\npart='p'\nfamily='f'\nclock_period_ns=inf\n[targets.a.resources]\n"
            "lut=1\nff=1\ndsp=1\nbram_18k=1\n",
            "clock_period_ns must be a positive finite number",
        ),
        (
            "[targets.a]\npart='p'\nfamily='f'\nclock_period_ns='5'\n[targets.a.resources]\n"
            "lut=1\nff=1\ndsp=1\nbram_18k=1\n",
            "clock_period_ns must be a number",
        ),
        (
            "[targets.a]\npart='p'\nfamily='f'\nclock_period_ns=5\n[targets.a.resources]\n"
            "lut=-1\nff=1\ndsp=1\nbram_18k=1\n",
            "non-negative",
        ),
        ("[targets.a]\npart='p'\nfamily='f'\nclock_period_ns=5\ncolour='red'\n", "unknown keys"),
        ("not toml at all [", "not valid"),
        ("x = 1\n", "non-empty 'targets'"),
    ],
)
def test_bad_target_files(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(TargetError, match=message):
        load_targets_file(f)


def test_unknown_target_names_known_ones() -> None:
    with pytest.raises(TargetError, match="known targets: u250, vu13p, xczu49dr, xczu9eg"):
        get_target("vu9000")


def test_missing_file() -> None:
    with pytest.raises(TargetError, match="cannot read"):
        load_targets_file("/nonexistent/targets.toml")
