"""/api/openapi.json stays true: every route is documented, and real answers match the document."""

from __future__ import annotations

import httpx
import pytest
from jsonschema import Draft202012Validator
from starlette.routing import Route

from services.api.app import create_app
from services.api.openapi import DOCUMENT
from tests.factories import Player, api_settings


def _routes() -> set[tuple[str, str]]:
    app = create_app(api_settings("postgresql://unused", "redis://unused"))
    return {
        (route.path, method.lower())
        for route in app.routes
        if isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}
    }


def _documented() -> set[tuple[str, str]]:
    return {(path, method) for path, item in DOCUMENT["paths"].items() for method in item}


def test_every_route_is_documented_and_nothing_else() -> None:
    assert _routes() == _documented()


def _check(response: httpx.Response, path: str, method: str = "get") -> None:
    operation = DOCUMENT["paths"][path][method]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method.upper()} {path} answered {status}, undocumented"
    content = operation["responses"][status].get("content")
    if not content:
        return
    schema = content["application/json"]["schema"]
    # "#/components/..." references resolve against this root, which carries the components.
    Draft202012Validator({**schema, "components": DOCUMENT["components"]}).validate(response.json())


async def test_real_answers_match_the_document(api: httpx.AsyncClient) -> None:
    alice = Player("Alice")
    auth = alice.headers()
    ticket = await api.post("/api/actions", json={"type": "quiz"}, headers=auth)
    _check(ticket, "/api/actions", "post")
    headers, body = alice.signed(ticket.json())
    for _ in range(2):  # committed, then replayed
        _check(
            await api.post("/api/scores/increment", json=body, headers=headers),
            "/api/scores/increment",
            "post",
        )
    _check(await api.post("/api/scores/increment", json={}, headers=auth), "/api/scores/increment", "post")
    _check(await api.post("/api/scores/increment", json=body), "/api/scores/increment", "post")
    _check(
        await api.post("/api/scores/increment", json=body | {"delta": 3}, headers=headers),
        "/api/scores/increment",
        "post",
    )
    _check(await api.get("/api/leaderboard/top"), "/api/leaderboard/top")
    _check(await api.get("/api/leaderboard/top?limit=99"), "/api/leaderboard/top")
    _check(await api.get("/api/scores/me", headers=auth), "/api/scores/me")
    _check(await api.get("/api/leaderboard/around/me", headers=auth), "/api/leaderboard/around/me")
    _check(await api.get("/api/realtime/token", headers=auth), "/api/realtime/token")
    _check(await api.get("/healthz"), "/healthz")
    _check(await api.get("/readyz"), "/readyz")
    served = await api.get("/api/openapi.json")
    assert served.json() == DOCUMENT


@pytest.mark.parametrize("status", ["400", "401", "403", "409", "429", "503"])
def test_the_increment_documents_every_error_of_the_contract(status: str) -> None:
    assert status in DOCUMENT["paths"]["/api/scores/increment"]["post"]["responses"]
