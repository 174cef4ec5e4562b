"""The installed package needs no dev extra: every third-party import is a runtime dependency.

A worker image installs ``pip install .`` only, so a module imported by the
code but declared under ``dev`` would crash it at start-up.
"""

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_PACKAGES = ("streams", "agents", "models", "connectors")


def imported_top_level_modules() -> set[str]:
    modules: set[str] = set()
    for package in RUNTIME_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    modules.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - set(RUNTIME_PACKAGES)


def test_every_third_party_import_is_a_runtime_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {canonicalize_name(Requirement(spec).name) for spec in project["dependencies"]}
    distributions = packages_distributions()
    undeclared = {
        module: distributions.get(module)
        for module in imported_top_level_modules()
        if not {canonicalize_name(d) for d in distributions.get(module, [])} & runtime
    }
    assert not undeclared, f"imported but not in [project] dependencies: {undeclared}"
