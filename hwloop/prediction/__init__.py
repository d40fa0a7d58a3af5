"""hwloop's side of the surrogates: training sets from the synthesis cache, evaluation held out
by architecture, size or source, the one fit-and-save path (``fit_and_save``) and predictions.
The models themselves live in the ``surrogates`` package."""

from __future__ import annotations

from hwloop.prediction._data import (
    DocumentSet,
    TrainingSet,
    arch_group,
    document_set,
    target_capacities,
    training_set,
)
from hwloop.prediction._eval import Evaluation, evaluate
from hwloop.prediction._fit import LEVELS, Fitted, fit_and_save, layered_evaluations, load_data
from hwloop.prediction._layered_eval import (
    SplitScores,
    evaluate_by_arch,
    evaluate_by_source,
    vivado_record_paths,
)
from hwloop.prediction._piece_eval import (
    PieceScores,
    PieceSet,
    by_arch,
    by_size,
    held_out_pairs,
    piece_set,
)
from hwloop.prediction._predict import (
    TRACED,
    Prediction,
    Predictor,
    default_model_dir,
    describe_model,
    find_model,
    parse_reuse,
    predict_designs,
    predict_documents_traced,
    predict_model,
    with_reuse,
)

__all__ = [
    "LEVELS",
    "Fitted",
    "fit_and_save",
    "layered_evaluations",
    "load_data",
    "TRACED",
    "describe_model",
    "predict_documents_traced",
    "PieceScores",
    "PieceSet",
    "by_arch",
    "by_size",
    "piece_set",
    "held_out_pairs",
    "DocumentSet",
    "SplitScores",
    "document_set",
    "evaluate_by_arch",
    "evaluate_by_source",
    "vivado_record_paths",
    "Evaluation",
    "Prediction",
    "default_model_dir",
    "find_model",
    "Predictor",
    "predict_designs",
    "predict_model",
    "parse_reuse",
    "with_reuse",
    "TrainingSet",
    "arch_group",
    "evaluate",
    "target_capacities",
    "training_set",
]
