"""CLI options take their defaults from the config dataclasses (issue 20): `hwloop search`,
`compress` and `tune` cannot drift from `SearchConfig` / `CompressConfig` / `TuneConfig`, the
Python API's configs."""

from __future__ import annotations

import dataclasses

import click
import pytest

from hwloop.cli.compress import compress
from hwloop.cli.search import search
from hwloop.cli.tune import tune
from hwloop.local import CompressConfig, TuneConfig
from hwloop.search import SearchConfig


@pytest.mark.parametrize(
    ("command", "config", "at_least"),
    [(search, SearchConfig, 19), (compress, CompressConfig, 9), (tune, TuneConfig, 3)],
    ids=["search", "compress", "tune"],
)
def test_options_default_to_the_config(command: click.Command, config: type, at_least: int) -> None:
    fields = {f.name: f for f in dataclasses.fields(config)}
    checked = 0
    for param in command.params:
        f = fields.get(param.name or "")
        if f is None or f.default is dataclasses.MISSING or param.name == "out":
            continue
        if isinstance(f.default, (tuple, bool)):  # written as text / as a flag
            continue
        assert param.default == f.default, f"--{param.name}: {param.default!r} != {f.default!r}"
        checked += 1
    assert checked >= at_least
