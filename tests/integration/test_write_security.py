"""The write API's refusals (ARCHITECTURE.md: Write API): each forged, stale or malformed request gets its
documented status and code, the `{code, message, details}` body, and changes nothing in PostgreSQL."""

from __future__ import annotations

import base64
import re
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from scoreboard.redis_store.keys import JOB_QUEUE, BoardKeys
from scoreboard.security.bearer import mint_dev_token
from scoreboard.security.client import build_increment_request
from scoreboard.security.tickets import Ticket, TicketBook
from tests.factories import JWT_SECRET, SIGNING_KEYS, TICKET_SECRET, Player
from tests.servers import queue_client, redis_client

INCREMENT = "/api/scores/increment"
ACTIONS = "/api/actions"
LEAKS = ("traceback", 'file "', "select ", "insert ", "update ", "asyncpg", "sqlstate", "postgres", "redis.")

Headers = dict[str, Any]


# ---------------------------------------------------------------- helpers (shared with sibling modules)


def assert_error(
    response: httpx.Response, status: int | tuple[int, ...], code: str, reason: str | None = None
) -> dict[str, Any]:
    """The documented status and code, exactly the three body keys, nothing leaked."""
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "details"}, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["details"], dict)
    if reason is not None:
        assert body["details"].get("reason") == reason, body
    lowered = response.text.lower()
    assert not [leak for leak in LEAKS if leak in lowered], response.text
    assert response.headers.get("x-request-id")
    if response.status_code == 401:
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    if response.status_code in (429, 503):
        retry_after = response.headers["retry-after"]
        assert re.fullmatch(r"[1-9][0-9]*", retry_after), (
            f"Retry-After must be whole seconds >= 1: {retry_after!r}"
        )
    return body


async def user_state(database_url: str, user_id: uuid.UUID) -> tuple[int | None, int]:
    """(score on the global board or None, number of score_events rows) straight from PostgreSQL."""
    connection = await asyncpg.connect(database_url)
    try:
        score = await connection.fetchval(
            "SELECT score FROM scores WHERE board_id = 'global' AND user_id = $1", user_id
        )
        events = await connection.fetchval("SELECT count(*) FROM score_events WHERE user_id = $1", user_id)
    finally:
        await connection.close()
    return score, events


def closed_port() -> int:
    """A local port nobody listens on (a fixed one like 1 may be taken on a shared machine)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def redis_down_url() -> str:
    return f"redis://127.0.0.1:{closed_port()}/0"


def database_down_url() -> str:
    return f"postgresql://postgres@127.0.0.1:{closed_port()}/postgres"


def signed_request(
    player: Player,
    *,
    user_id: str | None = None,
    action_id: str,
    nonce: str,
    delta: int | None = None,
    timestamp: int | None = None,
    key_id: str = "default",
    secret: str | None = None,
) -> tuple[Headers, dict[str, Any]]:
    """A request signed exactly as the contract says (by the backends' own client helper), with
    every input under the caller's control: another user's id, an unknown key id, a wrong secret."""
    request = build_increment_request(
        token=player.token,
        signing_key=secret if secret is not None else SIGNING_KEYS[key_id],
        user_id=user_id if user_id is not None else str(player.user_id),
        action_id=action_id,
        nonce=nonce,
        delta=delta,
        key_id=key_id,
        timestamp=timestamp,
    )
    return request.headers, request.body


def minted_ticket(player: Player, action_type: str, issued_at_ms: int) -> dict[str, Any]:
    """A ticket minted with the server secret (as /api/actions would), for any issue time."""
    ticket = Ticket(player.user_id, uuid.uuid4(), action_type, issued_at_ms)
    return {"actionId": str(ticket.action_id), "nonce": TicketBook(TICKET_SECRET).issue(ticket)}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(user_id: uuid.UUID, ttl_s: int = 300) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": str(user_id), "name": "Mallory", "iat": now, "exp": now + ttl_s}


def alg_none_token(user_id: uuid.UUID) -> str:
    header = _b64(orjson.dumps({"alg": "none", "typ": "JWT"}))
    return f"{header}.{_b64(orjson.dumps(_claims(user_id)))}."


def hs256_token(claims: dict[str, Any], secret: str = JWT_SECRET) -> str:
    return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(secret), algorithms=["HS256"])


# ---------------------------------------------------------------- forged / stale / invalid increments


@dataclass
class Scene:
    api: httpx.AsyncClient
    alice: Player
    bob: Player

    async def alice_signed(
        self, action_type: str = "default", **options: Any
    ) -> tuple[Headers, dict[str, Any]]:
        ticket = await self.alice.ticket(self.api, action_type)
        return self.alice.signed(ticket, **options)


Build = Callable[[Scene], Awaitable[tuple[Headers, Any]]]


def _with_token(token: str) -> Build:
    async def build(scene: Scene) -> tuple[Headers, Any]:
        headers, body = await scene.alice_signed()
        return headers | {"authorization": f"Bearer {token}"}, body

    return build


async def _no_bearer(scene: Scene) -> tuple[Headers, Any]:
    headers, body = await scene.alice_signed()
    del headers["authorization"]
    return headers, body


async def _basic_auth(scene: Scene) -> tuple[Headers, Any]:
    headers, body = await scene.alice_signed()
    return headers | {"authorization": "Basic YWxpY2U6c2VjcmV0"}, body


def _alg_none(scene: Scene) -> Awaitable[tuple[Headers, Any]]:
    return _with_token(alg_none_token(scene.alice.user_id))(scene)


def _other_secret(scene: Scene) -> Awaitable[tuple[Headers, Any]]:
    forged = mint_dev_token(
        "not-the-server-secret-0123456789abcdef0123", user_id=scene.alice.user_id, name="A", ttl_s=300
    )
    return _with_token(forged)(scene)


def _expired_token(scene: Scene) -> Awaitable[tuple[Headers, Any]]:
    now = int(time.time())
    claims = {"sub": str(scene.alice.user_id), "iat": now - 600, "exp": now - 300}
    return _with_token(hs256_token(claims))(scene)


def _token_without_exp(scene: Scene) -> Awaitable[tuple[Headers, Any]]:
    return _with_token(hs256_token({"sub": str(scene.alice.user_id), "iat": int(time.time())}))(scene)


def _token_living_too_long(scene: Scene) -> Awaitable[tuple[Headers, Any]]:
    return _with_token(hs256_token(_claims(scene.alice.user_id, ttl_s=30 * 86400)))(scene)


def _token_garbage(scene: Scene) -> Awaitable[tuple[Headers, Any]]:
    return _with_token("not.a.jwt")(scene)


async def _no_timestamp(scene: Scene) -> tuple[Headers, Any]:
    headers, body = await scene.alice_signed()
    del headers["x-request-timestamp"]
    return headers, body


def _timestamp_header(value: str | bytes) -> Build:
    async def build(scene: Scene) -> tuple[Headers, Any]:
        headers, body = await scene.alice_signed()
        return headers | {"x-request-timestamp": value}, body

    return build


def _timestamp_off(seconds: int) -> Build:
    async def build(scene: Scene) -> tuple[Headers, Any]:
        return await scene.alice_signed(timestamp=int(time.time()) + seconds)

    return build


async def _delta_changed_after_signing(scene: Scene) -> tuple[Headers, Any]:
    headers, body = await scene.alice_signed("quiz", delta=2)
    return headers, body | {"delta": 3}


async def _delta_added_after_signing(scene: Scene) -> tuple[Headers, Any]:
    headers, body = await scene.alice_signed("quiz")
    return headers, body | {"delta": 5}


async def _timestamp_changed_after_signing(scene: Scene) -> tuple[Headers, Any]:
    headers, body = await scene.alice_signed(timestamp=int(time.time()) - 5)
    return headers | {"x-request-timestamp": str(int(time.time()))}, body


async def _action_swapped_after_signing(scene: Scene) -> tuple[Headers, Any]:
    headers, body = await scene.alice_signed()
    other = await scene.alice.ticket(scene.api)
    return headers, body | {"actionId": other["actionId"], "nonce": other["nonce"]}


async def _unknown_key_id(scene: Scene) -> tuple[Headers, Any]:
    ticket = await scene.alice.ticket(scene.api)
    return signed_request(
        scene.alice,
        action_id=ticket["actionId"],
        nonce=ticket["nonce"],
        key_id="retired",
        secret=SIGNING_KEYS["default"],
    )


async def _wrong_secret(scene: Scene) -> tuple[Headers, Any]:
    ticket = await scene.alice.ticket(scene.api)
    return signed_request(
        scene.alice, action_id=ticket["actionId"], nonce=ticket["nonce"], secret="guessed-secret"
    )


async def _somebody_elses_user_id(scene: Scene) -> tuple[Headers, Any]:
    ticket = await scene.bob.ticket(scene.api)
    headers, body = scene.bob.signed(ticket)  # a perfectly signed request for Bob...
    return headers | {"authorization": f"Bearer {scene.alice.token}"}, body  # ...sent with Alice's token


async def _ticket_of_another_user(scene: Scene) -> tuple[Headers, Any]:
    return scene.alice.signed(await scene.bob.ticket(scene.api))


async def _invented_nonce(scene: Scene) -> tuple[Headers, Any]:
    ticket = await scene.alice.ticket(scene.api)
    return scene.alice.signed(ticket | {"nonce": "t1.aW52ZW50ZWQ.aW52ZW50ZWQ"})


async def _nonce_mac_flipped(scene: Scene) -> tuple[Headers, Any]:
    ticket = await scene.alice.ticket(scene.api)
    prefix, body, mac = ticket["nonce"].split(".")
    flipped = mac[:5] + ("A" if mac[5] != "A" else "B") + mac[6:]
    return scene.alice.signed(ticket | {"nonce": f"{prefix}.{body}.{flipped}"})


async def _nonce_upgraded_to_marathon(scene: Scene) -> tuple[Headers, Any]:
    ticket = await scene.alice.ticket(scene.api)
    prefix, body, mac = ticket["nonce"].split(".")
    fields = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode().split("|")
    fields[2] = "marathon"
    fields[3] = str(int(fields[3]) - 3_600_000)  # and pretend it started an hour ago
    return scene.alice.signed(ticket | {"nonce": f"{prefix}.{_b64('|'.join(fields).encode())}.{mac}"})


async def _expired_ticket(scene: Scene) -> tuple[Headers, Any]:
    issued = int(time.time() * 1000) - 700_000  # quiz tickets live 600 s
    return scene.alice.signed(minted_ticket(scene.alice, "quiz", issued))


async def _too_fast_marathon(scene: Scene) -> tuple[Headers, Any]:
    return await scene.alice_signed("marathon")  # min_seconds=30, sent at once


def _body_override(**fields: Any) -> Build:
    async def build(scene: Scene) -> tuple[Headers, Any]:
        headers, body = await scene.alice_signed("quiz")
        return headers, body | fields

    return build


async def _missing_fields(scene: Scene) -> tuple[Headers, Any]:
    headers, body = await scene.alice_signed()
    return headers, {"userId": body["userId"]}


async def _bad_signature_format(scene: Scene) -> tuple[Headers, Any]:
    headers, body = await scene.alice_signed()
    return headers, body | {"signature": "zz" * 32}


REFUSALS: list[Any] = [
    pytest.param(_alg_none, 401, "UNAUTHENTICATED", None, id="jwt-alg-none"),
    pytest.param(_other_secret, 401, "UNAUTHENTICATED", None, id="jwt-other-secret"),
    pytest.param(_expired_token, 401, "UNAUTHENTICATED", None, id="jwt-expired"),
    pytest.param(_token_without_exp, 401, "UNAUTHENTICATED", None, id="jwt-without-exp"),
    pytest.param(_token_living_too_long, 401, "UNAUTHENTICATED", None, id="jwt-lifetime-over-cap"),
    pytest.param(_token_garbage, 401, "UNAUTHENTICATED", None, id="jwt-garbage"),
    pytest.param(_no_bearer, 401, "UNAUTHENTICATED", None, id="bearer-missing"),
    pytest.param(_basic_auth, 401, "UNAUTHENTICATED", None, id="bearer-wrong-scheme"),
    pytest.param(_no_timestamp, 400, "VALIDATION_ERROR", None, id="timestamp-missing"),
    pytest.param(_timestamp_header("soon"), 400, "VALIDATION_ERROR", None, id="timestamp-not-a-number"),
    pytest.param(_timestamp_header("1700000000.5"), 400, "VALIDATION_ERROR", None, id="timestamp-fraction"),
    pytest.param(_timestamp_header(b"\xb2"), 400, "VALIDATION_ERROR", None, id="timestamp-superscript-digit"),
    pytest.param(
        _timestamp_off(-3600), 403, "UNAUTHORIZED", "timestamp_out_of_window", id="timestamp-hour-past"
    ),
    pytest.param(
        _timestamp_off(3600), 403, "UNAUTHORIZED", "timestamp_out_of_window", id="timestamp-hour-future"
    ),
    pytest.param(
        _timestamp_off(-301), 403, "UNAUTHORIZED", "timestamp_out_of_window", id="timestamp-just-stale"
    ),
    pytest.param(
        _delta_changed_after_signing, 403, "UNAUTHORIZED", "signature_invalid", id="sig-delta-changed"
    ),
    pytest.param(_delta_added_after_signing, 403, "UNAUTHORIZED", "signature_invalid", id="sig-delta-added"),
    pytest.param(
        _timestamp_changed_after_signing, 403, "UNAUTHORIZED", "signature_invalid", id="sig-timestamp-changed"
    ),
    pytest.param(
        _action_swapped_after_signing, 403, "UNAUTHORIZED", "signature_invalid", id="sig-action-swapped"
    ),
    pytest.param(_unknown_key_id, 403, "UNAUTHORIZED", "signature_invalid", id="sig-unknown-key-id"),
    pytest.param(_wrong_secret, 403, "UNAUTHORIZED", "signature_invalid", id="sig-wrong-secret"),
    pytest.param(_bad_signature_format, 400, "VALIDATION_ERROR", None, id="sig-not-hex"),
    pytest.param(_somebody_elses_user_id, 403, "UNAUTHORIZED", "user_mismatch", id="user-mismatch"),
    pytest.param(_ticket_of_another_user, 403, "UNAUTHORIZED", "ticket_invalid", id="ticket-of-bob"),
    pytest.param(_invented_nonce, 403, "UNAUTHORIZED", "ticket_invalid", id="ticket-invented"),
    pytest.param(_nonce_mac_flipped, 403, "UNAUTHORIZED", "ticket_invalid", id="ticket-mac-tampered"),
    pytest.param(
        _nonce_upgraded_to_marathon, 403, "UNAUTHORIZED", "ticket_invalid", id="ticket-body-tampered"
    ),
    pytest.param(_expired_ticket, 403, "UNAUTHORIZED", "ticket_expired", id="ticket-expired"),
    pytest.param(_too_fast_marathon, 409, "ABUSE_REJECTED", None, id="ticket-before-not-before"),
    pytest.param(_body_override(userId="alice"), 400, "VALIDATION_ERROR", None, id="user-id-not-uuid"),
    pytest.param(_body_override(actionId="42"), 400, "VALIDATION_ERROR", None, id="action-id-not-uuid"),
    pytest.param(_body_override(delta=0), 400, "VALIDATION_ERROR", None, id="delta-zero"),
    pytest.param(_body_override(delta=-5), 400, "VALIDATION_ERROR", None, id="delta-negative"),
    pytest.param(_body_override(delta="5"), 400, "VALIDATION_ERROR", None, id="delta-string"),
    pytest.param(_body_override(delta=2.5), 400, "VALIDATION_ERROR", None, id="delta-float"),
    pytest.param(_body_override(delta=2.0), 400, "VALIDATION_ERROR", None, id="delta-integral-float"),
    pytest.param(_body_override(delta=True), 400, "VALIDATION_ERROR", None, id="delta-bool"),
    pytest.param(_body_override(nonce=7), 400, "VALIDATION_ERROR", None, id="nonce-not-string"),
    pytest.param(_missing_fields, 400, "VALIDATION_ERROR", None, id="fields-missing"),
]


@pytest.mark.parametrize(("build", "status", "code", "reason"), REFUSALS)
async def test_refused_increment_gets_its_code_and_changes_nothing(
    api: httpx.AsyncClient, database_url: str, build: Build, status: int, code: str, reason: str | None
) -> None:
    scene = Scene(api, Player("Alice"), Player("Bob"))
    for player in (scene.alice, scene.bob):  # a known score to stay unchanged
        assert (await player.play(api)).status_code == 200

    headers, body = await build(scene)
    response = await api.post(INCREMENT, json=body, headers=headers)

    details = assert_error(response, status, code, reason)["details"]
    assert await user_state(database_url, scene.alice.user_id) == (1, 1)
    assert await user_state(database_url, scene.bob.user_id) == (1, 1)
    if "fields" in details:
        assert details["fields"]
        assert all({"field", "problem"} <= set(item) for item in details["fields"])


async def test_non_uuid_ids_name_the_field(api: httpx.AsyncClient, database_url: str) -> None:
    alice = Player()
    headers, body = alice.signed(await alice.ticket(api))
    for field, value in [("userId", "alice"), ("userId", 12), ("actionId", "not-a-uuid"), ("actionId", None)]:
        response = await api.post(INCREMENT, json=body | {field: value}, headers=headers)
        details = assert_error(response, 400, "VALIDATION_ERROR")["details"]
        assert [item["field"] for item in details["fields"]] == [field], (field, value)
    assert await user_state(database_url, alice.user_id) == (None, 0)


async def test_rotated_key_is_accepted(api: httpx.AsyncClient, database_url: str) -> None:
    alice = Player()
    response = await alice.play(api, "quiz", key_id="rotated")
    assert response.status_code == 200, response.text
    assert response.json()["newScore"] == 10
    assert await user_state(database_url, alice.user_id) == (10, 1)
    connection = await asyncpg.connect(database_url)
    try:
        assert (
            await connection.fetchval("SELECT source FROM score_events WHERE user_id = $1", alice.user_id)
            == "rotated"
        )
    finally:
        await connection.close()


# ---------------------------------------------------------------- bodies that are not what they should be


def _oversized(player: Player) -> bytes:
    _headers, body = player.signed({"actionId": str(uuid.uuid4()), "nonce": "t1.x.y"})
    return orjson.dumps(body | {"padding": "x" * 9000})


@pytest.mark.parametrize("path", [INCREMENT, ACTIONS])
async def test_oversized_body_is_refused(api: httpx.AsyncClient, database_url: str, path: str) -> None:
    alice = Player()
    response = await api.post(
        path, content=_oversized(alice), headers=alice.headers() | {"x-request-timestamp": "1"}
    )
    assert_error(response, (400, 413), "VALIDATION_ERROR")
    assert await user_state(database_url, alice.user_id) == (None, 0)


async def test_oversized_body_without_content_length_is_refused(
    api: httpx.AsyncClient, database_url: str
) -> None:
    alice = Player()
    payload = _oversized(alice)

    async def chunks() -> Any:
        for start in range(0, len(payload), 1024):
            yield payload[start : start + 1024]

    response = await api.post(INCREMENT, content=chunks(), headers=alice.headers())
    assert "content-length" not in response.request.headers
    assert_error(response, (400, 413), "VALIDATION_ERROR")
    assert await user_state(database_url, alice.user_id) == (None, 0)


MALFORMED_JSON = [b"{", b"{'type': 'quiz'}", b"\xff\xfe{}", b'{"type": "quiz",}', b"{} {}"]
NOT_AN_OBJECT = [b"[]", b'["quiz"]', b'"quiz"', b"42", b"null", b"true"]


@pytest.mark.parametrize("path", [INCREMENT, ACTIONS])
async def test_malformed_or_non_object_json_is_400(
    api: httpx.AsyncClient, database_url: str, path: str
) -> None:
    alice = Player()
    headers = alice.headers() | {
        "content-type": "application/json",
        "x-request-timestamp": str(int(time.time())),
    }
    for raw in MALFORMED_JSON + NOT_AN_OBJECT:
        response = await api.post(path, content=raw, headers=headers)
        assert response.status_code == 400, (raw, response.text)
        assert_error(response, 400, "VALIDATION_ERROR")
    assert await user_state(database_url, alice.user_id) == (None, 0)


async def test_unknown_or_invalid_action_type_is_400(api: httpx.AsyncClient) -> None:
    alice = Player()
    for action_type in ["chess", "QUIZ", "", "x" * 65, 7, None, ["quiz"]]:
        response = await api.post(ACTIONS, json={"type": action_type}, headers=alice.headers())
        assert response.status_code == 400, (action_type, response.text)
        assert_error(response, 400, "VALIDATION_ERROR")


async def test_ticket_carries_the_documented_fields(api: httpx.AsyncClient) -> None:
    alice = Player()
    before = int(time.time() * 1000)
    response = await api.post(ACTIONS, json={"type": "marathon"}, headers=alice.headers())
    assert response.status_code == 201, response.text
    ticket = response.json()
    assert {"actionId", "nonce", "type", "notBefore", "expiresAt"} <= set(ticket)
    assert ticket["type"] == "marathon"
    assert uuid.UUID(ticket["actionId"]).version == 7
    assert before + 30_000 <= ticket["notBefore"] <= int(time.time() * 1000) + 30_000
    # notBefore is decided on Redis's clock (staggered across API processes), expiresAt on ours.
    assert abs(ticket["expiresAt"] - ticket["notBefore"] - (3_600_000 - 30_000)) <= 100


# ---------------------------------------------------------------- failing closed


async def test_no_signing_keys_fails_closed_with_503(api_factory: Any, database_url: str) -> None:
    api = await api_factory(signing_keys={})
    alice = Player()
    response = await alice.play(api, "quiz")
    assert_error(response, 503, "UNAVAILABLE")
    assert await user_state(database_url, alice.user_id) == (None, 0)


async def test_database_down_is_503_and_nothing_is_half_written(
    api_factory: Any, redis_url: str, queue_redis_url: str, database_url: str
) -> None:
    api = await api_factory(database_url=database_down_url())
    alice = Player()
    ticket = await alice.ticket(api, "quiz")  # tickets are stateless: no database needed
    headers, body = alice.signed(ticket)

    response = await api.post(INCREMENT, json=body, headers=headers)

    assert_error(response, 503, "UNAVAILABLE")
    redis = redis_client(redis_url)
    try:
        keys = BoardKeys("global")
        assert await redis.zcard(keys.ranking) == 0
        assert await redis.hlen(keys.members) == 0
        assert await redis.hget("sb:profiles", str(alice.user_id)) is None
        assert await redis.xlen("scores.updated") == 0
    finally:
        await redis.aclose()
    queue = queue_client(queue_redis_url)
    try:
        assert await queue.zcard(JOB_QUEUE) == 0
    finally:
        await queue.aclose()
    assert await user_state(database_url, alice.user_id) == (None, 0)


# ---------------------------------------------------------------- request ids


async def test_sane_request_id_is_echoed(api: httpx.AsyncClient) -> None:
    alice = Player()
    for sent in ["req-0123456789", "trace:abc.DEF_42", "a" * 128, str(uuid.uuid4())]:
        headers, body = alice.signed(await alice.ticket(api))
        ok = await api.post(INCREMENT, json=body, headers=headers | {"x-request-id": sent})
        refused = await api.post(INCREMENT, json={}, headers={"x-request-id": sent})
        assert ok.status_code == 200
        assert refused.status_code == 401
        assert ok.headers["x-request-id"] == sent
        assert refused.headers["x-request-id"] == sent


async def test_insane_request_id_is_replaced(api: httpx.AsyncClient) -> None:
    insane = [
        "short",
        "has spaces in it",
        "<script>alert(1)</script>",
        "a" * 129,
        "tab\tinside-0123",
        "ünïcode-123456",
    ]
    for sent in insane:
        response = await api.post(INCREMENT, json={}, headers={"x-request-id": sent.encode("utf-8")})
        assert response.status_code == 401
        echoed = response.headers["x-request-id"]
        assert echoed != sent.encode("utf-8").decode("latin-1"), sent
        assert re.fullmatch(r"[A-Za-z0-9._:-]{8,128}", echoed), echoed


async def test_every_response_carries_a_request_id(api: httpx.AsyncClient) -> None:
    alice = Player()
    responses = [
        await api.post(ACTIONS, json={"type": "quiz"}, headers=alice.headers()),
        await api.post(ACTIONS, json={"type": "nope"}, headers=alice.headers()),
        await api.post(INCREMENT, content=b"{", headers=alice.headers()),
        await api.get("/api/no-such-route"),
    ]
    ids = [response.headers.get("x-request-id") for response in responses]
    assert all(ids)
    assert len(set(ids)) == len(ids)
