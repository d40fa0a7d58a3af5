"""The dependency direction: hwloop -> surrogates | synth_cache -> fpga_targets; nothing imports
hwloop; surrogates never imports torch; fpga_targets uses the standard library only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2]
PACKAGES = ("hwloop", "surrogates", "synth_cache", "fpga_targets")
ALLOWED = {
    "hwloop": {"surrogates", "synth_cache", "fpga_targets"},
    "surrogates": {"fpga_targets"},
    "synth_cache": {"fpga_targets"},
    "fpga_targets": set(),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _files(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_dependency_direction(package: str) -> None:
    assert _files(package), f"package {package} has no modules"
    bad = []
    for f in _files(package):
        for name in _imports(f) & set(PACKAGES) - {package}:
            if name not in ALLOWED[package]:
                bad.append(f"{f.relative_to(SRC)} imports {name}")
    assert not bad, "forbidden imports:\n" + "\n".join(bad)


def test_surrogates_never_import_torch() -> None:
    bad = [str(f) for f in _files("surrogates") if "torch" in _imports(f)]
    assert not bad


def test_fpga_targets_is_stdlib_only() -> None:
    stdlib = set(sys.stdlib_module_names) | {"__future__", "fpga_targets"}
    bad = {f"{f.name}: {m}" for f in _files("fpga_targets") for m in _imports(f) - stdlib}
    assert not bad


def test_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("import hwloop.archs\nfrom surrogates import x\nfrom . import y\n")
    assert _imports(f) == {"hwloop", "surrogates"}
