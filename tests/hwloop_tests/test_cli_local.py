"""``hwloop tune`` and ``hwloop compress`` end to end: real Optuna study, real Brevitas training,
real hls4ml emulation, tiny budgets."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import torch

from hwloop.archs import ArchSpec, Conv2d, Flatten, Linear
from hwloop.local import load_compressed, resolve_local_arch

MINI = ArchSpec(
    (1, 11, 11),
    (
        Conv2d("stem", 4, 3, norm="batch", act="relu"),
        Flatten("flat"),
        Linear("fc0", 16, act="leaky_relu"),
        Linear("out", 2),
    ),
    name="mini",
)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hwloop.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=900,
        env=os.environ.copy(),
    )


@pytest.mark.slow
def test_tune_then_compress_end_to_end_and_resume(tmp_path: Path) -> None:
    arch = tmp_path / "archs" / "mini.json"
    arch.parent.mkdir()
    MINI.save(arch)
    tune_out = tmp_path / "tune"
    common = ["tune", str(arch), "--epochs", "3", "--limit", "400", "--out", str(tune_out)]
    r = run(*common, "--trials", "3")
    assert r.returncode == 0, r.stderr
    for name in ("tune.csv", "tune.json", "tune_history.png", "mini.json", "mini.train.json"):
        assert (tune_out / name).is_file(), name
    best = json.loads((arch.parent / "mini.train.json").read_text())  # beside the arch file
    assert best == json.loads((tune_out / "mini.train.json").read_text())
    assert set(best["config"]) >= {"lr", "batch_size", "optimizer", "weight_decay", "epochs"}
    assert best["default_val_metric"] is not None  # trial 0 is the default config
    r = run(*common, "--trials", "4")  # resumes: one more trial
    assert r.returncode == 0, r.stderr
    study = optuna.load_study(study_name="tune-mini-bragg", storage=f"sqlite:///{tune_out}/tune.db")
    assert len(study.trials) == 4
    with (tune_out / "tune.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 4
    # the resumed trial samples afresh (a seed per worker) and may be the new best
    best = json.loads((arch.parent / "mini.train.json").read_text())

    out = tmp_path / "compress"
    common = ["compress", str(arch), "--bits", "4", "--epochs", "1", "--limit", "400"]
    common += ["--out", str(out)]
    r = run(*common, "--iterations", "2")
    assert r.returncode == 0, r.stderr
    report = json.loads((out / "compress.json").read_text())
    assert report["train_config"]["source"] == str(arch.parent / "mini.train.json")
    assert report["train_config"]["lr"] == best["config"]["lr"]
    pts = report["points"]
    assert [(p["bits"], p["iteration"]) for p in pts] == [(4, 0), (4, 1), (4, 2)]
    assert pts[2]["sparsity"] >= 0.35 and pts[2]["nonzero"] < pts[0]["nonzero"]
    assert pts[2]["bops"] < pts[0]["bops"] < report["reference"]["bops"]
    assert all(p["predicted"]["lut"][1] > 0 for p in pts)  # the shipped vu13p surrogate
    for name in ("compress.csv", "metric_vs_bops.png", "metric_vs_lut.png"):
        assert (out / name).is_file(), name
    chosen = out / "chosen"
    cfg = json.loads((chosen / "config.json").read_text())
    assert cfg["hls4ml"]["converted"] and cfg["hls4ml"]["exact"], cfg["hls4ml"]
    assert (chosen / "model.qonnx.onnx").is_file()
    qmodel, doc = load_compressed(chosen)
    assert doc["bits"] == 4
    with torch.no_grad():
        nz = sum(
            int(torch.count_nonzero(m.quant_weight().value)) for m in qmodel.main_layers().values()
        )
    assert nz == cfg["nonzero"]

    first = (out / "state" / "4b-i01.safetensors").stat().st_mtime_ns
    r = run(*common, "--iterations", "3")  # extends the run by one iteration, no retraining
    assert r.returncode == 0, r.stderr
    assert (out / "state" / "4b-i01.safetensors").stat().st_mtime_ns == first
    report = json.loads((out / "compress.json").read_text())
    assert [p["iteration"] for p in report["points"]] == [0, 1, 2, 3]
    assert report["points"][:3] == pts  # the earlier points as they were
    r = run(*common[:-2], "--out", str(out), "--iterations", "3", "--prune-fraction", "0.5")
    assert r.returncode == 2 and "other settings (prune_fraction)" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.slow
def test_ctrl_c_keeps_compress_state_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "c"
    args = ["compress", "nac-tiny", "--bits", "4", "--epochs", "1", "--limit", "400"]
    args += ["--no-hls4ml", "--out", str(out)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "hwloop.cli.main", *args, "--iterations", "40"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    points = out / "state" / "points.json"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.3)
        if points.is_file() and len(json.loads(points.read_text() or "[]")) >= 3:
            break
    assert proc.poll() is None, "compress ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    kept = json.loads(points.read_text())
    assert len(kept) >= 3
    labels = {"float" if p["iteration"] < 0 else f"4b-i{p['iteration']:02d}" for p in kept}
    for label in labels:  # every recorded point has its checkpoint
        assert (out / "state" / f"{label}.safetensors").is_file()
    done = max(p["iteration"] for p in kept)
    r = run(*args, "--iterations", str(done + 1))
    assert r.returncode == 0, r.stderr
    report = json.loads((out / "compress.json").read_text())
    assert [p["iteration"] for p in report["points"]] == list(range(done + 2))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["compress", "braggnn", "--bits", "4"], "conv_attention"),
        (["compress", "nac-tiny", "--bits", "4,x"], "--bits: a comma-separated list"),
        (["compress", "nac-tiny", "--bits", "1"], "each bit width must be in 2..16"),
        (["compress", "nac-tiny", "--tolerance", "2"], "--tolerance is a fraction"),
        (["compress", "nac-tiny", "--target", "vu9000"], "unknown target 'vu9000'"),
        (["tune", "nope.json"], "cannot read arch spec nope.json"),
        (["tune", "nac-tiny", "--trials", "0"], "--trials must be at least 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    r = run(*args)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_arch_from_a_search_front(tmp_path: Path) -> None:
    front = tmp_path / "pareto.json"
    member = {"trial": 7, "arch": MINI.with_name("").to_json(), "metric": 0.3}
    front.write_text(json.dumps({"front": [member]}))
    spec, path = resolve_local_arch(f"{front}:7")
    assert spec.digest == MINI.digest and spec.name == "trial7" and path is None
    r = run("tune", f"{front}:8")
    assert r.returncode == 2 and "no front member of trial 8 (front: 7)" in r.stderr


@pytest.mark.slow
def test_chosen_design_goes_through_the_open_flow(tmp_path: Path) -> None:
    """--synthesize: the chosen model's design (its exact formats and pruned weights) is
    synthesised by the open flow and stored in the cache."""
    arch = tmp_path / "flat.json"
    ArchSpec(
        (1, 11, 11), (Flatten("flat"), Linear("fc0", 4, act="relu"), Linear("out", 2)), name="flat"
    ).save(arch)
    out = tmp_path / "c"
    r = run(
        "compress", str(arch), "--bits", "4", "--iterations", "1", "--epochs", "1",
        "--limit", "400", "--synthesize", "--tolerance", "0.9", "--out", str(out),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    cfg = json.loads((out / "chosen" / "config.json").read_text())
    synth = cfg["synthesis"]
    assert synth["flow"] == "open" and synth["status"] == "ok", synth
    assert synth["lut"] > 0 and synth["latency_ns"] > 0
    assert cfg["hls4ml"]["exact"]
    # issue 25: the real result is shown, not only written into compress.json
    shown = f"real open synthesis (ok, cache key {synth['key']}): LUT {synth['lut']:,.0f}"
    assert shown in r.stdout
