"""hwloop: hardware-in-the-loop neural-architecture codesign for FPGAs.

The Python API: ``hwloop.predict``, ``hwloop.predict_many``, ``hwloop.Cache`` and
``hwloop.load_front`` (``hwloop.api``). Further entry points live in the sub-packages, top layer
first (each imports only those below it):

- ``hwloop.cli``: the ``hwloop`` command; ``hwloop.pipeline``: ``hwloop init`` / ``run``;
- ``hwloop.local``: tuning and compression around one architecture (``tune``, ``compress``);
- ``hwloop.search``: the architecture search and its synthesis loop;
- ``hwloop.prediction``: training sets, fitting (one path), evaluation and predictions of the
  surrogates (the models themselves: the top-level ``surrogates`` package);
- ``hwloop.synth``: designs, synthesizers (open flow, hls4ml + Vivado) and calibration;
- ``hwloop.spaces`` (search spaces), ``hwloop.training``, ``hwloop.bops``;
- ``hwloop.tasks`` (tasks and data), ``hwloop.archs`` (arch specs, built-ins, model import),
  ``hwloop.measure`` (measured latency and energy), ``hwloop.experiment`` (the experiment file).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "Cache", "HwloopError", "load_front", "predict", "predict_many"]

_API = ("Cache", "load_front", "predict", "predict_many")


def __getattr__(name: str) -> object:
    # the Python API (hwloop.api) loads on first use: `import hwloop` stays light for the CLI
    if name in _API:
        from hwloop import api

        return getattr(api, name)
    raise AttributeError(f"module 'hwloop' has no attribute {name!r}")


class HwloopError(Exception):
    """An error a user can fix (bad input, missing file); the CLI prints it on one line, exit 2."""
