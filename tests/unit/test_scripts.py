"""The Lua script registry: every `.lua` file is registered, states its contract, and ships."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from redis.asyncio import Redis

from scoreboard.redis_store import scripts
from scoreboard.redis_store.scripts import Script, Scripts, source

ROOT = Path(__file__).resolve().parents[2]
FOLDER = Path(scripts.__file__).parent
NAMES = sorted(path.stem for path in FOLDER.glob("*.lua") if not path.stem.startswith("_"))
LIBRARIES = sorted(path.stem for path in FOLDER.glob("_*.lua"))


def test_every_lua_file_is_registered_and_nothing_else() -> None:
    found = vars(Scripts(Redis()))  # building a client connects to nothing
    registered = {name: value for name, value in found.items() if not name.startswith("_")}
    assert sorted(registered) == NAMES
    assert all(isinstance(script, Script) for script in registered.values())


@pytest.mark.parametrize("name", NAMES)
def test_each_script_opens_with_its_keys_and_argv_contract(name: str) -> None:
    header = []
    for line in source(name).splitlines():
        if not line.startswith("--"):
            break
        header.append(line)
    assert any(line.startswith("-- KEYS:") for line in header), name
    assert any(line.startswith("-- ARGV:") for line in header), name
    assert any("Returns" in line for line in header), name


def test_the_scripts_ship_in_the_wheel() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_data = project["tool"]["setuptools"]["package-data"]
    assert "*.lua" in package_data["scoreboard.redis_store.scripts"]


@pytest.mark.parametrize("library", LIBRARIES)
def test_a_library_is_included_where_a_script_says_so_and_nowhere_else(library: str) -> None:
    text = source(library)
    including = [name for name in NAMES if f"-- include: {library}\n" in (FOLDER / f"{name}.lua").read_text()]
    assert including, f"{library} is included by no script"
    for name in NAMES:
        sent = source(name)
        assert "-- include:" not in sent
        assert (text in sent) == (name in including), name
