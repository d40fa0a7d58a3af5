"""The piece-level surrogate of the open flow: its descriptor planner makes the real planner's
plan piece for piece (no da4ml), and the model, trained on the unique pieces of real large runs
(the shipped open-large.parquet), composes designs like the synthesiser adds them up."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from hwloop.archs import Aggregate, ArchSpec, Conv1d, Conv2d, ConvAttention, Flatten, Linear
from hwloop.prediction._piece_eval import PieceSet, by_size, piece_set
from hwloop.synth import HardwareConfig, random_design, trace_pieces
from hwloop.synth._open import OpenSynthesizer
from hwloop.synth._pieces import Planner
from surrogates import (
    PIECE_KINDS,
    FeatureError,
    PieceSurrogate,
    load_surrogate,
    piece_rows,
    plan_pieces,
)
from synth_cache import SqlCache, import_paths

PART = "xcvu13p-flga2577-2-e"
DATA = Path(__file__).resolve().parents[2] / "surrogates/data/calibration"
LARGE = DATA / "open-large.parquet"
SPECS = {
    "wide mlp": ArchSpec((300,), (Linear("fc0", 20, act="relu"), Linear("out", 3))),
    "conv + layer norm": ArchSpec(
        (1, 9, 9),
        (
            Conv2d("c0", 3, 3, padding=1, act="leaky_relu"),
            Conv2d("c1", 12, 3, norm="layer", act="relu"),
            Flatten("f"),
            Linear("out", 2, act="gelu"),
        ),
    ),
    "attention": ArchSpec(
        (2, 4, 4), (ConvAttention("att", 3, act="relu"), Flatten("f"), Linear("o", 2))
    ),
    "conv1d": ArchSpec(
        (3, 12),
        (
            Conv1d("c0", 24, 3, padding=1, act="relu"),  # c1: 120 inputs, two row blocks
            Conv1d("c1", 40, 5, norm="batch", act="gelu"),
            Flatten("f"),
            Linear("out", 2),
        ),
    ),
    "deep sets": ArchSpec(
        (8, 3), (Linear("phi", 16, act="relu"), Aggregate("agg", "max"), Linear("rho", 5))
    ),
}


@pytest.mark.parametrize("strategy", ["distributed_arithmetic", "latency"])
@pytest.mark.parametrize("name", sorted(SPECS))
def test_descriptor_plan_is_the_synthesisers_plan(name: str, strategy: str) -> None:
    hw = HardwareConfig.uniform(PART, 6, 5.0, strategy=strategy)
    design = random_design(SPECS[name], hw, seed=2, sparsity=0.5)
    real = Planner(design, 96).plan()
    specs = plan_pieces(design.canonical())
    assert [(p.name, p.count, p.level, p.n_inputs, int(p.comb.shape[1])) for p in real] == [
        (s.name, s.count, s.level, s.inputs, s.outputs) for s in specs
    ]
    assert all(s.multipliers == (strategy == "latency") for s in specs if s.kind == "dense")


def test_unsupported_op_and_foreign_document_are_one_line_errors() -> None:
    hw = HardwareConfig.uniform(PART, 6, 5.0)
    doc = random_design(SPECS["wide mlp"], hw, seed=0).canonical()
    doc["arch"]["layers"][0]["op"] = "pool2d"
    with pytest.raises(FeatureError, match="no 'pool2d'"):
        plan_pieces(doc)
    with pytest.raises(FeatureError, match="not an hwloop design document"):
        plan_pieces({"layers": []})
    with pytest.raises(FeatureError, match="not in its plan"):
        piece_rows(random_design(SPECS["wide mlp"], hw).canonical(), [{"piece": "nope"}])


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> PieceSet:
    cache = SqlCache(f"sqlite:///{tmp_path_factory.mktemp('pieces')}/c.db")
    import_paths(cache, [LARGE])
    return piece_set(cache)


def test_training_rows_reproduce_the_real_totals(large: PieceSet) -> None:
    """Each run's unique pieces times their counts are its LUT: what the model learns from is
    what synthesis added up."""
    assert len(large) >= 26
    for doc, table, lut in zip(large.docs, large.tables, large.Y["lut"], strict=True):
        assert sum(r["count"] * r["lut"] for r in table) == lut
        rows = piece_rows(doc, table)
        assert len(rows) == len(table) and all(y["lut"] >= 0 for _, y in rows)


@pytest.mark.slow
def test_fit_compose_save_load(large: PieceSet, tmp_path: Path) -> None:
    model = large.fit({"n_estimators": 60})
    pred, notes = model.predict_documents(large.docs[:4])
    for metric in ("lut", "ff", "dsp", "latency", "ii"):
        q = pred[metric]
        assert q.shape == (4, 3) and np.all(q[:, 0] <= q[:, 1]) and np.all(q[:, 1] <= q[:, 2])
    # a design's median is the sum over its planned pieces of count x the piece's median
    specs = plan_pieces(large.docs[0])
    X = np.asarray([s.features() for s in specs])
    piece = model.piece_model_.predict(X)["lut"][:, 1]
    total = sum(s.count * p for s, p in zip(specs, piece, strict=True))
    assert math.isclose(total, pred["lut"][0, 1])
    assert model.margin_ and set(model.kinds_) >= {"dense", "rows", "reduce"}
    back = load_surrogate(model.save(tmp_path / "m", {"eval": {"lut": {"r2": 0.9}}}))
    assert isinstance(back, PieceSurrogate)
    again, _ = back.predict_documents(large.docs[:4])
    np.testing.assert_allclose(again["lut"], pred["lut"], rtol=1e-6)
    assert back.n_train_ == {"runs": len(large)}


@pytest.mark.slow
def test_unknown_piece_kind_is_flagged_extrapolated_not_zero(large: PieceSet) -> None:
    model = large.fit({"n_estimators": 30})
    hw = HardwareConfig.uniform(PART, 4, 5.0)
    doc = random_design(SPECS["attention"], hw, seed=1).canonical()
    pred, notes = model.predict_documents([doc])
    if "softmax" not in model.kinds_:  # the large runs predate attention in the open flow
        assert "piece kind 'softmax': no training data" in notes[0]
    assert pred["lut"][0, 1] > 0 and pred["latency"][0, 1] > 0


@pytest.mark.slow
def test_held_out_by_size_trains_small_tests_large(large: PieceSet) -> None:
    ev = by_size(large, {"n_estimators": 60})
    assert ev.n_train + ev.n_test == len(large) and ev.n_test >= len(large) // 2 - 1
    assert set(ev.piece) == {"lut", "ff", "dsp", "latency"}
    assert ev.piece["lut"]["smape"] < 40 and ev.whole["lut"]["smape"] > 0


@pytest.mark.slow
def test_traced_fidelity_reads_the_synthesisers_trace(large: PieceSet, tmp_path: Path) -> None:
    """trace_pieces gives exactly the da4ml numbers the open flow records for each piece, and
    the traced prediction's latency is then the synthesised design's, cycle for cycle."""
    spec = ArchSpec((110,), (Linear("fc0", 6, act="relu"), Linear("out", 2)))
    hw = HardwareConfig.uniform(PART, 4, 5.0, strategy="distributed_arithmetic")
    design = random_design(spec, hw, seed=4, sparsity=0.5)
    rows = trace_pieces(design)
    assert [r["piece"] for r in rows] == ["fc0.rows0", "fc0.rows1", "fc0.reduce", "out"]
    (real,) = OpenSynthesizer(jobs=2).run(design, tmp_path, 600)
    assert real.ok
    by_name = {r["piece"]: r for r in rows}
    for piece in real.extra["piece_table"]:
        got = by_name[piece["piece"]]
        for k in ("da4ml_cost", "reg_bits", "stages", "nonzero_weights"):
            assert got[k] == piece[k], (piece["piece"], k)
    model = large.fit({"n_estimators": 60})
    pred, _ = model.predict_traced([design.canonical()], [rows])
    assert pred["latency"][0].tolist() == [real.latency_max] * 3
    assert pred["lut"][0, 0] <= pred["lut"][0, 1] <= pred["lut"][0, 2] and pred["ff"][0, 1] > 0


@pytest.mark.slow
def test_pieces_fixed_by_their_descriptor_get_their_real_numbers(
    large: PieceSet, tmp_path: Path
) -> None:
    """Fitted on the attention piece library and the small attention designs, the surrogate
    answers braggnn's q.k, softmax and SV pieces (a design it never saw) with exactly what
    synthesis gave inside braggnn."""
    cache = SqlCache(f"sqlite:///{tmp_path}/c.db")
    import_paths(
        cache, [DATA / "open-attention-pieces.parquet", DATA / "open-small-attention.parquet"]
    )
    data = piece_set(cache)
    lib = data.library
    assert lib.sum() >= 16 and set(data.families[lib]) == {"attnlib"}
    model = data.fit({"n_estimators": 30})
    fixed = {PIECE_KINDS[int(key[0])] for key in model.exact_}
    assert {"scores", "softmax", "sv"} <= fixed and not fixed & {"dense", "rows", "proj"}
    brag = large.subset(large.families == "braggnn")
    assert len(brag) >= 1
    rows = [(s, y) for s, y in piece_rows(brag.docs[0], brag.tables[0]) if s.kind in fixed]
    assert {s.kind for s, _ in rows} >= {"scores", "softmax", "sv"}
    pred = model.predict_pieces(np.asarray([s.features() for s, _ in rows]))
    for metric in ("lut", "ff", "latency"):
        real = np.asarray([y[metric] for _, y in rows])
        np.testing.assert_array_equal(pred[metric][:, 1], real)
        assert np.all(pred[metric][:, 0] <= real) and np.all(real <= pred[metric][:, 2])
