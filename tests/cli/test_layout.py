"""The architecture holds: flows -> tasks -> mailops, mailops knows no Prefect, and the
sandbox (simulators, demo, chaos, corpus, reconciliation) sits outside all three."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("mailops", "tasks", "flows", "deployments", "sandbox", "cli")  # pyproject installs


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


def _distribution(name: str) -> str:
    """A distribution's name as packaging compares them (PEP 503): `PyYAML` is `pyyaml`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_package_the_code_imports_is_declared():
    # A package used only through another's dependencies (numpy through pandas, starlette
    # through fastapi) breaks the day that one drops or bounds it.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_distribution(re.match(r"[A-Za-z0-9._-]+", requirement).group())
                for requirement in project["dependencies"]}
    imported = {name for package in PACKAGES
                for names in imported_modules(package).values() for name in names}
    third_party = imported - set(PACKAGES) - sys.stdlib_module_names
    providers = packages_distributions()
    undeclared = {module for module in third_party
                  if not {_distribution(d) for d in providers.get(module, [module])} & declared}
    assert undeclared == set()
