"""Edge-model layers (pool2d, upsample2d, branches, sigmoid / tanh), PtychoNN and the seed's
mlp / cnn spaces of Bragg and ptycho (docs/xray.md)."""

from __future__ import annotations

import json

import optuna
import pytest
import torch

from hwloop import HwloopError
from hwloop.archs import ArchSpec, Branches, Pool2d, Upsample2d, build_model, builtin_archs
from hwloop.archs._torch import count_parameters
from hwloop.bops import compute_bops
from hwloop.spaces import get_space, ptycho_cnn
from hwloop.spaces._base import BATCH_SIZES, LR_RANGE


def test_ptychonn_is_the_published_network() -> None:
    spec = builtin_archs()["ptychonn"]
    assert spec.input_shape == (1, 64, 64) and spec.output_size == 2 * 64 * 64
    model = build_model(spec).eval()
    # encoder 286,432 + two decoders of 480,321 (github.com/mcherukara/PtychoNN, nconv = 32)
    assert count_parameters(model) == 1_247_074 == compute_bops(spec).parameters
    with torch.no_grad():
        out = model(torch.rand(2, 1, 64, 64)).view(2, 2, 64, 64)
    amp, phase = out[:, 0], out[:, 1]
    assert 0 < amp.min() and amp.max() < 1  # sigmoid head
    assert -1 < phase.min() and phase.max() < 1  # tanh head (phase / pi)
    # fully convolutional: the same network on 32 x 32 patterns
    small = spec.with_input_shape((1, 32, 32))
    assert small.output_size == 2 * 32 * 32
    assert count_parameters(build_model(small)) == 1_247_074
    with pytest.raises(HwloopError, match="does not divide"):
        spec.with_input_shape((1, 36, 36))


def test_branches_round_trip_and_validate() -> None:
    spec = builtin_archs()["ptychonn"]
    again = ArchSpec.loads(spec.dumps())
    assert again == spec and again.digest == spec.digest
    heads = next(x for x in spec.layers if isinstance(x, Branches))
    assert [b[-1].act for b in heads.branches] == ["sigmoid", "tanh"]
    names = [x.name for x in spec.all_layers()]
    assert len(names) == len(set(names)) and "amp_out" in names and "ph_out" in names
    doc = json.loads(spec.dumps())
    branch = doc["layers"][-2]
    assert branch["op"] == "branches"
    branch["branches"][1][0]["name"] = branch["branches"][0][0]["name"]
    with pytest.raises(HwloopError, match="duplicate layer names"):
        ArchSpec.from_json(doc)
    bad = {
        "input_shape": [1, 8, 8],
        "layers": [
            {
                "op": "branches",
                "name": "b",
                "branches": [
                    [{"op": "conv2d", "name": "a", "out_channels": 1, "kernel": 3}],
                    [{"op": "conv2d", "name": "c", "out_channels": 1, "kernel": 1}],
                ],
            }
        ],
    }
    with pytest.raises(HwloopError, match="differ beyond the first axis"):
        ArchSpec.from_json(bad)
    with pytest.raises(HwloopError, match="mode must be one of"):
        ArchSpec.from_json(
            {"input_shape": [1, 4, 4], "layers": [{"op": "upsample2d", "name": "u", "mode": "x"}]}
        )


def test_pool_upsample_shapes_and_bops() -> None:
    spec = ArchSpec(
        (2, 8, 8),
        (Pool2d("p", 2), Upsample2d("u", 2, "bilinear"), Upsample2d("n", 2, "nearest")),
    )
    assert [out for _, out in spec.shapes()] == [(2, 4, 4), (2, 8, 8), (2, 16, 16)]
    rep = compute_bops(spec, bits=8)
    by = {x.name: x.bops for x in rep.layers}
    assert by == {"p": 2 * 4 * 4 * 3 * 8, "u": 3 * 2 * 8 * 8 * 8, "n": 0.0}
    model = build_model(spec)
    assert model(torch.rand(1, 2, 8, 8)).shape == (1, 2, 16, 16)


def test_branch_bops_are_the_sum_of_both_decoders() -> None:
    spec = ptycho_cnn((1, 16, 16), [4], [4], 1, 1)
    rep = compute_bops(spec, bits=8)
    amp = sum(x.bops for x in rep.layers if x.name.startswith("amp"))
    ph = sum(x.bops for x in rep.layers if x.name.startswith("ph"))
    assert amp == ph > 0
    assert rep.parameters == count_parameters(build_model(spec))


@pytest.mark.parametrize(
    ("task", "name"), [("bragg", "mlp"), ("bragg", "cnn"), ("ptycho", "mlp"), ("ptycho", "cnn")]
)
def test_seed_spaces_sample_training_and_replay(task: str, name: str) -> None:
    space = get_space(task, name, size=16 if task == "ptycho" else None)
    assert space.samples_training
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    for _ in range(10):
        trial = study.ask()
        spec = space.sample(trial)
        train = space.sample_training(trial, max_epochs=7)
        assert train["batch_size"] in BATCH_SIZES and 1 <= train["epochs"] <= 7
        assert LR_RANGE[0] <= train["lr"] <= LR_RANGE[1]
        fixed = optuna.trial.FixedTrial(trial.params)  # FixedTrial replay: arch and training
        assert space.sample(fixed).digest == spec.digest
        assert space.sample_training(optuna.trial.FixedTrial(trial.params), 7) == train
        assert space.params_for(spec) is not None
        study.tell(trial, 0.0)


def test_other_spaces_sample_no_training() -> None:
    trial = optuna.create_study().ask()
    assert get_space("bragg", "block").sample_training(trial, 5) == {}
    assert get_space("jets").sample_training(trial, 5) == {}


def test_bragg_cnn_space() -> None:
    space = get_space("bragg", "cnn")
    params = {"conv_layers": 4, "dense_units": 0}
    params.update({f"conv{j}_filters": 8 for j in range(4)})
    spec = space.rebuild(params)
    sizes = [out[1] for _, out in spec.shapes() if len(out) == 3]
    assert sizes == [9, 7, 5, 3]  # valid convs while the map stays >= 3x3
    assert spec.output_size == 2
    assert space.params_for(builtin_archs()["braggnn"]) is None


def test_ptycho_spaces_follow_the_map_size() -> None:
    assert get_space("ptycho", "cnn", size=32).input_shape == (1, 32, 32)  # type: ignore[attr-defined]
    assert get_space("ptycho", "cnn", size=12).max_levels == 2  # type: ignore[attr-defined]
    with pytest.raises(HwloopError, match="odd"):
        get_space("ptycho", "cnn", size=15)
    spec = get_space("ptycho", "mlp", size=16).rebuild({"hidden_layers": 1, "fc0_units": 64})
    assert spec.output_size == 2 * 16 * 16
