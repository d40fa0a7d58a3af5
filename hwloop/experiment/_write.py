"""Writing an experiment back as TOML (the stdlib reads TOML but does not write it; the schema
needs only tables of strings, numbers, booleans and lists of those)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from hwloop.experiment._schema import Experiment


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return "inf" if v > 0 else "-inf" if v < 0 else "nan"
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return _toml_string(str(v))


def _toml_string(text: str) -> str:
    """A TOML basic string: backslash, quote and control characters escaped, every other
    character as it is (JSON's surrogate-pair escapes of non-BMP characters are not TOML)."""
    out = []
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def dump_experiment(exp: Experiment, absolute_paths: bool = True) -> str:
    """The experiment as TOML; with ``absolute_paths`` data paths are resolved (the copy in an
    output folder must read the same files from there)."""
    doc = exp.model_dump(mode="json", exclude_none=True)
    if absolute_paths:
        for key in ("path", "y_path"):
            if key in doc["data"]:
                doc["data"][key] = str(exp.resolve(Path(doc["data"][key])).resolve())
    lines = [f"{k} = {toml_value(v)}" for k, v in doc.items() if not isinstance(v, dict)]
    for section, body in doc.items():
        if not isinstance(body, dict):
            continue
        lines += ["", f"[{section}]"]
        lines += [f"{k} = {toml_value(v)}" for k, v in body.items() if not isinstance(v, dict)]
        for sub, table in body.items():
            if isinstance(table, dict):
                lines += ["", f"[{section}.{sub}]"]
                lines += [f"{k} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def identity(exp: Experiment) -> dict[str, Any]:
    """What makes two runs the same experiment (a study holds one): its name, data, task and
    space. Trials, stages and budgets may change between runs of one experiment."""
    doc = exp.model_dump(mode="json", include={"name", "data", "task", "space"})
    for key in ("path", "y_path"):
        if doc["data"].get(key):
            doc["data"][key] = str(exp.resolve(Path(doc["data"][key])).resolve())
    return doc
