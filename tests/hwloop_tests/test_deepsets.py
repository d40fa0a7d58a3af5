"""Deep Sets in arch specs, torch, BOPs and the search space; the seed's built-ins."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from hwloop import HwloopError
from hwloop.archs import Aggregate, ArchSpec, Linear, build_model, builtin_archs
from hwloop.archs._torch import count_parameters
from hwloop.bops import compute_bops
from hwloop.spaces import get_space

SEED_NAMES = ("deepsets-baseline", "deepsets-tiny", "deepsets-small", "deepsets-medium")


def _set_spec(method: str = "mean") -> ArchSpec:
    return ArchSpec(
        (8, 3),
        (
            Linear("phi0", 6, norm="batch", act="relu"),
            Linear("phi1", 4, act="leaky_relu"),
            Aggregate("agg", method),  # type: ignore[arg-type]
            Linear("out", 5),
        ),
    )


def test_builtins_exist_with_the_seed_sizes() -> None:
    archs = builtin_archs()
    for name in (*SEED_NAMES, "deepsets-large"):
        spec = archs[name]
        assert spec.task == "jets" and tuple(spec.input_shape) == (8, 3)
        assert spec.output_size == 5
        assert ArchSpec.loads(spec.dumps()).digest == spec.digest
        # the BOPs report's parameter count is torch's
        assert compute_bops(spec).parameters == count_parameters(build_model(spec))
    assert compute_bops(archs["deepsets-baseline"]).parameters == 3461  # seed Table 6
    assert round(compute_bops(archs["deepsets-tiny"]).total / 1e6, 2) == 0.41  # seed: 0.40


@pytest.mark.parametrize("method", ["mean", "max"])
def test_the_model_is_permutation_invariant(method: str) -> None:
    model = build_model(_set_spec(method)).eval()
    x = torch.randn(16, 8, 3)
    with torch.no_grad():
        a = model(x)
        b = model(x[:, torch.randperm(8)])
    torch.testing.assert_close(a, b)


def test_set_batch_norm_normalises_features_over_batch_and_elements() -> None:
    model = build_model(_set_spec()).train()
    norm = model.layers["phi0"][1]
    assert norm.num_features == 6  # one (gamma, beta) per feature, shared by the elements
    model(torch.randn(32, 8, 3) * 5 + 2)
    assert norm.running_mean.shape == (6,)


def test_bops_count_phi_once_per_element_and_the_aggregation() -> None:
    spec = _set_spec()
    rep = {x.name: x for x in compute_bops(spec, bits=8).layers}

    def dense(m: int, n: int) -> float:
        return m * n * (8 * 8 + 8 + 8 + math.log2(n))

    assert rep["phi0"].bops == pytest.approx(8 * dense(6, 3))
    assert rep["phi1"].bops == pytest.approx(8 * dense(4, 6))
    assert rep["agg"].bops == 4 * 7 * 8  # 7 additions of 8-bit values per feature
    assert rep["out"].bops == pytest.approx(dense(5, 4))
    assert rep["phi0"].parameters == 3 * 6 + 6 + 2 * 6  # batch norm over features


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ((Aggregate("agg"),), "aggregate needs a set input"),
        ((Linear("a", 4, norm="layer"), Aggregate("agg")), "takes norm 'batch' or none"),
        ((Linear("a", 4), Linear("b", 2)), "output is not a vector"),
    ],
)
def test_bad_set_specs_are_named(layers: tuple[object, ...], message: str) -> None:
    shape = (8,) if message.startswith("aggregate") else (8, 3)
    with pytest.raises(HwloopError, match=message):
        spec = ArchSpec(shape, layers)  # type: ignore[arg-type]
        _ = spec.output_size


def test_bad_aggregator_in_json() -> None:
    doc = _set_spec().to_json()
    doc["layers"][2]["method"] = "sum"
    with pytest.raises(HwloopError, match="method must be one of"):
        ArchSpec.from_json(doc)


def test_deepsets_space_expresses_the_seed_models() -> None:
    space = get_space("jets")
    assert space.name == "deepsets"
    archs = builtin_archs()
    for name in ("deepsets-baseline", "deepsets-small", "deepsets-medium", "deepsets-large"):
        params = space.params_for(archs[name])
        assert params is not None, name
        assert space.rebuild(params).digest == archs[name].digest
    # the seed's tiny model has a GELU, which Table 8's activations do not include
    assert space.params_for(archs["deepsets-tiny"]) is None
    assert "activations" in space.reason(archs["deepsets-tiny"])
    bigger = replace(archs["deepsets-small"], layers=archs["deepsets-small"].layers[:-1])
    assert space.params_for(bigger) is None  # the last layer is not the 5-class output


def test_jets_spaces_and_errors() -> None:
    assert get_space("jets", "mlp").name == "mlp"
    with pytest.raises(HwloopError, match="unknown space 'block' for task 'jets'"):
        get_space("jets", "block")


@pytest.mark.slow
def test_jets_search_through_the_cli(tmp_path: Path) -> None:
    """`hwloop search --task jets` on the shipped sample: the Deep Sets space by default, the
    seed's models enqueued, a front of Deep Sets written."""
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "hwloop.cli.main", "search", "--task", "jets", "--trials", "3"]
        + ["--epochs", "1", "--limit", "0", "--population", "2", "--enqueue-baselines"]
        + ["--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "jets-deepsets-vu13p" in proc.stdout
    front = json.loads((out / "pareto.json").read_text())
    members = front["front"] if isinstance(front, dict) else front
    assert members
    for m in members:
        ops = [layer["op"] for layer in m["arch"]["layers"]]
        assert "aggregate" in ops and 0 <= m["metric"] <= 1


def test_a_bragg_space_for_jets_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from hwloop.cli.main import main

    code = main(["search", "--task", "jets", "--space", "block", "--trials", "1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "--space 'block' is not a space of task 'jets'" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tune", "deepsets-tiny", "--task", "bragg"], "task 'bragg' has inputs (1, 11, 11)"),
        (["compress", "deepsets-tiny"], "layer agg (aggregate) has no quantised implementation"),
    ],
)
def test_local_search_errors_for_deep_sets(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hwloop.cli.main import main

    code = main([*args, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err


def test_tune_takes_the_task_of_the_arch(tmp_path: Path) -> None:
    from hwloop.local import TuneConfig, run_tune

    res = run_tune(
        TuneConfig("deepsets-tiny", trials=1, epochs=1, limit=None, out=tmp_path), progress=False
    )
    doc = json.loads((tmp_path / "tune.json").read_text())["best"]
    assert doc["task"] == "jets" and doc["metric"] == "error_rate"
    assert 0.0 <= res.best_value <= 1.0
