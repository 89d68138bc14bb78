"""The import arrows of DESIGN section 1: libs never import a service, services never each other,
and the domain layer imports no I/O library. Checked on the source with ast, no import executed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("api", "worker", "gateway")
IO_LIBRARIES = {"asyncpg", "redis", "arq", "httpx", "starlette", "uvicorn", "sse_starlette"}


def imported_modules(source: str, module: str) -> set[str]:
    """Absolute names of every module `source` imports (relative imports resolved against `module`)."""
    names: set[str] = set()
    package = module.split(".")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def violations(module: str, source: str) -> list[str]:
    """The forbidden imports of one module, named `package.module` (e.g. services.api.app)."""
    found: list[str] = []
    for name in sorted(imported_modules(source, module)):
        if _within(module, "scoreboard") and _within(name, "services"):
            found.append(f"{module} (a library) imports {name}")
        for own in SERVICES:
            if not _within(module, f"services.{own}"):
                continue
            for other in SERVICES:
                if other != own and _within(name, f"services.{other}"):
                    found.append(f"{module} imports another service: {name}")
        if _within(module, "scoreboard.domain") and name.split(".")[0] in IO_LIBRARIES:
            found.append(f"{module} (domain) imports the I/O library {name}")
    return found


def _module_name(path: Path) -> str:
    relative = (
        path.relative_to(ROOT / "libs") if path.is_relative_to(ROOT / "libs") else path.relative_to(ROOT)
    )
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> list[Path]:
    return sorted([*(ROOT / "libs" / "scoreboard").rglob("*.py"), *(ROOT / "services").rglob("*.py")])


def test_the_tree_has_modules_to_check() -> None:
    modules = {_module_name(path) for path in _sources()}
    assert {
        "scoreboard.domain.ranking",
        "services.api.app",
        "services.worker.main",
        "services.gateway.app",
    } <= modules


def test_no_module_breaks_the_import_arrows() -> None:
    problems = [
        problem for path in _sources() for problem in violations(_module_name(path), path.read_text())
    ]
    assert problems == []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("scoreboard.config", "from services.api.settings import ApiSettings"),
        ("scoreboard.web.errors", "import services.gateway"),
        ("services.api.app", "from services.worker.jobs import apply_score"),
        ("services.api.routes.health", "from ...gateway import app"),
        ("services.worker.main", "import services.gateway.stream as stream"),
        ("services.gateway.app", "from services import api"),
        ("scoreboard.domain.ranking", "import redis.asyncio"),
        ("scoreboard.domain.models", "from asyncpg import Record"),
        ("scoreboard.domain.events", "def f():\n    import httpx\n"),
        ("scoreboard.domain", "from starlette.requests import Request"),
    ],
)
def test_checker_catches_a_forbidden_import(module: str, source: str) -> None:
    assert violations(module, source) != []


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("services.cli.commands", "from services.api.app import create_app\nimport services.worker.main"),
        ("services.api.app", "from scoreboard.redis_store import keys\nimport starlette"),
        ("services.api.routes.health", "from ..context import ApiContext"),
        ("scoreboard.redis_store.keys", "import redis"),
        ("scoreboard.domain.events", "from scoreboard.domain.models import RankedEntry\nimport redistools"),
    ],
)
def test_checker_allows_permitted_imports(module: str, source: str) -> None:
    assert violations(module, source) == []


def test_relative_imports_are_resolved_against_the_package() -> None:
    names = imported_modules("from ..worker import jobs", "services.api.app")
    assert "services.worker.jobs" in names
