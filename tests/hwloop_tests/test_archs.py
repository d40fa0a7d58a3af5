from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from hwloop import HwloopError
from hwloop.archs import (
    ArchSpec,
    Conv2d,
    FixedPoint,
    Flatten,
    Linear,
    build_model,
    builtin_archs,
    resolve_arch,
)
from hwloop.archs._torch import count_parameters

# parameter counts of the published models (see docs/archs.md for provenance)
EXPECTED_PARAMS = {
    "braggnn": 45_274,
    "nac-base": 17_226,
    "nac-tiny": 23_094,  # as the seed paper states
    "nac-small": 13_922,
    "nac-medium": 15_786,
    "nac-large": 92_438,
}
# jets (8 constituents x 3 features -> 5 classes; tests/hwloop_tests/test_deepsets.py)
DEEPSETS_PARAMS = {
    "deepsets-baseline": 3_461,  # as the seed paper states
    "deepsets-tiny": 279,
    "deepsets-small": 585,
    "deepsets-medium": 2_239,
    "deepsets-large": 3_807,
}


# ptycho (tests/hwloop_tests/test_xray_archs.py): PtychoNN, nconv = 32
PTYCHO_PARAMS = {"ptychonn": 1_247_074}


def test_all_builtins_present() -> None:
    assert set(builtin_archs()) == set(EXPECTED_PARAMS) | set(DEEPSETS_PARAMS) | set(PTYCHO_PARAMS)
    for name, params in DEEPSETS_PARAMS.items():
        assert count_parameters(build_model(builtin_archs()[name])) == params


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_builtin_builds_with_right_shape_and_parameters(name: str) -> None:
    spec = builtin_archs()[name]
    model = build_model(spec).eval()
    out = model(torch.rand(4, *spec.input_shape))
    assert out.shape == (4, 2)
    assert spec.output_size == 2
    assert count_parameters(model) == EXPECTED_PARAMS[name]
    # every layer of the spec is a named submodule
    assert list(model.layers.keys()) == [layer.name for layer in spec.layers]


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_json_round_trip_and_digest(name: str, tmp_path: Path) -> None:
    spec = builtin_archs()[name]
    path = tmp_path / f"{name}.json"
    spec.save(path)
    again = ArchSpec.load(path)
    assert again == spec
    assert again.digest == spec.digest
    assert again.with_name("renamed").digest == spec.digest  # metadata is not structure


def test_digest_changes_with_structure() -> None:
    a = ArchSpec((1, 11, 11), (Conv2d("c", 4, 3), Flatten("f"), Linear("o", 2)))
    b = ArchSpec((1, 11, 11), (Conv2d("c", 8, 3), Flatten("f"), Linear("o", 2)))
    assert a.digest != b.digest
    assert len(a.digest) == 16


def test_precision_in_spec() -> None:
    doc = {
        "input_shape": [4],
        "layers": [
            {
                "op": "linear",
                "name": "o",
                "out_features": 2,
                "precision": {"weight": "ap_fixed<6,2>", "result": {"width": 10, "integer": 4}},
            }
        ],
    }
    spec = ArchSpec.from_json(doc)
    prec = spec.layers[0].precision  # type: ignore[union-attr]
    assert prec is not None and prec.weight == FixedPoint(6, 2)
    assert prec.result == FixedPoint(10, 4)
    assert FixedPoint(6, 2).hls() == "ap_fixed<6,2>"
    assert ArchSpec.from_json(json.loads(spec.dumps())) == spec


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "must be a JSON object"),
        ({"input_shape": [1, 11, 11], "layers": []}, "has no layers"),
        ({"input_shape": "x", "layers": []}, "input_shape"),
        ({"input_shape": [4], "layers": [{"op": "dense", "name": "a"}]}, "unknown op 'dense'"),
        (
            {"input_shape": [4], "layers": [{"op": "linear", "name": "a", "width": 3}]},
            "unknown keys",
        ),
        (
            {"input_shape": [4], "layers": [{"op": "linear", "name": "a", "out_features": 0}]},
            "positive integer",
        ),
        (
            {
                "input_shape": [4],
                "layers": [{"op": "linear", "name": "a", "out_features": 2, "act": "swish"}],
            },
            "act must be",
        ),
        (
            {
                "input_shape": [1, 11, 11],
                "layers": [{"op": "linear", "name": "a", "out_features": 2}],
            },
            "linear needs a flat",
        ),
        (
            {
                "input_shape": [1, 3, 3],
                "layers": [{"op": "conv2d", "name": "c", "out_channels": 2, "kernel": 5}],
            },
            "does not fit",
        ),
        (
            {
                "input_shape": [4],
                "layers": [
                    {"op": "linear", "name": "a", "out_features": 2},
                    {"op": "linear", "name": "a", "out_features": 2},
                ],
            },
            "duplicate layer names",
        ),
        ({"format": "other/9", "input_shape": [4], "layers": []}, "not supported"),
        (  # issue 21: a 5e6-wide layer took 7.5 GB in predict before failing
            {
                "input_shape": [16],
                "layers": [{"op": "linear", "name": "a", "out_features": 5000000}],
            },
            "80,000,000 weights, above hwloop's limit",
        ),
        (  # and a 1e9-wide one a torch traceback
            {
                "input_shape": [1000000000],
                "layers": [{"op": "linear", "name": "a", "out_features": 2}],
            },
            "an input of 1,000,000,000 values",
        ),
        (
            {
                "input_shape": [4, 1000, 1000],
                "layers": [{"op": "conv2d", "name": "c", "out_channels": 64, "kernel": 1}],
            },
            "an output of 64,000,000 values",
        ),
    ],
)
def test_bad_specs_name_the_problem(doc: object, message: str) -> None:
    with pytest.raises(HwloopError, match=message):
        ArchSpec.from_json(doc)


def test_bad_json_text() -> None:
    with pytest.raises(HwloopError, match="not valid JSON"):
        ArchSpec.loads("{nope")


def test_one_resolver_reads_front_members(tmp_path: Path) -> None:
    """Issue 25, item 14: tune and compress took pareto.json:TRIAL, bops / predict / arch show /
    calibrate did not, and a misspelt top-level key passed silently."""
    member = builtin_archs()["nac-tiny"].to_json()
    front = tmp_path / "pareto.json"
    front.write_text(json.dumps({"task": "bragg", "front": [{"trial": 3, "arch": member}]}))
    assert resolve_arch(f"{front}:3").structure() == builtin_archs()["nac-tiny"].structure()
    with pytest.raises(HwloopError, match="name one member as .*pareto.json:TRIAL \\(trials: 3\\)"):
        resolve_arch(str(front))
    with pytest.raises(HwloopError, match="no front member of trial 4"):
        resolve_arch(f"{front}:4")
    with pytest.raises(HwloopError, match="unknown keys \\['descripton'\\]"):
        ArchSpec.from_json({**member, "descripton": "x"})
