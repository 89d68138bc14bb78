"""The demo page's dev-only routes: a session (renewable only with its own token), the signer,
and both for loopback clients only unless the loudly named setting says otherwise."""

from __future__ import annotations

import uuid

import httpx
import pytest

from scoreboard.security.bearer import mint_dev_token
from tests.factories import JWT_SECRET, Player
from tests.integration.conftest import ApiClientFactory
from tests.integration.test_write_security import assert_error


def from_address(api: httpx.AsyncClient, address: str) -> httpx.AsyncClient:
    """The same app, reached from another peer address."""
    app = api._transport.app  # type: ignore[attr-defined]
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=api.base_url)


async def test_dev_routes_exist_only_when_turned_on(api_factory: ApiClientFactory) -> None:
    plain = await api_factory()
    assert (await plain.post("/dev/session")).status_code == 404
    assert (await plain.get("/")).status_code == 404


async def test_a_session_is_renewed_for_the_same_player_with_its_token(api_factory: ApiClientFactory) -> None:
    api = await api_factory(dev_signing_route=True)
    first = (await api.post("/dev/session?name=Ann")).json()

    again = await api.post("/dev/session", headers={"authorization": f"Bearer {first['token']}"})

    assert again.json()["userId"] == first["userId"]
    assert again.json()["name"] == "Ann"
    me = await api.get("/api/scores/me", headers={"authorization": f"Bearer {again.json()['token']}"})
    assert me.json()["userId"] == first["userId"]


async def test_an_expired_token_still_renews_its_own_player(api_factory: ApiClientFactory) -> None:
    api = await api_factory(dev_signing_route=True)
    user = uuid.uuid4()
    expired = mint_dev_token(JWT_SECRET, user_id=user, name="Ann", ttl_s=-120)

    renewed = await api.post("/dev/session", headers={"authorization": f"Bearer {expired}"})

    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["userId"] == str(user)


async def test_naming_a_victim_does_not_become_the_victim(api_factory: ApiClientFactory) -> None:
    api = await api_factory(dev_signing_route=True)
    victim = str(uuid.uuid4())

    session = await api.post(f"/dev/session?userId={victim}")

    assert session.status_code == 200
    assert session.json()["userId"] != victim


@pytest.mark.parametrize(
    "proof",
    [
        mint_dev_token("another-secret-0123456789abcdef0123456789", user_id=uuid.uuid4(), name="X", ttl_s=60),
        mint_dev_token(JWT_SECRET, user_id=uuid.uuid4(), name="X", ttl_s=-30 * 86_400),  # long expired
        "not-a-token",
    ],
    ids=["forged", "expired-long-ago", "garbage"],
)
async def test_a_renewal_without_a_valid_proof_is_401(api_factory: ApiClientFactory, proof: str) -> None:
    api = await api_factory(dev_signing_route=True)

    refused = await api.post("/dev/session", headers={"authorization": f"Bearer {proof}"})

    assert_error(refused, 401, "UNAUTHENTICATED")


async def test_the_dev_signer_signs_only_for_the_caller(api_factory: ApiClientFactory) -> None:
    api = await api_factory(dev_signing_route=True)
    ann = Player("Ann")
    ticket = await ann.ticket(api)
    unsigned = {"userId": str(ann.user_id), "actionId": ticket["actionId"], "nonce": ticket["nonce"]}
    signed = (await api.post("/dev/sign", json=unsigned, headers=ann.headers())).json()
    body = unsigned | {"signature": signed["signature"], "keyId": signed["keyId"]}
    headers = ann.headers() | {"x-request-timestamp": signed["timestamp"]}
    assert (await api.post("/api/scores/increment", json=body, headers=headers)).status_code == 200
    someone_else = unsigned | {"userId": str(uuid.uuid4())}
    refused = await api.post("/dev/sign", json=someone_else, headers=ann.headers())
    assert refused.status_code == 403


@pytest.mark.parametrize(
    ("peer", "forwarded_for"),
    [
        ("203.0.113.7", None),  # a remote client
        ("203.0.113.7", "127.0.0.1"),  # a remote client claiming to be local (not a trusted proxy)
        ("127.0.0.1", "203.0.113.7"),  # a remote client behind the trusted local proxy
    ],
    ids=["remote", "spoofed-forwarded-for", "behind-proxy"],
)
async def test_dev_routes_refuse_clients_that_are_not_local(
    api_factory: ApiClientFactory, peer: str, forwarded_for: str | None
) -> None:
    api = await api_factory(dev_signing_route=True)
    headers = {"x-forwarded-for": forwarded_for} if forwarded_for else {}
    async with from_address(api, peer) as remote:
        for method, path in (("GET", "/"), ("POST", "/dev/session"), ("POST", "/dev/sign")):
            response = await remote.request(method, path, headers=headers)
            assert_error(response, 404, "NOT_FOUND")
            assert "loopback" in response.json()["message"]


async def test_the_loudly_named_setting_lets_remote_clients_in(api_factory: ApiClientFactory) -> None:
    api = await api_factory(dev_signing_route=True, dev_routes_allow_remote_insecure=True)
    async with from_address(api, "203.0.113.7") as remote:
        assert (await remote.post("/dev/session")).status_code == 200
