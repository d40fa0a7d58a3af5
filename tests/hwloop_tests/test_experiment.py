"""Experiment files: the schema's errors name their key, data files are read and checked, the
file task trains on them, and the built-in tasks are expressible as experiment files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from hwloop import HwloopError
from hwloop.cli.main import main
from hwloop.experiment import apply_sets, dump_experiment, load_experiment, parse_experiment
from hwloop.spaces import get_space
from hwloop.tasks import get_task
from hwloop.tasks.file import FileTask

REPO = Path(__file__).resolve().parents[2]


def write(path: Path, body: str) -> Path:
    path.write_text(body)
    return path


def classification_data(tmp_path: Path, n: int = 300, classes: int = 3) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    y = np.argmax(x[:, :classes], axis=1)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    return tmp_path / "d.npz"


BASE = """
name = "t"
[data]
path = "d.npz"
[task]
kind = "classification"
classes = 3
[space]
kind = "mlp"
"""


def test_flow_and_strategy_are_checked_against_synth_before_a_run(tmp_path: Path) -> None:
    """The schema keeps them as text (it sits below hwloop.synth); a run, a search and predict
    check them against synth's registry, one line, before anything is written."""
    from hwloop.pipeline import run_experiment
    from hwloop.search import SearchConfig

    with pytest.raises(HwloopError, match="unknown flow 'quartus'; choose from open, vivado"):
        SearchConfig(flow="quartus")
    with pytest.raises(HwloopError, match="unknown strategy 'fast'"):
        SearchConfig(strategy="fast")
    classification_data(tmp_path)
    path = write(tmp_path / "e.toml", BASE + '[hardware]\nflow = "quartus"\n')
    exp = load_experiment(path)  # the schema takes it as text
    out = tmp_path / "out"
    with pytest.raises(HwloopError, match="unknown flow 'quartus'"):
        run_experiment(exp, out)
    assert not out.exists()


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["space.filters=[4]"], "space.filters: unknown key"),
        (["colour.key=1"], "colour: unknown key"),
        (["task.classes=1"], "task.classes: Input should be greater than or equal to 2"),
        (["search.trials=0"], "search.trials: Input should be greater than or equal to 1"),
        (["hardware.target='zz9'"], "hardware.target: unknown target 'zz9'"),
        (["hardware.bits=64"], "hardware.bits: Input should be less than or equal to 32"),
        (["data.fractions=[0.5, 0.5, 0.5]"], "data.fractions: train, val and test fractions"),
        (["data.path='d.csv'"], "data.path: d.csv: a data file is one of"),
        (["task.metric='mae'"], "task: metric 'mae' is not one of classification's"),
        (["search.objectives=['lut']"], "search.objectives: a list starting with 'metric'"),
        (["space.kind='rnn'"], "space: Input tag 'rnn'"),
        (["data.window.stop=0"], "data.window.stop: Input should be greater than or equal to 1"),
    ],
)
def test_schema_errors_name_the_key(tmp_path: Path, sets: list[str], message: str) -> None:
    exp = write(tmp_path / "e.toml", BASE)
    with pytest.raises(HwloopError) as err:
        load_experiment(exp, sets)
    line = str(err.value)
    assert "\n" not in line
    assert line.startswith(f"{exp}: {message}"), line


def test_syntax_missing_file_and_yaml(tmp_path: Path) -> None:
    with pytest.raises(HwloopError, match="does not exist"):
        load_experiment(tmp_path / "nope.toml")
    bad = write(tmp_path / "bad.toml", "name = \n[data")
    with pytest.raises(HwloopError, match="not valid TOML"):
        load_experiment(bad)
    with pytest.raises(HwloopError, match="missing key"):
        load_experiment(write(tmp_path / "m.toml", 'name = "x"\n'))
    y = write(
        tmp_path / "e.yaml",
        "name: t\ndata: {path: d.npz}\ntask: {kind: regression}\nspace: {kind: mlp}\n",
    )
    assert load_experiment(y).task.kind == "regression"


def test_sets_parse_toml_values_and_refuse_bad_paths() -> None:
    doc = apply_sets({"a": {"b": 1}}, ["a.b=2", "a.c=[1, 2]", "a.d=word", "e.f=true"])
    assert doc == {"a": {"b": 2, "c": [1, 2], "d": "word"}, "e": {"f": True}}
    with pytest.raises(HwloopError, match="expected section.key=value"):
        apply_sets({}, ["novalue"])
    with pytest.raises(HwloopError, match="is a value, not a section"):
        apply_sets({"a": 1}, ["a.b=2"])


def test_dump_round_trips_with_absolute_data_paths(tmp_path: Path) -> None:
    exp = load_experiment(
        write(tmp_path / "e.toml", BASE), ["data.window.stop=4", "hardware.max_util=0.5"]
    )
    copy = write(tmp_path / "sub.toml", dump_experiment(exp))
    again = load_experiment(copy)
    assert again.data.path == (tmp_path / "d.npz").resolve()
    assert again.model_dump(exclude={"data"}) == exp.model_dump(exclude={"data"})
    assert again.data.window == exp.data.window


# ---- data files -----------------------------------------------------------------------------


def task_for(tmp_path: Path, sets: list[str] = (), body: str = BASE) -> FileTask:  # type: ignore[assignment]
    return FileTask(load_experiment(write(tmp_path / "e.toml", body), list(sets)))


def test_npz_classification_task_trains_reports_and_normalises(tmp_path: Path) -> None:
    classification_data(tmp_path)
    task = task_for(tmp_path, ["data.normalize='standard'"])
    assert (task.input_shape, task.output_size, task.metric_name) == ((6,), 3, "error_rate")
    d = task.load()
    assert (len(d.train), len(d.val), len(d.test)) == (240, 30, 30)
    # statistics from the training split only
    assert np.allclose(d.train.x.mean(axis=0), 0, atol=1e-5)
    assert not np.allclose(d.val.x.mean(axis=0), 0, atol=1e-3)
    logits = torch.nn.functional.one_hot(torch.as_tensor(d.val.y).long(), 3).float()
    rep = task.report(logits, torch.as_tensor(d.val.y))
    assert rep["error_rate"] == 0.0 and rep["accuracy"] == 1.0
    assert {"auc_0", "auc_1", "auc_2"} <= set(rep) and rep["auc_0"] == pytest.approx(1.0)
    assert not task.has_sample_errors
    what, value = task.reference(d)
    assert what == "the most frequent class" and 0.3 < value < 0.9
    assert task.scaling()["inputs"]["mode"] == "standard"


def test_regression_metrics_are_in_the_datas_units(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    y = np.stack([x[:, 0] * 100 + 500, x[:, 1]], axis=1)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    body = BASE.replace('kind = "classification"\nclasses = 3', 'kind = "regression"')
    for metric, expect in (("mae", 1.5), ("mse", 4.5), ("distance", np.sqrt(9 + 0) / 1)):
        task = task_for(tmp_path, [f"task.metric='{metric}'", "data.normalize_targets=true"], body)
        d = task.load()
        target = torch.as_tensor(d.val.y)
        # an error of 3 units on the first output, none on the second
        pred = target.clone()
        pred[:, 0] += 3.0 / float(task.y_scaling.std[0])  # type: ignore[union-attr]
        assert task.metric(pred, target) == pytest.approx(expect, rel=1e-4), metric
        assert task.has_sample_errors and task.sample_errors(pred, target).shape == (len(target),)


def test_other_formats_and_splits(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(90, 2, 5)).astype(np.float32)
    y = rng.integers(0, 2, 90)
    split = np.repeat([0, 1, 2], 30)
    body = BASE.replace("classes = 3", "classes = 2")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    t = task_for(tmp_path, ["data.path='x.npy'", "data.y_path='y.npy'"], body)
    assert t.input_shape == (2, 5)
    import h5py

    with h5py.File(tmp_path / "d.h5", "w") as f:
        f["inputs"], f["labels"], f["split"] = x, y, split
    t = task_for(
        tmp_path,
        ["data.path='d.h5'", "data.x='inputs'", "data.y='labels'", "data.split='key'"],
        body,
    )
    assert [len(p) for p in (t.load().train, t.load().val, t.load().test)] == [30, 30, 30]
    table = pa.table(
        {"a": x[:, 0, 0], "b": x[:, 0, 1], "label": y, "split": ["train", "val", "test"] * 30}
    )
    pq.write_table(table, tmp_path / "d.parquet")
    t = task_for(
        tmp_path,
        [
            "data.path='d.parquet'",
            "data.x=['a', 'b']",
            "data.y='label'",
            "data.split='key'",
        ],
        body,
    )
    assert t.input_shape == (2,) and len(t.load().val) == 30
    np.savez(
        tmp_path / "s.npz",
        **{f"x_{s}": x[i * 30 : (i + 1) * 30] for i, s in enumerate(("train", "val", "test"))},
        **{f"y_{s}": y[i * 30 : (i + 1) * 30] for i, s in enumerate(("train", "val", "test"))},
    )
    t = task_for(tmp_path, ["data.path='s.npz'", "data.split='suffix'"], body)
    assert np.array_equal(t.load().val.x, x[30:60])


def test_window_reshape_and_average(tmp_path: Path) -> None:
    x = np.arange(40 * 20, dtype=np.float32).reshape(40, 20)
    np.savez(tmp_path / "d.npz", x=x, y=np.zeros(40, int))
    t = task_for(
        tmp_path,
        [
            "data.shape=[2, 10]",
            "data.window.start=2",
            "data.window.stop=8",
            "data.window.step=3",
            "data.window.average=true",
        ],
    )
    assert t.input_shape == (2, 2)
    first = t.arrays.x[0]
    assert np.allclose(first, [[3.0, 6.0], [13.0, 16.0]])  # means of 2..4, 5..7 per row


@pytest.mark.parametrize(
    ("make", "sets", "message"),
    [
        (None, ["data.path='absent.npz'"], "data.path: .*absent.npz does not exist"),
        ("garbage", [], "cannot read data file"),
        ("short_y", [], "300 input samples but 299 targets"),
        ("nan", [], "2 samples of 'x' hold NaN or inf \\(the first is sample 3\\)"),
        ("big_label", [], "label 7 of sample 0 is not a class in 0..2"),
        ("float_label", [], "label 0.5 of sample 0 is not a class"),
        (None, ["data.x='inputs'"], "data.x: no array 'inputs' in"),
        ("no_val", ["data.split='key'"], "data.split: the val part of .* is empty"),
        (None, ["data.shape=[4, 4]"], "data.shape: \\[4, 4\\] holds 16 values"),
        (None, ["data.window.start=9"], "data.window: 9:6 is outside"),
        (None, ["data.split='key'"], "data.split_key: no array 'split'"),
    ],
)
def test_data_errors_are_one_line(
    tmp_path: Path, make: str | None, sets: list[str], message: str
) -> None:
    path = classification_data(tmp_path)
    x, y = np.load(path)["x"], np.load(path)["y"]
    if make == "garbage":
        path.write_bytes(b"PK\x03\x04 not really a zip")
    elif make == "short_y":
        np.savez(path, x=x, y=y[:-1])
    elif make == "nan":
        x[3, 0], x[9, 2] = np.nan, np.inf
        np.savez(path, x=x, y=y)
    elif make == "big_label":
        y[0] = 7
        np.savez(path, x=x, y=y)
    elif make == "float_label":
        np.savez(path, x=x, y=np.where(np.arange(len(y)) == 0, 0.5, y))
    elif make == "no_val":
        np.savez(path, x=x, y=y, split=np.where(np.arange(len(y)) % 2 == 0, 0, 2))
    with pytest.raises(HwloopError, match=message) as err:
        task_for(tmp_path, sets)
    assert "\n" not in str(err.value)


def test_space_must_fit_the_input_shape(tmp_path: Path) -> None:
    classification_data(tmp_path)
    exp = write(tmp_path / "e.toml", BASE.replace('kind = "mlp"', 'kind = "cnn"'))
    with pytest.raises(HwloopError, match=r"space.kind: 'cnn' takes \(channels, height, width\)"):
        get_space(str(exp))
    exp = write(tmp_path / "e.toml", BASE.replace('kind = "mlp"', 'kind = "deepsets"'))
    with pytest.raises(HwloopError, match="space.kind: 'deepsets' takes"):
        get_space(str(exp))
    np.savez(tmp_path / "d.npz", x=np.zeros((30, 1, 4, 4)), y=np.zeros(30, int))
    exp = write(tmp_path / "e.toml", BASE.replace('kind = "mlp"', 'kind = "block"'))
    with pytest.raises(HwloopError, match="square images of at least 5x5"):
        get_space(str(exp))


def test_cli_errors_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    classification_data(tmp_path)
    exp = write(tmp_path / "e.toml", BASE)
    assert main(["run", str(exp), "--set", "space.depth=3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"hwloop: error: {exp}: space.depth: unknown key"]
    np.savez(tmp_path / "d.npz", x=np.full((30, 2), np.nan), y=np.zeros(30, int))
    assert main(["run", str(exp)]) == 2
    assert "hold NaN or inf" in capsys.readouterr().err
    assert main(["search", "--task", str(tmp_path / "none.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err


# ---- the built-in tasks as experiment files ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "options", "limit"), [("jets", {}, None), ("bragg", {}, 300), ("ptycho", {}, 192)]
)
def test_builtin_tasks_as_experiment_files(
    tmp_path: Path, name: str, options: dict[str, object], limit: int | None
) -> None:
    """`hwloop data export TASK` + examples/TASK.toml give the built-in task's exact data, and
    its space builds on it: the schema covers the three tasks."""
    shutil.copy(REPO / "examples" / f"{name}.toml", tmp_path)
    args = ["data", "export", name, str(tmp_path / f"{name}.npz")]
    args += ["--limit", str(limit)] if limit else []
    args += ["--size", "32"] if name == "ptycho" else []
    assert main(args) == 0
    exp = str(tmp_path / f"{name}.toml")
    task = get_task(exp)
    builtin = get_task(name, **({"size": 32} if name == "ptycho" else options))
    ours, theirs = task.load(), builtin.load(limit=limit)
    scale = float(getattr(builtin, "scale", 1.0))
    for a, b in ((ours.train, theirs.train), (ours.val, theirs.val), (ours.test, theirs.test)):
        assert np.array_equal(a.x, b.x)
        if task.experiment.data.normalize_targets:  # type: ignore[attr-defined]
            a_y = task.y_scaling.mean + a.y * task.y_scaling.std  # type: ignore[attr-defined]
            assert np.allclose(a_y, b.y * scale, atol=1e-4)
        else:
            assert np.array_equal(a.y, b.y * scale)
    assert (task.input_shape, task.output_size) == (builtin.input_shape, builtin.output_size)
    space = get_space(exp, loaded=task)
    assert space.task == task.path  # type: ignore[attr-defined]
    if name == "bragg":  # the same metric, in pixels: both models predict pixel (1, 2)
        px = torch.tensor([[1.0, 2.0]]).expand(len(ours.val), 2)
        sc = task.y_scaling  # type: ignore[attr-defined]
        ours_pred = (px - torch.from_numpy(sc.mean)) / torch.from_numpy(sc.std)
        got = task.metric(ours_pred, torch.as_tensor(ours.val.y))
        expect = builtin.metric(px / 11, torch.as_tensor(theirs.val.y))
        assert got == pytest.approx(expect, rel=1e-4)


def test_examples_parse() -> None:
    for path in sorted((REPO / "examples").glob("*.toml")):
        exp = load_experiment(path)
        assert exp.name == path.stem
        assert parse_experiment(exp.model_dump()).name == exp.name


# ---- hwloop init ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x_shape", "y", "kind", "space"),
    [
        ((50, 1, 9, 9), np.arange(50) % 4, "classification", "cnn"),
        ((50, 8, 3), np.arange(50) % 2, "classification", "deepsets"),
        ((50, 200, 2), np.linspace(0, 1, 50), "regression", "mlp"),
        ((50, 5), np.ones((50, 3)) * 0.5, "regression", "mlp"),
    ],
)
def test_init_infers_kind_and_space(
    tmp_path: Path, x_shape: tuple[int, ...], y: np.ndarray, kind: str, space: str
) -> None:
    from hwloop.pipeline import experiment_text, infer

    np.savez(tmp_path / "d.npz", inputs=np.zeros(x_shape, np.float32), labels=y)
    inf = infer(tmp_path / "d.npz")
    assert (inf.x, inf.y, inf.kind, inf.space) == ("inputs", "labels", kind, space)
    text = experiment_text("t", tmp_path / "d.npz", inf, tmp_path)
    exp = load_experiment(write(tmp_path / "t.toml", text))
    assert exp.task.kind == kind and exp.space.kind == space
    task = FileTask(exp)
    get_space(str(tmp_path / "t.toml"), loaded=task)  # the space fits the data


def test_init_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.savez(tmp_path / "d.npz", a=np.zeros((10, 2)), b=np.zeros(10))
    assert main(["init", str(tmp_path / "e.toml"), "--data", str(tmp_path / "d.npz")]) == 2
    assert "cannot tell which array holds the targets" in capsys.readouterr().err
    args = ["init", str(tmp_path / "e.toml"), "--data", str(tmp_path / "d.npz")]
    assert main([*args, "--x", "a", "--y", "c"]) == 2
    assert "--y: no array 'c'" in capsys.readouterr().err
    assert main([*args, "--x", "a", "--y", "b"]) == 0
    assert main(["init", str(tmp_path / "f.toml"), "--data", str(tmp_path / "none.npz")]) == 2
    assert "does not exist" in capsys.readouterr().err


# ---- found in review (each failed before its fix) ------------------------------------------


def test_limit_draws_from_every_split_part(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.normal(size=(1000, 3)), y=rng.integers(0, 3, 1000))
    task = task_for(tmp_path)
    d = task.load(limit=200)
    assert len(d.train) > 120 and len(d.val) > 5 and len(d.test) > 5


def test_non_bmp_text_survives_the_copy_in_the_output_folder(tmp_path: Path) -> None:
    classification_data(tmp_path)
    exp = load_experiment(write(tmp_path / "e.toml", BASE), ["description='T1 readout 🚀 \\u007f'"])
    again = load_experiment(write(tmp_path / "copy.toml", dump_experiment(exp)))
    assert again.description == exp.description


def test_init_npy_pairs_one_hot_and_string_labels(tmp_path: Path) -> None:
    from hwloop.pipeline import experiment_text, infer

    x = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.arange(60) % 2)
    inf = infer(tmp_path / "x.npy", y=str(tmp_path / "y.npy"))
    text = experiment_text("p", tmp_path / "x.npy", inf, tmp_path)
    assert FileTask(load_experiment(write(tmp_path / "p.toml", text))).output_size == 2
    np.savez(tmp_path / "oh.npz", x=x, y=np.eye(3, dtype=int)[np.arange(60) % 3])
    assert infer(tmp_path / "oh.npz").kind == "classification"
    np.savez(tmp_path / "s.npz", x=x, y=np.array(["a", "b"] * 30))
    with pytest.raises(HwloopError, match="encode class labels as integers"):
        infer(tmp_path / "s.npz")


def test_force_twice_keeps_both_old_studies_and_sets_local_aside(tmp_path: Path) -> None:
    from hwloop.pipeline import claim_output

    classification_data(tmp_path)
    out = tmp_path / "out"
    for units in ("[4]", "[8]", "[16]"):
        exp = load_experiment(write(tmp_path / "e.toml", BASE), [f"space.units={units}"])
        claim_output(exp, out, force=True)
        (out / "study.db").write_text(units)  # a stand-in for the study the run would write
        (out / "local").mkdir(exist_ok=True)
        (out / "local" / "state").write_text(units)
    kept = sorted(p.read_text() for p in out.glob("previous-*-study.db"))
    assert kept == ["[4]", "[8]"]
    assert sorted(p.read_text() for p in out.glob("previous-*-local/state")) == ["[4]", "[8]"]
