"""The experiment file (``hwloop init`` writes one, ``hwloop run`` runs one, ``--task FILE``
takes one): its schema and reader. Pure data: every layer of hwloop may import it."""

from __future__ import annotations

from hwloop.experiment._schema import (
    DataSection,
    Experiment,
    HardwareSection,
    LocalSection,
    OutputSection,
    SearchSection,
    TaskSection,
    Window,
    apply_sets,
    is_experiment_path,
    load_experiment,
    parse_experiment,
)
from hwloop.experiment._write import dump_experiment, identity, toml_value

__all__ = [
    "DataSection",
    "Experiment",
    "HardwareSection",
    "LocalSection",
    "OutputSection",
    "SearchSection",
    "TaskSection",
    "Window",
    "apply_sets",
    "dump_experiment",
    "identity",
    "toml_value",
    "is_experiment_path",
    "load_experiment",
    "parse_experiment",
]
