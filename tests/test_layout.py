"""The architecture holds: flows -> tasks -> mailops, and mailops knows no Prefect."""

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


def test_the_library_never_imports_prefect_tasks_or_flows():
    offenders = {
        path: names & {"prefect", "tasks", "flows", "deployments"}
        for path, names in imported_modules("mailops").items()
        if names & {"prefect", "tasks", "flows", "deployments"}
    }
    assert offenders == {}


def test_tasks_never_import_flows():
    offenders = {p: n for p, n in imported_modules("tasks").items() if "flows" in n}
    assert offenders == {}


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
