"""Generated requests against a live `scoreboard api` (real process, real PostgreSQL and Redis):
no answer is a 5xx, and every answer is what /api/openapi.json documents (status, content type,
headers, body schema); requests the document calls invalid are refused.

Bounded: SCOREBOARD_SCHEMATHESIS_EXAMPLES examples per operation and per generation mode
(positive, negative), 25 by default, a few hundred requests in all.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from schemathesis import BaseSchema, Case, GenerationMode

from devstack.processes import ServiceProcess
from services.api.openapi import build_document
from tests.factories import ACTION_TYPES, Player, service_environment
from tests.servers import ServerSet

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

EXAMPLES = int(os.environ.get("SCOREBOARD_SCHEMATHESIS_EXAMPLES", "25"))
PLAYER = Player("Fuzzy")


@pytest.fixture(scope="module")
def live_api(servers: ServerSet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    database_url = asyncio.run(servers.create_database())
    env = service_environment(database_url, servers.redis_url) | {
        # Every generated request is one user's: the limits would soon answer only 429s.
        "SCOREBOARD_RATE_LIMIT_USER_PER_MIN": "1000000",
        "SCOREBOARD_RATE_LIMIT_IP_PER_MIN": "1000000",
    }
    log_path = tmp_path_factory.mktemp("schemathesis") / "api.log"
    api = ServiceProcess("api", env, log_path=log_path)
    try:
        api.start(wait_for="/readyz")
        asyncio.run(_seed(api.url))
        yield api
    finally:
        api.stop()
        asyncio.run(servers.drop_database(database_url))


async def _seed(api_url: str) -> None:
    """Scores to read, so the read routes answer with entries (an empty list fits any schema)."""
    async with httpx.AsyncClient(base_url=api_url, timeout=10) as client:
        for player, action_type in [(PLAYER, "quiz"), (Player("Ann"), "quiz"), (Player("Bo"), "default")]:
            response = await player.play(client, action_type)
            assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def live_schema(live_api: ServiceProcess) -> BaseSchema:
    """The document the running API serves (test_openapi.py checks it is build_document's)."""
    config = schemathesis.Config.from_dict({"auth": {"openapi": {"bearer": {"bearer": PLAYER.token}}}})
    return schemathesis.openapi.from_url(f"{live_api.url}/api/openapi.json", config=config)


# Operations are listed from the document an app with the test settings serves, so each one is
# its own test; the cases are generated from the live document. An operation with nothing to
# make invalid (no parameter, body or credentials) has no negative cases.
DOCUMENT = build_document(ACTION_TYPES)
CASES = [
    (method.upper(), path, mode)
    for path, item in DOCUMENT["paths"].items()
    for method, operation in item.items()
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or {"parameters", "requestBody", "security"} & set(operation)
]


def _integral_float(value: Any) -> bool:
    """885.0: an integer to JSON Schema, refused by the server's strict types (docs/security.md).
    JSON Schema cannot tell the two apart, so the document says it in words; such cases are
    left out of the positive ones."""
    if isinstance(value, dict):
        return any(_integral_float(item) for item in value.values())
    return isinstance(value, float) and value.is_integer()


@pytest.mark.parametrize(("method", "path", "mode"), CASES, ids=[f"{m} {p} {mode}" for m, p, mode in CASES])
def test_generated_requests_get_documented_answers(
    live_api: ServiceProcess, live_schema: BaseSchema, method: str, path: str, mode: GenerationMode
) -> None:
    operation = live_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def answers_as_documented(case: Case) -> None:
        assume(mode is GenerationMode.NEGATIVE or not _integral_float(case.body))
        case.call_and_validate(base_url=live_api.url)

    answers_as_documented()
