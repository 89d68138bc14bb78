"""The README stays true: its two commands open it, CI runs its test command, every setting is in it."""

from __future__ import annotations

import re
from pathlib import Path

from services.api.settings import ApiSettings
from services.gateway.settings import GatewaySettings
from services.worker.settings import WorkerProcessSettings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SETTINGS_NOT_FOR_OPERATORS = {"worker_host", "worker_port"}  # set by --host/--port


def _bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", README, flags=re.S)


def test_the_readme_opens_with_the_start_and_the_test_command() -> None:
    start, test = _bash_blocks()[:2]
    assert "scoreboard dev" in start
    assert "pip install -e '.[test]'" in test
    assert test.strip().endswith(".venv/bin/pytest")


def test_ci_runs_what_the_readme_says() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 -m venv .venv" in ci
    assert ".venv/bin/pytest" in ci


def test_every_setting_is_documented() -> None:
    fields = {*ApiSettings.model_fields, *WorkerProcessSettings.model_fields, *GatewaySettings.model_fields}
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", README))
    wanted = fields - SETTINGS_NOT_FOR_OPERATORS
    missing = sorted(name.upper() for name in wanted if name.upper() not in documented)
    assert not missing, f"README lacks {missing}"
