"""The architecture holds: flows -> tasks -> mailops, and mailops knows no Prefect."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("mailops", "tasks", "flows", "deployments")  # what pyproject.toml installs


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
