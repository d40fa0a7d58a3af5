"""The SearchSpace contract, run for every registered space, plus block-space specifics."""

from __future__ import annotations

import optuna
import pytest
import torch

from hwloop import HwloopError
from hwloop.archs import ConvAttention, build_model, builtin_archs
from hwloop.spaces import SearchSpace, get_space, task_spaces
from hwloop.tasks import TASKS

ALL = [(task, c.name) for task in TASKS for c in task_spaces(task)]


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


def test_a_new_task_declares_its_spaces_in_one_place(monkeypatch: pytest.MonkeyPatch) -> None:
    """A task is one module (issue 20): its class declares its spaces; get_space, the search's
    default space and its checks read them. (A built-in is found as hwloop/tasks/NAME/task.py.)"""
    import hwloop.tasks as tasks
    from hwloop.search import SearchConfig
    from hwloop.spaces import MLPSpace, space_names
    from hwloop.tasks import SpaceChoice, Task, TaskData

    class Toy(Task):
        name = "toy"
        input_shape = (4, 3)
        output_size = 2
        metric_name = "mse"
        spaces = (
            SpaceChoice("wide", "mlp", "a wide MLP", {"units": (64, 128)}),
            SpaceChoice("sets", "deepsets", "Deep Sets over the 4 rows"),
        )

        def load(self, limit: int | None = None, seed: int = 0, progress: bool = False) -> TaskData:
            raise NotImplementedError  # never trained here

        def loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.mse_loss(pred, target)

        def metric(self, pred: torch.Tensor, target: torch.Tensor) -> float:
            return float(self.loss(pred, target))

    monkeypatch.setitem(tasks._REGISTRY, "toy", Toy)
    assert space_names("toy") == ("wide", "sets")
    space = get_space("toy")
    assert isinstance(space, MLPSpace) and space.input_shape == (4, 3)
    assert SearchConfig(task="toy").space == "wide"
    with pytest.raises(HwloopError, match="not a space of task 'toy'"):
        SearchConfig(task="toy", space="cnn")
    with pytest.raises(HwloopError, match="unknown space 'nope'"):
        get_space("toy", "nope")
