"""docs/scaling.md stays true: every Scoreboard metric its alerts and tables name is one the
services export, and the simulation it cites exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "scaling.md").read_text()
MIGRATIONS = ROOT / "libs" / "scoreboard" / "db" / "migrations"


def _exported_names() -> set[str]:
    sources = [ROOT / "libs" / "scoreboard" / "telemetry" / "metrics.py"]
    sources += sorted((ROOT / "services").glob("*/metrics.py"))
    return {name for path in sources for name in re.findall(r'"(scoreboard_[a-z_]+)"', path.read_text())}


def _sql_functions() -> set[str]:
    sql = "".join(path.read_text() for path in MIGRATIONS.glob("*.sql"))
    return set(re.findall(r"FUNCTION (scoreboard_[a-z_]+)", sql))


def test_every_scoreboard_metric_in_the_doc_is_exported() -> None:
    named = {re.sub(r"_(bucket|sum|count)$", "", name) for name in re.findall(r"\bscoreboard_[a-z_]+", DOC)}
    named -= _sql_functions()
    assert named, "the doc names no metric"
    assert named <= _exported_names(), sorted(named - _exported_names())


def test_the_cited_simulation_exists() -> None:
    for path in re.findall(r"`(tests/[a-z_/]+\.py)`", DOC):
        assert (ROOT / path).is_file(), path
