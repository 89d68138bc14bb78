"""The demo page's dev-only routes: a session (renewable for the same player) and the signer."""

from __future__ import annotations

import uuid

from tests.factories import Player
from tests.integration.conftest import ApiClientFactory


async def test_dev_routes_exist_only_when_turned_on(api_factory: ApiClientFactory) -> None:
    plain = await api_factory()
    assert (await plain.post("/dev/session")).status_code == 404
    assert (await plain.get("/")).status_code == 404


async def test_a_session_is_renewed_for_the_same_player(api_factory: ApiClientFactory) -> None:
    api = await api_factory(dev_signing_route=True)
    first = (await api.post("/dev/session?name=Ann")).json()
    again = (await api.post(f"/dev/session?name=Ann&userId={first['userId']}")).json()
    assert again["userId"] == first["userId"]
    me = await api.get("/api/scores/me", headers={"authorization": f"Bearer {again['token']}"})
    assert me.json()["userId"] == first["userId"]


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
