"""Action tickets: the stateless server nonce (ARCHITECTURE.md: Write API).

A ticket binds (userId, actionId, type, issuedAt) under a server secret, so verifying it needs
no storage at all and increments keep working while Redis is down. Single use comes for free:
the actionId inside is unique per user in the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from uuid import UUID

from scoreboard.domain.actions import ActionType
from scoreboard.domain.errors import AbuseRejected, Reason, Unauthorized

_PREFIX = "t2"  # t2 carries its own notBefore (staggered tickets)
_LEGACY_PREFIX = "t1"  # issued before staggering: notBefore is issuedAt + the type's min_seconds
_KEY_CONTEXT = b"scoreboard/action-ticket/v1"


@dataclass(frozen=True, slots=True)
class Ticket:
    user_id: UUID
    action_id: UUID
    action_type: str
    issued_at_ms: int
    # Tickets of one type taken in advance are staggered: each one's notBefore is at least
    # min_seconds after the previous one's (see redis_store/ticket_stagger.py). None: a ticket
    # of a type without a minimum, or one issued before staggering (t1).
    earliest_ms: int | None = None

    def not_before_ms(self, action_type: ActionType) -> int:
        if self.earliest_ms is not None:
            return self.earliest_ms
        return self.issued_at_ms + int(action_type.min_seconds * 1000)

    def expires_at_ms(self, action_type: ActionType) -> int:
        return self.issued_at_ms + int(action_type.ttl_seconds * 1000)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TicketBook:
    def __init__(self, secret: str) -> None:
        self._key = hmac.new(secret.encode(), _KEY_CONTEXT, hashlib.sha256).digest()

    def _mac(self, prefix: str, body: str) -> str:
        # t1 MACs covered the body alone; t2 MACs cover the version too.
        material = body if prefix == _LEGACY_PREFIX else f"{prefix}.{body}"
        return _b64(hmac.digest(self._key, material.encode(), "sha256"))  # one C call, same MAC

    def issue(self, ticket: Ticket) -> str:
        earliest = "" if ticket.earliest_ms is None else ticket.earliest_ms
        fields = f"{ticket.user_id}|{ticket.action_id}|{ticket.action_type}|{ticket.issued_at_ms}|{earliest}"
        body = _b64(fields.encode())
        return f"{_PREFIX}.{body}.{self._mac(_PREFIX, body)}"

    def read(self, nonce: str) -> Ticket:
        """Return the ticket a nonce carries, or raise 403 ticket_invalid when it was not ours."""
        invalid = Unauthorized("the action ticket is not valid", reason=Reason.TICKET_INVALID)
        parts = nonce.split(".")
        if len(parts) != 3 or parts[0] not in (_PREFIX, _LEGACY_PREFIX):
            raise invalid
        prefix, body, mac = parts
        if not hmac.compare_digest(self._mac(prefix, body).encode(), mac.encode()):
            raise invalid
        try:
            fields = _unb64(body).decode().split("|")
            if prefix == _LEGACY_PREFIX:
                user, action, action_type, issued = fields
                return Ticket(UUID(user), UUID(action), action_type, int(issued))
            user, action, action_type, issued, earliest = fields
            return Ticket(
                UUID(user), UUID(action), action_type, int(issued), int(earliest) if earliest else None
            )
        except ValueError as error:
            raise invalid from error


def check_ticket(
    ticket: Ticket,
    *,
    user_id: UUID,
    action_id: UUID,
    action_type: ActionType | None,
    now_ms: int,
) -> ActionType:
    """Enforce binding, lifetime and the minimum duration; return the ticket's action type."""
    if ticket.user_id != user_id or ticket.action_id != action_id or action_type is None:
        raise Unauthorized("the action ticket is not valid", reason=Reason.TICKET_INVALID)
    if now_ms > ticket.expires_at_ms(action_type):
        raise Unauthorized("the action ticket has expired", reason=Reason.TICKET_EXPIRED)
    if now_ms < ticket.not_before_ms(action_type):
        raise AbuseRejected(
            "the action was finished faster than it can be",
            reason=Reason.TOO_FAST,
            details={"notBefore": ticket.not_before_ms(action_type)},
        )
    return action_type
