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


# Inside hwloop: each unit (a subpackage, or a top-level module such as bops) imports only units
# of a lower rank (issue 20). ``hwloop`` itself (HwloopError) is below them all.
HWLOOP_RANK = {
    "cli": 9,
    "api": 8,
    "pipeline": 8,
    "local": 7,
    "search": 6,
    "prediction": 5,
    "synth": 4,
    "spaces": 3,
    "training": 3,
    "bops": 3,
    "tasks": 2,
    "archs": 2,
    "measure": 2,
    "experiment": 1,
    "runtime": 1,
}


def _unit(module: str) -> str:
    """``hwloop.synth._open`` -> ``hwloop.synth``; ``surrogates._piecewise`` -> ``surrogates``;
    ``hwloop`` and the other packages are their own unit."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "hwloop" and len(parts) > 1 else parts[0]


def _modules(path: Path) -> set[str]:
    """Every absolute module ``path`` imports from, at any depth (function-level imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            # `from hwloop import _interrupt`: a private module taken as an attribute (not dunders)
            found.update(
                f"{node.module}.{a.name}" for a in node.names if a.name[:1] == "_" != a.name[1:2]
            )
    return found


def _own_unit(path: Path) -> str:
    return _unit(".".join(path.relative_to(SRC).with_suffix("").parts))


def test_no_import_reaches_into_another_units_private_module() -> None:
    """Callers go through a unit's facade (its ``__init__``): never ``synth_cache._backend`` from
    hwloop, nor ``hwloop.synth._design`` from ``hwloop.cli``."""
    bad = []
    for package in PACKAGES:
        for f in _files(package):
            me = _own_unit(f)
            for m in _modules(f):
                if m.split(".")[0] not in PACKAGES or _unit(m) == me:
                    continue
                if any(p.startswith("_") for p in m.split(".")):
                    bad.append(f"{f.relative_to(SRC)} imports {m}")
    assert not bad, "private imports across units:\n" + "\n".join(sorted(bad))


def test_hwloop_units_import_downwards() -> None:
    units = {p.stem if p.is_file() else p.name for p in (SRC / "hwloop").iterdir()}
    units = {u for u in units if not u.startswith(("_", "."))}
    assert units <= set(HWLOOP_RANK), f"rank the new units: {sorted(units - set(HWLOOP_RANK))}"
    bad = []
    for f in _files("hwloop"):
        me = _own_unit(f).removeprefix("hwloop.")
        if me not in HWLOOP_RANK:
            continue  # hwloop/__init__.py
        for m in _modules(f):
            other = _unit(m).removeprefix("hwloop.")
            if not m.startswith("hwloop.") or other == me or other not in HWLOOP_RANK:
                continue
            if HWLOOP_RANK[other] >= HWLOOP_RANK[me]:
                bad.append(f"{f.relative_to(SRC)} ({me}) imports {m} ({other})")
    assert not bad, "upward or sideways imports inside hwloop:\n" + "\n".join(sorted(bad))


def test_layer_checks_see_a_violation(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text(
        "def g():\n    from synth_cache._backend import x\n    import hwloop.cli.main\n"
        "from hwloop import _interrupt\n"
    )
    assert _modules(f) == {"synth_cache._backend", "hwloop.cli.main", "hwloop", "hwloop._interrupt"}
    assert _unit("synth_cache._backend") == "synth_cache"
    assert _unit("hwloop.cli.main") == "hwloop.cli" and _unit("hwloop") == "hwloop"


# import cycles between a unit's own modules that are still there (function-level imports
# keep them from failing at import time); a new one fails the test below
KNOWN_CYCLES: set[frozenset[str]] = set()  # none left (issue 20)


def _module_graph() -> dict[str, set[str]]:
    """hwloop's modules (not the package facades) and the modules each imports, at any depth."""
    mods = {}
    for f in _files("hwloop"):
        parts = f.relative_to(SRC).with_suffix("").parts
        if parts[-1] != "__init__":
            mods[".".join(parts)] = f
    graph: dict[str, set[str]] = {}
    for name, f in mods.items():
        found = _modules(f)
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.update(f"{node.module}.{a.name}" for a in node.names)
        graph[name] = {m for m in found if m in mods and m != name}
    return graph


def test_no_new_import_cycles() -> None:
    """Modules import each other one way (issue 20 broke local's _compress <-> _report <->
    _plots: the run's records moved to local/_state.py)."""
    graph = _module_graph()
    cycles: set[frozenset[str]] = set()

    def visit(node: str, path: list[str]) -> None:
        for nxt in graph[node]:
            if nxt in path:
                cycles.add(frozenset(path[path.index(nxt) :]))
            elif len(path) < 8:
                visit(nxt, [*path, nxt])

    for start in graph:
        visit(start, [start])
    new = sorted(sorted(c) for c in cycles - KNOWN_CYCLES)
    assert not new, f"import cycles: {new}"
