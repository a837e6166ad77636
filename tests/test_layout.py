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


def test_the_library_never_imports_prefect_tasks_flows_or_the_sandbox():
    above = {"prefect", "tasks", "flows", "deployments", "sandbox"}
    offenders = {
        path: names & above
        for path, names in imported_modules("mailops").items()
        if names & above
    }
    assert offenders == {}


def test_only_the_commands_import_the_sandbox():
    # flows/commands/ is the CLI (mailops demo, chaos, sandbox); no job's flow or task runs
    # against a simulator by import, only by the URLs it is configured with
    offenders = {
        path: "sandbox"
        for package in ("tasks", "flows", "deployments")
        for path, names in imported_modules(package).items()
        if "sandbox" in names and not path.startswith("flows/commands/")
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
