"""The admin page's session: it ends at its time whatever the cookie says, and ids are stable."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, replace

import pytest
from starlette.requests import Request

from scoreboard.domain.errors import Unauthenticated
from services.api import admin_session
from services.api.admin_session import SignedIn, user_id_of


def _request(session: dict[str, object]) -> Request:
    return Request(
        {"type": "http", "method": "GET", "path": "/api/admin/flags", "headers": [], "session": session}
    )


def _identity(ttl_s: int = 60) -> SignedIn:
    return SignedIn.start(user_id=uuid.uuid4(), subject="ada", name="Ada", admin=True, ttl_s=ttl_s)


def test_a_live_session_is_its_admin() -> None:
    identity = _identity()
    request = _request({admin_session.SESSION_KEY: asdict(identity)})
    assert admin_session.current(request) == identity
    assert identity.principal().admin
    assert len(identity.csrf) >= 40


def test_an_ended_session_is_401_and_cleared() -> None:
    ended = replace(_identity(), expires_at=time.time() - 1)
    session: dict[str, object] = {admin_session.SESSION_KEY: asdict(ended), "other": 1}
    with pytest.raises(Unauthenticated) as error:
        admin_session.current(_request(session))
    assert error.value.details["reason"] == "token_expired"
    assert session == {}


@pytest.mark.parametrize("stored", [None, {}, {"user_id": "x"}, "text"])
def test_anything_else_in_the_session_is_nobody(stored: object) -> None:
    assert admin_session.current(_request({admin_session.SESSION_KEY: stored})) is None


def test_without_the_session_middleware_there_is_no_session() -> None:
    request = Request({"type": "http", "method": "GET", "path": "/api/admin/flags", "headers": []})
    assert admin_session.current(request) is None


def test_user_ids_keep_uuid_subjects_and_map_others_per_issuer() -> None:
    subject = str(uuid.uuid4())
    assert user_id_of("https://a", subject) == uuid.UUID(subject)
    assert user_id_of("https://a", "ada") == user_id_of("https://a", "ada")
    assert user_id_of("https://a", "ada") != user_id_of("https://b", "ada")
    assert user_id_of("https://a", "ada") != user_id_of("https://a", "bob")
