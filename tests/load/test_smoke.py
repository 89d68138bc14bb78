"""A short smoke of every benchmark scenario: fails on errors or lost events, never on timing.

Each runs `python -m tests.load <scenario> --smoke` as an operator would, on embedded servers
in a temporary directory (any configured SCOREBOARD_DATABASE_URL / SCOREBOARD_REDIS_URL is
ignored here: the scenarios write rows and `rebuild` flushes Redis), loopback and free ports only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.load.__main__ import SCENARIOS

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_smoke(scenario: str, tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("SCOREBOARD_DATABASE_URL", "SCOREBOARD_REDIS_URL")
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.load", scenario, "--smoke", "--out", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    output = f"stdout:\n{done.stdout}\nstderr:\n{done.stderr[-4000:]}"
    result_file = tmp_path / f"{scenario}.json"
    assert result_file.exists(), output
    result = json.loads(result_file.read_text())
    assert result["errors"] == 0, output
    assert result["lost"] == 0, output
    assert result["rows"], output
    assert done.returncode == 0, output
