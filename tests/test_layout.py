"""The architecture holds: flows -> tasks -> mailops, mailops knows no Prefect, and the
sandbox (simulators, demo, chaos, corpus, reconciliation) sits outside all three."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


# Each layer imports only the layers below it: cli -> sandbox -> flows -> tasks -> mailops
# (deployments: the table of schedules, read by cli and the tests, below flows).
ABOVE = {
    "mailops": {"prefect", "tasks", "flows", "deployments", "sandbox", "cli"},
    "tasks": {"flows", "deployments", "sandbox", "cli"},
    "flows": {"deployments", "sandbox", "cli"},
    "deployments": {"sandbox", "cli"},
    "sandbox": {"cli"},
}


def test_each_layer_imports_only_the_layers_below_it():
    offenders = {
        path: names & above
        for package, above in ABOVE.items()
        for path, names in imported_modules(package).items()
        if names & above
    }
    assert offenders == {}


def test_the_command_is_one_package_without_plug_ins():
    # every command module is registered by name in cli.app, none through entry points
    assert "entry-points" not in (ROOT / "pyproject.toml").read_text()
    commands = {p.stem for p in (ROOT / "cli" / "commands").glob("*.py")} - {"__init__"}
    from cli.app import COMMAND_MODULES

    assert set(COMMAND_MODULES) == commands


def test_rules_import_only_the_standard_library_and_mailops():
    # Issue 21: rules/ stays pure; a lookup in a package (the Public Suffix List) is passed in
    allowed = sys.stdlib_module_names | {"mailops"}
    offenders = {
        path: names - allowed
        for path, names in imported_modules("mailops/rules").items()
        if names - allowed
    }
    assert offenders == {}


def test_one_module_reads_the_public_suffix_list():
    readers = {
        path
        for package in ("mailops", "tasks", "flows")
        for path, names in imported_modules(package).items()
        if "publicsuffixlist" in names
    }
    assert readers == {"mailops/public_suffix.py"}
