"""The architecture holds: flows -> tasks -> mailops, mailops knows no Prefect, the
sandbox (simulators, demo, chaos, corpus, reconciliation) sits outside all three, and
inside mailops the rules and the models they judge know no client, store or Prefect."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
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


def mailops_modules_imported(package: str) -> dict[str, set[str]]:
    """Per file of `package`, every mailops module it imports by its full dotted name, relative
    imports resolved (`from mailops import jobs` is `mailops.jobs`; a name that is not a module,
    `from mailops.store import Store`, counts as `mailops.store.Store`, inside its module)."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        here = list(path.relative_to(ROOT).with_suffix("").parts)
        if here[-1] == "__init__":
            here.pop()
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = here[: len(here) - node.level] if node.level else []
                module = ".".join([*base, *([node.module] if node.module else [])])
                names.update(f"{module}.{alias.name}" for alias in node.names)
        found[str(path.relative_to(ROOT))] = {
            name for name in names if name == "mailops" or name.startswith("mailops.")
        }
    return found


def _outside(modules: set[str], allowed: tuple[str, ...]) -> set[str]:
    """The modules of `modules` that are none of `allowed` nor inside one of them."""
    return {m for m in modules if not any(m == a or m.startswith(f"{a}.") for a in allowed)}


def _not_allowed(package: str, packages: set[str], modules: tuple[str, ...]) -> dict[str, set[str]]:
    """Per file of `package`, what it imports beyond the standard library, `packages` and the
    mailops `modules`."""
    mailops_imports = mailops_modules_imported(package)
    found = {path: (names - sys.stdlib_module_names - packages - {"mailops"})
             | _outside(mailops_imports[path], modules)
             for path, names in imported_modules(package).items()}
    return {path: names for path, names in found.items() if names}


# Issue 21: rules/ decides, it does not fetch or store; the models and settings types it
# judges are all it may know of mailops (a lookup in a package, the Public Suffix List, is
# passed in as an argument).
RULES_MAY_IMPORT = ("mailops.rules", "mailops.models", "mailops.settings", "mailops.errors")
# models/ is the plain data every layer shares: pydantic and mailops' plain helpers only.
MODELS_MAY_IMPORT = ("mailops.models", "mailops.jsonable", "mailops.text", "mailops.counts",
                     "mailops.errors", "mailops.secrets")
NEVER_LOADED_BY_PURE_CODE = ("httpx", "prefect", "sqlalchemy", "mailops.http",
                             "mailops.cleanbox", "mailops.emboux", "mailops.health",
                             "mailops.store")


# The store keeps what the other layers hand it: SQLAlchemy and Alembic, the models and rules'
# types it stores, and mailops' plain helpers; never a client, the HTTP layer or a job's I/O.
STORE_MAY_IMPORT = ("mailops.store", "mailops.models", "mailops.rules", "mailops.errors",
                    "mailops.text", "mailops.counts", "mailops.jobs", "mailops.secrets")


def test_rules_import_only_the_standard_library_models_and_settings():
    assert _not_allowed("mailops/rules", set(), RULES_MAY_IMPORT) == {}


def test_models_import_only_the_standard_library_pydantic_and_plain_helpers():
    assert _not_allowed("mailops/models", {"pydantic"}, MODELS_MAY_IMPORT) == {}


def test_the_store_imports_no_client_and_no_job_code():
    libraries = {"sqlalchemy", "alembic", "pandas"}
    assert _not_allowed("mailops/store", libraries, STORE_MAY_IMPORT) == {}


def _loaded_by_importing(modules: list[str]) -> set[str]:
    """Every module a fresh interpreter has loaded after importing `modules`."""
    script = "import sys\n" + "".join(f"import {m}\n" for m in modules) + (
        "print('\\n'.join(sys.modules))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    return set(done.stdout.split())


def _module_name(path: Path) -> str:
    """`mailops/models/__init__.py` is `mailops.models`, `mailops/rules/guard.py` is
    `mailops.rules.guard`."""
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _pure_modules(package: str) -> list[str]:
    return [_module_name(path) for path in sorted((ROOT / package).rglob("*.py"))]


def test_rules_and_models_load_no_client_store_or_prefect_even_indirectly():
    # Given a fresh interpreter that imports every rules and models module
    modules = _pure_modules("mailops/rules") + _pure_modules("mailops/models")
    assert "mailops.rules.guard" in modules and "mailops.models.health" in modules
    loaded = _loaded_by_importing(modules)
    # Then nothing they import, however indirectly, brought the I/O layers in
    assert set(modules) <= loaded
    assert [name for name in NEVER_LOADED_BY_PURE_CODE if name in loaded] == []


def test_the_store_loads_no_client_and_no_prefect_even_indirectly():
    # Given a fresh interpreter that imports every store module
    modules = [m for m in _pure_modules("mailops/store") if ".migrations." not in m]
    loaded = _loaded_by_importing(modules)
    # Then no client, HTTP layer, job I/O or Prefect came with them
    assert "mailops.store.ledger" in loaded
    assert [name for name in NEVER_LOADED_BY_PURE_CODE
            if name in loaded and name not in ("sqlalchemy", "mailops.store")] == []


def _defined_at_top(path: Path) -> set[str]:
    """The names a module itself defines: its top-level classes, functions and assignments."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(), filename=str(path)).body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_a_model_is_imported_from_mailops_models_not_through_a_module_that_uses_it():
    # Issue 21: no re-exports; a client or collection module that uses a model does not
    # become a second place to import it from
    models = {}
    for path in (ROOT / "mailops" / "models").rglob("*.py"):
        owner = importlib.import_module(_module_name(path))
        defined = [getattr(owner, name) for name in _defined_at_top(path)]
        # a number or a word is no model, and equal ones may be one object anywhere
        models.update({id(value): owner.__name__ for value in defined
                       if not isinstance(value, int | float | str | bytes | None)})
    assert models  # the models modules define something to look for
    through = {}
    for package in (*PACKAGES, "tests", "bench"):
        for path, names in mailops_modules_imported(package).items():
            for name in names:
                module, _, attribute = name.rpartition(".")
                if module == "mailops" or module.startswith("mailops.models"):
                    continue
                value = getattr(importlib.import_module(module), attribute, None)
                if value is not None and id(value) in models:
                    through.setdefault(path, set()).add(name)
    assert through == {}


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
