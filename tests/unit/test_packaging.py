"""What the package declares is what it uses: every library the line imports is a declared
runtime dependency (so the install a user makes has it, whatever the test extra brings), and
every declared dependency is used. ``scripts/check_install.py`` checks the real install."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "ivr"
# Modules that may use an extra rather than the runtime dependencies.
EXTRAS_OF = {"ivr/devtools": "devtools"}
# Declared dependencies that no module imports by name, and why they are needed.
USED_WITHOUT_IMPORT = {
    "psycopg": "the driver of IVR_DATABASE_URL for PostgreSQL, loaded by SQLAlchemy",
    "asyncpg": "the server's PostgreSQL driver, loaded by SQLAlchemy's asyncio engine",
    "python-multipart": "Starlette's form parser, for the staff page's forms",
}


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match is not None, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


@cache
def _project() -> dict[str, object]:
    project: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project


def _declared(extra: str | None = None) -> set[str]:
    project = _project()
    if extra is None:
        requirements = project["dependencies"]
    else:
        requirements = project["optional-dependencies"][extra]  # type: ignore[index]
    assert isinstance(requirements, list)
    return {_name(requirement) for requirement in requirements}


def _imports(path: Path) -> set[str]:
    """Top-level names of the modules ``path`` imports, outside ``TYPE_CHECKING`` blocks."""
    names: set[str] = set()
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"ivr", "__future__"}


@cache
def _distributions(module: str) -> frozenset[str]:
    return frozenset(_name(name) for name in _installed().get(module, [module]))


@cache
def _installed() -> dict[str, list[str]]:
    return dict(packages_distributions())


def _extra_for(path: Path) -> str | None:
    relative = path.relative_to(ROOT).as_posix()
    return next((extra for prefix, extra in EXTRAS_OF.items() if relative.startswith(prefix)), None)


def test_every_library_the_line_imports_is_declared_for_the_install_it_runs_in() -> None:
    undeclared = []
    for path in sorted(PACKAGE.rglob("*.py")):
        extra = _extra_for(path)
        allowed = _declared() | (_declared(extra) if extra else set())
        for module in _imports(path):
            if not _distributions(module) & allowed:
                undeclared.append(f"{path.relative_to(ROOT)} imports {module}")
    assert undeclared == [], "declare these in pyproject.toml's dependencies"


def test_every_declared_dependency_is_used() -> None:
    imported: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for module in _imports(path):
            imported |= _distributions(module)
    unused = _declared() - imported - set(USED_WITHOUT_IMPORT)
    assert unused == set(), "remove these from pyproject.toml, or say why they are needed"


def test_the_test_extra_brings_nothing_the_line_needs_to_run() -> None:
    """A test-only package must never be what makes the product work: none of them is
    imported by the package (the devtools extra aside, which the README names)."""
    test_only = _declared("test") - _declared() - {"ivr-absence-line"}
    for path in PACKAGE.rglob("*.py"):
        if _extra_for(path):
            continue
        for module in _imports(path):
            assert not _distributions(module) & test_only, f"{path} imports {module}"
