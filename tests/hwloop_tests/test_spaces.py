"""The SearchSpace contract, run for every registered space, plus block-space specifics."""

from __future__ import annotations

import optuna
import pytest
import torch

from hwloop import HwloopError
from hwloop.archs import ConvAttention, build_model, builtin_archs
from hwloop.spaces import SPACES, SearchSpace, get_space

ALL = [(task, name) for task, names in SPACES.items() for name in names]


@pytest.fixture(params=ALL, ids=[f"{t}-{n}" for t, n in ALL])
def space(request: pytest.FixtureRequest) -> SearchSpace:
    task, name = request.param
    return get_space(task, name, size=16 if task == "ptycho" else None)  # small maps: fast


def test_random_trials_build_and_replay(space: SearchSpace) -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    kinds: set[str] = set()
    for _ in range(60):
        trial = study.ask()
        spec = space.sample(trial)
        kinds.update(layer.op for layer in spec.layers)
        # the trial's params rebuild the exact architecture
        assert space.rebuild(trial.params).digest == spec.digest
        assert space.params_for(spec) is not None
        model = build_model(spec).eval()
        with torch.no_grad():
            out = model(torch.rand(3, *spec.input_shape))
        assert out.shape == (3, spec.output_size)
        study.tell(trial, 0.0)
    assert "linear" in kinds or space.task == "ptycho"
    if space.task == "ptycho" and space.name == "cnn":
        assert {"conv2d", "pool2d", "branches"} <= kinds
    if space.name == "block":
        assert {"conv2d", "conv_attention"} <= kinds


def test_builtins_in_space_round_trip(space: SearchSpace) -> None:
    inside = 0
    for spec in builtin_archs().values():
        if spec.task != space.task:
            continue
        if spec.input_shape != space.input_shape:  # type: ignore[attr-defined]
            spec = spec.with_input_shape(space.input_shape)  # type: ignore[attr-defined]
        params = space.params_for(spec)
        if params is None:
            assert space.reason(spec)
            continue
        inside += 1
        assert space.rebuild(params).digest == spec.digest
    expresses_builtin = space.name == "block" or (space.task, space.name) == ("ptycho", "cnn")
    assert inside >= (1 if expresses_builtin else 0)


def test_block_space_expresses_the_published_models() -> None:
    space = get_space("bragg", "block")
    archs = builtin_archs()
    for name in ("braggnn", "nac-base", "nac-tiny", "nac-small", "nac-large"):
        assert space.params_for(archs[name]) is not None, name
    assert space.params_for(archs["nac-medium"]) is None  # 24-channel stem is off the grid


def test_block_space_uses_padding_only_when_needed() -> None:
    space = get_space("bragg", "block")
    params = {"stem_channels": 4, "head_layers": 1, "fc0_norm": "none", "fc0_act": "none"}
    for b in range(3):
        params[f"b{b}_type"] = "conv"
        for j in range(2):
            params.update(
                {
                    f"b{b}_conv{j}_kernel": 3,
                    f"b{b}_conv{j}_channels": 2,
                    f"b{b}_conv{j}_norm": "batch",
                    f"b{b}_conv{j}_act": "relu",
                }
            )
    spec = space.rebuild(params)
    sizes = [out[1] for _, out in spec.shapes() if len(out) == 3]
    assert sizes == [9, 7, 5, 3, 3, 3, 3]


def test_attention_block_sampled() -> None:
    space = get_space("bragg", "block")
    params = space.params_for(builtin_archs()["braggnn"])
    assert params is not None and params["b0_type"] == "conv_attention"
    spec = space.rebuild(params)
    assert any(isinstance(layer, ConvAttention) and layer.hidden == 32 for layer in spec.layers)


def test_unknown_space() -> None:
    with pytest.raises(HwloopError, match="unknown space"):
        get_space("bragg", "transformer")


def test_a_registered_space_is_searchable_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry behind get_space (issue 20): a new space is one register_space call."""
    import hwloop.spaces as spaces

    monkeypatch.setattr(spaces, "SPACES", dict(spaces.SPACES))
    monkeypatch.setattr(spaces, "SPACE_HELP", dict(spaces.SPACE_HELP))
    monkeypatch.setattr(spaces, "_BUILDERS", dict(spaces._BUILDERS))
    spaces.register_space(
        "jets", "wide-mlp", "a wide MLP", lambda size: spaces.MLPSpace("jets", (8, 3), 5)
    )
    assert spaces.SPACES["jets"] == ("deepsets", "mlp", "wide-mlp")
    assert spaces.default_space("jets") == "deepsets"
    assert isinstance(spaces.get_space("jets", "wide-mlp"), spaces.MLPSpace)
    with pytest.raises(HwloopError, match="unknown space 'nope'"):
        spaces.get_space("jets", "nope")
