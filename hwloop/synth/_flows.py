"""The flows' registry. Every module of ``hwloop.synth.flows`` registers one flow when it is
imported, and all of them are imported here, so a new flow is one module there: its
:class:`~hwloop.synth.Synthesizer` (importing its tools inside its methods) and its
:func:`register_flow` call (docs/extending.md)."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass


@dataclass(frozen=True)
class Flow:
    """A synthesis flow: its name, its :class:`Synthesizer` (``"module:Class"``, imported on
    first use, so each flow pulls in its own tools) and the strategy it synthesises with unless
    told otherwise."""

    name: str
    synthesizer: str
    default_strategy: str
    help: str = ""


_FLOWS: dict[str, Flow] = {}


def register_flow(flow: Flow) -> None:
    """Make ``get_synthesizer(flow.name)`` build ``flow.synthesizer``."""
    _FLOWS[flow.name] = flow


def registered_flows() -> dict[str, Flow]:
    return dict(_FLOWS)


def get_flow(name: str) -> Flow:
    from hwloop import HwloopError

    if name not in _FLOWS:
        raise HwloopError(f"unknown flow {name!r}; choose from {', '.join(_FLOWS)}")
    return _FLOWS[name]


def _discover() -> None:
    package = importlib.import_module("hwloop.synth.flows")
    for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        importlib.import_module(f"{package.__name__}.{module.name}")


_discover()
FLOWS = tuple(_FLOWS)  # the flows found at import (the CLI's choices)
