"""The map of the house holds: edges do not import each other sideways, the pure core does
no I/O, shared plumbing depends on no edge, modules stay small, and nothing imports in a
circle. README.md, "How it is built", draws the same map."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "ivr"
EDGES = ("voice", "notify", "feed", "cli")
ASSEMBLY = ("ivr.app", "ivr.worker", "ivr.__main__")
PURE = ("dtmf", "flows", "domain", "i18n")
SHARED = ("twilio", "web", "services", "store", "roster", "domain")
IO_LIBRARIES = frozenset(
    {
        "sqlalchemy",
        "httpx",
        "fastapi",
        "starlette",
        "twilio",
        "aiosmtplib",
        "aiohttp",
        "asyncpg",
        "psycopg",
        "uvicorn",
        "socket",
        "subprocess",
        "prometheus_client",
        "ivr.store",
        "ivr.services",
    }
)
LONGEST = 400
LONGER_ON_PURPOSE = {
    "ivr/flows/call.py": "the call's every state in one table, read whole",
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for path in PACKAGE.rglob("*.py")
        if "migrations" not in path.relative_to(PACKAGE).parts
    }


def _imports(path: Path, top_level_only: bool = False) -> set[str]:
    """The modules ``path`` imports (absolute names), anywhere in it or only at its top."""
    tree = ast.parse(path.read_text(), str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(f"{package}.")


@pytest.mark.parametrize("edge", EDGES)
def test_no_edge_imports_another_edge(edge: str) -> None:
    others = [f"ivr.{other}" for other in EDGES if other != edge]
    # The command line starts the assembled server and worker; no other edge may.
    assembly = [] if edge == "cli" else list(ASSEMBLY)
    found = [
        f"{module} imports {name}"
        for module, path in _modules().items()
        if _within(module, f"ivr.{edge}")
        for name in sorted(_imports(path))
        if any(_within(name, other) for other in [*others, *assembly])
    ]
    assert found == [], "what two edges share belongs in a module of its own"


@pytest.mark.parametrize("package", PURE)
def test_the_pure_core_does_no_io(package: str) -> None:
    found = [
        f"{module} imports {name}"
        for module, path in _modules().items()
        if _within(module, f"ivr.{package}")
        for name in sorted(_imports(path))
        if any(_within(name, library) for library in IO_LIBRARIES)
    ]
    assert found == []


@pytest.mark.parametrize("package", SHARED)
def test_what_the_edges_share_depends_on_no_edge(package: str) -> None:
    edges = [f"ivr.{edge}" for edge in EDGES]
    found = [
        f"{module} imports {name}"
        for module, path in _modules().items()
        if _within(module, f"ivr.{package}")
        for name in sorted(_imports(path))
        if any(_within(name, outer) for outer in [*edges, *ASSEMBLY])
    ]
    assert found == []


def test_the_store_depends_on_records_not_on_a_file_format() -> None:
    found = [
        f"{module} imports {name}"
        for module, path in _modules().items()
        if _within(module, "ivr.store")
        for name in _imports(path)
        if _within(name, "ivr.roster") and not _within(name, "ivr.roster.records")
    ]
    assert found == []


def test_no_module_is_longer_than_a_newcomer_reads_at_once() -> None:
    paths = [*_modules().values(), *(ROOT / "scripts").rglob("*.py"), ROOT / "dev.py"]
    long = {
        str(path.relative_to(ROOT)): length
        for path in paths
        if (length := len(path.read_text().splitlines())) > LONGEST
    }
    assert long.keys() <= LONGER_ON_PURPOSE.keys(), f"split by topic: {long}"


def test_nothing_imports_in_a_circle() -> None:
    modules = _modules()
    # Importing a submodule imports its package first, unless the importer is inside it
    # (a package's own modules importing each other is how packages are built).
    graph = {
        module: {
            name
            for imported in _imports(path, top_level_only=True)
            for name in (imported, imported.rpartition(".")[0])
            if name in modules and name != module and not _within(module, name)
        }
        for module, path in modules.items()
    }
    seen: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> None:
        if module in path:
            cycle = [*path[path.index(module) :], module]
            pytest.fail(" -> ".join(cycle))
        if module in seen:
            return
        path.append(module)
        for imported in sorted(graph[module]):
            visit(imported)
        path.pop()
        seen.add(module)

    for module in sorted(graph):
        visit(module)
