"""/api/openapi.json stays true: every route is documented, and real answers match the document."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from starlette.routing import Route

from scoreboard.domain.boards import BOARD_PATTERN
from services.api.app import create_app
from services.api.openapi import build_document
from services.api.schemas import ActionRequest, IncrementRequest
from tests.factories import ACTION_TYPES, Player, api_settings

DOCUMENT = build_document(ACTION_TYPES)  # the document of an app with the test settings


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
    root = Player("Root", admin=True).headers()
    _check(await api.get("/api/admin/flags", headers=root), "/api/admin/flags")
    _check(await api.get("/api/admin/flags", headers=auth), "/api/admin/flags")
    _check(await api.get("/api/admin/flags"), "/api/admin/flags")
    for body in ({"realtime": True, "reason": "documented"}, {"realtime": "yes", "reason": "x"}):
        _check(await api.put("/api/admin/flags", json=body, headers=root), "/api/admin/flags", "put")
    _check(
        await api.put("/api/admin/flags", content=b"{" + b" " * 40_000 + b"}", headers=root),
        "/api/admin/flags",
        "put",
    )
    _check(await api.get("/api/admin/audit?limit=1", headers=root), "/api/admin/audit")
    _check(await api.get("/api/admin/audit?cursor=nope", headers=root), "/api/admin/audit")
    _check(await api.get("/healthz"), "/healthz")
    _check(await api.get("/readyz"), "/readyz")
    served = await api.get("/api/openapi.json")
    assert served.json() == DOCUMENT


async def test_moderation_answers_match_the_document(api: httpx.AsyncClient) -> None:
    ann, pat, alex = Player("Ann"), Player("Pat", admin=True), Player("Alex", admin=True)
    assert (await ann.play(api, "quiz")).status_code == 200
    path = "/api/admin/adjustments"
    proposal = {"userId": str(ann.user_id), "board": "global", "delta": -3, "reason": "documented"}
    proposed = await api.post(path, json=proposal, headers=pat.headers())
    _check(proposed, path, "post")
    _check(await api.post(path, json=proposal | {"delta": 0}, headers=pat.headers()), path, "post")
    _check(await api.post(path, json=proposal | {"board": "nope"}, headers=pat.headers()), path, "post")
    approve = "/api/admin/adjustments/{id}/approve"
    decided = f"/api/admin/adjustments/{proposed.json()['id']}/approve"
    for admin in (pat, alex, alex):  # same reviewer, approved, approved already
        _check(await api.post(decided, json={"reason": "ok"}, headers=admin.headers()), approve, "post")
    _check(await api.get(f"{path}?status=approved", headers=pat.headers()), path)
    ban = "/api/admin/users/{id}/ban"
    for _ in range(2):  # banned, then banned already
        _check(
            await api.post(
                f"/api/admin/users/{ann.user_id}/ban", json={"reason": "r"}, headers=pat.headers()
            ),
            ban,
            "post",
        )
    _check(await api.get("/api/scores/me", headers=ann.headers()), "/api/scores/me")
    _check(
        await api.post("/api/actions", json={"type": "quiz"}, headers=ann.headers()), "/api/actions", "post"
    )
    unban = "/api/admin/users/{id}/unban"
    _check(
        await api.post(f"/api/admin/users/{ann.user_id}/unban", json={"reason": "r"}, headers=pat.headers()),
        unban,
        "post",
    )
    _check(await api.get("/api/admin/reviews?status=open", headers=pat.headers()), "/api/admin/reviews")
    clear = "/api/admin/reviews/{id}/clear"
    _check(
        await api.post(
            f"/api/admin/reviews/{ann.user_id}/clear", json={"reason": "r"}, headers=pat.headers()
        ),
        clear,
        "post",
    )


@pytest.mark.parametrize("status", ["400", "401", "403", "409", "429", "503"])
def test_the_increment_documents_every_error_of_the_contract(status: str) -> None:
    assert status in DOCUMENT["paths"]["/api/scores/increment"]["post"]["responses"]


# The document can be no looser (or stricter) than the server: request bodies are the server's
# own models, and every documented parameter constraint is probed against the server's answers.


def test_request_bodies_are_the_schemas_of_the_models_the_server_validates_with() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    assert schemas["IncrementRequest"] == IncrementRequest.model_json_schema()
    action = ActionRequest.model_json_schema()
    action["properties"]["type"]["enum"] = sorted(ACTION_TYPES)
    assert schemas["ActionRequest"] == action
    board = DOCUMENT["paths"]["/api/leaderboard/top"]["get"]["parameters"][1]
    assert board["schema"]["pattern"] == BOARD_PATTERN.pattern


async def test_every_action_type_in_the_document_is_accepted_and_no_other(api: httpx.AsyncClient) -> None:
    alice = Player("Alice")
    enum = DOCUMENT["components"]["schemas"]["ActionRequest"]["properties"]["type"]["enum"]
    for action_type in [*enum, "unknown", "Default", "quiz "]:
        response = await api.post("/api/actions", json={"type": action_type}, headers=alice.headers())
        assert response.status_code == (201 if action_type in enum else 400), action_type


_STRING_PROBES = ["global", "a", "a" * 31, "a" * 32, "a" * 33, "a" * 64, "a" * 65, "", "A", "-a", "_a"]
_STRING_PROBES += ["a_b-c", "a.b", "a:b", "a b", "a/b", "é", "123", "1" * 12, "1" * 13, "-1", "1.5"]


def _probes(schema: dict[str, Any]) -> list[str]:
    if schema["type"] == "integer":
        low, high = schema["minimum"], schema["maximum"]
        return [str(value) for value in (low - 1, low, high, high + 1)] + ["x", "1.5", ""]
    return _STRING_PROBES


def _documented_as_valid(schema: dict[str, Any], raw: str) -> bool:
    value: Any = raw
    if schema["type"] == "integer":
        if not re.fullmatch(r"-?[0-9]+", raw):
            return False
        value = int(raw)
    return Draft202012Validator(schema).is_valid(value)


def _constrained_parameters() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, parameter)
        for path, item in DOCUMENT["paths"].items()
        for method, operation in item.items()
        for parameter in operation.get("parameters", [])
        if {"pattern", "minimum", "maximum"} & set(parameter["schema"])
    ]


@pytest.mark.parametrize(
    ("path", "method", "parameter"),
    _constrained_parameters(),
    ids=[f"{method}-{path}-{parameter['name']}" for path, method, parameter in _constrained_parameters()],
)
async def test_the_server_refuses_exactly_the_parameters_the_document_refuses(
    api: httpx.AsyncClient, path: str, method: str, parameter: dict[str, Any]
) -> None:
    # The admin routes look at nothing of a request before its caller is known to be an admin.
    alice = Player("Alice", admin=path.startswith("/api/admin/"))
    disagreements = []
    for raw in _probes(parameter["schema"]):
        headers, body = alice.headers(), None
        if method == "post":
            headers, body = alice.signed(await alice.ticket(api, "quiz"))
        params = {parameter["name"]: raw} if parameter["in"] == "query" else {}
        raw_headers = [(name.encode(), value.encode()) for name, value in headers.items()]
        if parameter["in"] == "header":
            raw_headers = [(n, v) for n, v in raw_headers if n != parameter["name"].encode()]
            raw_headers.append((parameter["name"].encode(), raw.encode()))
        response = await api.request(method, path, params=params, headers=raw_headers, json=body)
        refused = response.status_code == 400
        if refused == _documented_as_valid(parameter["schema"], raw):
            disagreements.append((raw, response.status_code, response.text[:120]))
    assert not disagreements, f"{parameter['name']}: the server and the document disagree on {disagreements}"
