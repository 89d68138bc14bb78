"""The scoreboard command refuses to start on missing configuration, in one line on stderr."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from uuid import uuid4

import pytest

SCOREBOARD = str(Path(sys.executable).with_name("scoreboard"))
COMPLETE = {
    "SCOREBOARD_DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
    "SCOREBOARD_REDIS_URL": "redis://127.0.0.1:9/0",
    "SCOREBOARD_TICKET_SECRET": "t" * 40,
    "SCOREBOARD_JWT_SECRET": "j" * 40,
}


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # A bare environment: no SCOREBOARD_* leaks in from the developer's shell.
    base = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "LANG": "C.UTF-8"}
    # --port 0 so that, were the check ever to pass, nothing fixed is bound; the timeout kills it.
    return subprocess.run(
        [SCOREBOARD, *args], cwd=cwd, env=base | env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("service", "variable"),
    [
        ("api", "SCOREBOARD_DATABASE_URL"),
        ("api", "SCOREBOARD_REDIS_URL"),
        ("api", "SCOREBOARD_TICKET_SECRET"),
        ("gateway", "SCOREBOARD_REDIS_URL"),
        ("worker", "SCOREBOARD_DATABASE_URL"),
    ],
)
def test_service_without_required_settings_exits_2_with_one_line(
    tmp_path: Path, service: str, variable: str
) -> None:
    result = _run([service, "--port", "0"], tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"{variable} is required" in lines[0]
    assert result.stdout == ""


def test_api_without_a_jwt_key_source_exits_2_naming_it(tmp_path: Path) -> None:
    without_jwt = {name: value for name, value in COMPLETE.items() if name != "SCOREBOARD_JWT_SECRET"}
    result = _run(["api", "--port", "0"], tmp_path, **without_jwt)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "SCOREBOARD_JWT_SECRET" in lines[0]


@pytest.mark.parametrize("variable", ["SCOREBOARD_SIGNING_KEYS", "SCOREBOARD_ACTION_TYPES"])
def test_api_with_a_json_variable_that_is_not_json_exits_2_with_one_line(
    tmp_path: Path, variable: str
) -> None:
    result = _run(["api", "--port", "0"], tmp_path, **(COMPLETE | {variable: "{not json"}))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]


def test_token_without_a_jwt_secret_refuses(tmp_path: Path) -> None:
    result = _run(["token", "--user", str(uuid4())], tmp_path)
    assert result.returncode == 2
    assert "SCOREBOARD_JWT_SECRET" in result.stderr
    assert result.stdout == ""


def test_token_with_a_non_uuid_user_refuses(tmp_path: Path) -> None:
    result = _run(["token", "--user", "alice"], tmp_path, SCOREBOARD_JWT_SECRET="j" * 40)
    assert result.returncode == 2
    assert "UUID" in result.stderr
    assert result.stdout == ""


async def test_token_with_a_secret_prints_a_token_the_verifier_accepts(tmp_path: Path) -> None:
    from scoreboard.config import JwtSettings
    from scoreboard.security.bearer import TokenVerifier

    user = uuid4()
    result = _run(["token", "--user", str(user), "--name", "Ada"], tmp_path, SCOREBOARD_JWT_SECRET="j" * 40)
    assert result.returncode == 0, result.stderr
    principal = await TokenVerifier(JwtSettings(jwt_secret="j" * 40)).verify(result.stdout.strip())
    assert (principal.user_id, principal.display_name) == (user, "Ada")


async def test_token_admin_mints_a_token_the_verifier_takes_for_an_admins(tmp_path: Path) -> None:
    from scoreboard.config import JwtSettings
    from scoreboard.security.bearer import TokenVerifier

    verifier = TokenVerifier(JwtSettings(jwt_secret="j" * 40))
    for args, admin in ((["--admin"], True), ([], False)):
        result = _run(["token", "--user", str(uuid4()), *args], tmp_path, SCOREBOARD_JWT_SECRET="j" * 40)
        assert result.returncode == 0, result.stderr
        assert (await verifier.verify(result.stdout.strip())).admin is admin


def test_an_unusable_flags_provider_stops_the_service_naming_the_variable(tmp_path: Path) -> None:
    env = COMPLETE | {"SCOREBOARD_FLAGS_PROVIDER": "nowhere:factory"}
    result = _run(["api", "--port", "0"], tmp_path, **env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "SCOREBOARD_FLAGS_PROVIDER" in lines[0]
    assert "cannot import nowhere" in lines[0]
