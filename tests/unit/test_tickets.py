"""Action tickets: tamper-proof, bound to user and action, with a lifetime and a minimum duration."""

from __future__ import annotations

import base64
from uuid import UUID, uuid4

import pytest

from scoreboard.domain.actions import ActionType
from scoreboard.domain.errors import AbuseRejected, Reason, Unauthorized
from scoreboard.security.tickets import Ticket, TicketBook, check_ticket

SECRET = "ticket-secret-" + "x" * 32
QUEST = ActionType(name="quest", points=10, min_seconds=5, ttl_seconds=60)
ISSUED_MS = 1_700_000_000_000


def _ticket(user: UUID | None = None, action: UUID | None = None, kind: str = "quest") -> Ticket:
    return Ticket(user or uuid4(), action or uuid4(), kind, ISSUED_MS)


def _presented(
    ticket: Ticket, elapsed_ms: int, user_id: UUID | None = None, action_id: UUID | None = None
) -> ActionType:
    """Check a quest's ticket `elapsed_ms` after it was issued, as presented by its own user for
    its own action unless another one is given."""
    return check_ticket(
        ticket,
        user_id=user_id or ticket.user_id,
        action_id=action_id or ticket.action_id,
        action_type=QUEST,
        now_ms=ISSUED_MS + elapsed_ms,
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _reason(error: pytest.ExceptionInfo[Unauthorized] | pytest.ExceptionInfo[AbuseRejected]) -> Reason | None:
    return error.value.reason


def test_issued_ticket_reads_back_unchanged() -> None:
    book = TicketBook(SECRET)
    ticket = _ticket()
    assert book.read(book.issue(ticket)) == ticket


def test_tampered_body_is_ticket_invalid() -> None:
    book = TicketBook(SECRET)
    ticket = _ticket()
    prefix, _, mac = book.issue(ticket).split(".")
    forged_body = _b64(f"{uuid4()}|{ticket.action_id}|quest|{ISSUED_MS}".encode())
    with pytest.raises(Unauthorized) as error:
        book.read(f"{prefix}.{forged_body}.{mac}")
    assert _reason(error) is Reason.TICKET_INVALID


def test_tampered_mac_is_ticket_invalid() -> None:
    book = TicketBook(SECRET)
    prefix, body, mac = book.issue(_ticket()).split(".")
    flipped = ("A" if mac[0] != "A" else "B") + mac[1:]
    with pytest.raises(Unauthorized) as error:
        book.read(f"{prefix}.{body}.{flipped}")
    assert _reason(error) is Reason.TICKET_INVALID


def test_ticket_from_another_secret_is_ticket_invalid() -> None:
    nonce = TicketBook("another-secret-" + "y" * 32).issue(_ticket())
    with pytest.raises(Unauthorized) as error:
        TicketBook(SECRET).read(nonce)
    assert _reason(error) is Reason.TICKET_INVALID


@pytest.mark.parametrize("nonce", ["", "garbage", "t1.only-two", "t2.a.b", "t1.a.b.c", "t1..", "t1.!!!.???"])
def test_malformed_nonce_is_ticket_invalid(nonce: str) -> None:
    with pytest.raises(Unauthorized) as error:
        TicketBook(SECRET).read(nonce)
    assert _reason(error) is Reason.TICKET_INVALID


@pytest.mark.parametrize(
    ("prefix", "fields"),
    [
        ("t1", b"not-a-uuid|also-not|quest|soon"),
        ("t2", b"not-a-uuid|also-not|quest|soon|later"),
        ("t2", b"only|four|fields|here"),
    ],
)
def test_validly_signed_body_with_bad_fields_is_ticket_invalid(prefix: str, fields: bytes) -> None:
    book = TicketBook(SECRET)
    body = _b64(fields)
    nonce = f"{prefix}.{body}.{book._mac(prefix, body)}"
    with pytest.raises(Unauthorized) as error:
        book.read(nonce)
    assert _reason(error) is Reason.TICKET_INVALID


def test_a_ticket_issued_before_staggering_is_still_honoured() -> None:
    """t1 tickets (no notBefore of their own) stay valid across the upgrade: min_seconds applies."""
    book = TicketBook(SECRET)
    ticket = _ticket()
    body = _b64(f"{ticket.user_id}|{ticket.action_id}|{ticket.action_type}|{ticket.issued_at_ms}".encode())
    legacy = book.read(f"t1.{body}.{book._mac('t1', body)}")
    assert legacy == ticket
    assert legacy.not_before_ms(QUEST) == ISSUED_MS + int(QUEST.min_seconds * 1000)


def test_a_t1_mac_does_not_validate_the_same_body_as_t2() -> None:
    """The version is under the MAC: a body cannot be replayed under another version."""
    book = TicketBook(SECRET)
    body = _b64(b"00000000-0000-0000-0000-000000000001|00000000-0000-0000-0000-000000000002|quest|1|1")
    with pytest.raises(Unauthorized):
        book.read(f"t2.{body}.{book._mac('t1', body)}")


def test_a_staggered_ticket_is_refused_before_its_own_not_before() -> None:
    ticket = Ticket(uuid4(), uuid4(), "quest", ISSUED_MS, earliest_ms=ISSUED_MS + 60_000)
    read = TicketBook(SECRET).read(TicketBook(SECRET).issue(ticket))
    assert read.not_before_ms(QUEST) == ISSUED_MS + 60_000
    with pytest.raises(AbuseRejected):
        _presented(read, 59_000)


def test_non_ascii_nonce_is_ticket_invalid_not_a_crash() -> None:
    # A nonce is any string up to 512 chars in the request schema, so this reaches read().
    with pytest.raises(Unauthorized) as error:
        TicketBook(SECRET).read("t1.abc.é")
    assert _reason(error) is Reason.TICKET_INVALID


@pytest.mark.parametrize(
    "elapsed_ms",
    [5_000, 60_000],  # from the minimum duration up to the last millisecond of the TTL
    ids=["at the minimum duration", "at the end of the ttl"],
)
def test_check_accepts_the_bound_user_and_action_inside_the_window(elapsed_ms: int) -> None:
    assert _presented(_ticket(), elapsed_ms) is QUEST


def test_expired_ticket_is_ticket_expired() -> None:
    with pytest.raises(Unauthorized) as error:
        _presented(_ticket(), 60_001)
    assert _reason(error) is Reason.TICKET_EXPIRED


def test_ticket_of_another_user_is_ticket_invalid() -> None:
    with pytest.raises(Unauthorized) as error:
        _presented(_ticket(), 6_000, user_id=uuid4())
    assert _reason(error) is Reason.TICKET_INVALID


def test_ticket_for_another_action_id_is_ticket_invalid() -> None:
    with pytest.raises(Unauthorized) as error:
        _presented(_ticket(), 6_000, action_id=uuid4())
    assert _reason(error) is Reason.TICKET_INVALID


def test_finished_faster_than_min_seconds_is_abuse_rejected_too_fast() -> None:
    with pytest.raises(AbuseRejected) as error:
        _presented(_ticket(), 4_999)
    assert _reason(error) is Reason.TOO_FAST
    assert error.value.details["notBefore"] == ISSUED_MS + 5_000


def test_unknown_action_type_is_ticket_invalid() -> None:
    ticket = _ticket(kind="removed-from-config")
    with pytest.raises(Unauthorized) as error:
        check_ticket(
            ticket, user_id=ticket.user_id, action_id=ticket.action_id, action_type=None, now_ms=ISSUED_MS
        )
    assert _reason(error) is Reason.TICKET_INVALID


def test_ticket_errors_carry_the_reason_in_details() -> None:
    ticket = _ticket()
    with pytest.raises(Unauthorized) as error:
        check_ticket(ticket, user_id=uuid4(), action_id=ticket.action_id, action_type=QUEST, now_ms=ISSUED_MS)
    assert error.value.details["reason"] == "ticket_invalid"
