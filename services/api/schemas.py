"""Request bodies and query parameters: parsed strictly, rejected with field-level details."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar
from uuid import UUID

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
)
from starlette.requests import Request

from scoreboard.domain.boards import Board, known_board
from scoreboard.domain.errors import ValidationFailed
from scoreboard.domain.text import clean_text
from scoreboard.domain.windows import Window

MAX_BODY_BYTES = 8 * 1024

Model = TypeVar("Model", bound=BaseModel)


# A string field that is matched exactly (never cleaned): control characters (C0, DEL, C1) and
# bidi controls are refused, as domain.text.has_unsafe_characters sees them (a lone surrogate
# never gets this far: the JSON parser refuses it). A pattern, so the OpenAPI document says so.
PRINTABLE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]*$"
PrintableStr = Annotated[StrictStr, Field(pattern=PRINTABLE_PATTERN)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ActionRequest(_Body):
    type: Annotated[PrintableStr, Field(min_length=1, max_length=64)] = "default"


class IncrementRequest(_Body):
    userId: UUID
    actionId: UUID
    delta: Annotated[StrictInt, Field(ge=1)] | None = None  # any size: it is only ever clamped down
    nonce: Annotated[PrintableStr, Field(min_length=1, max_length=512)]
    signature: Annotated[StrictStr, Field(pattern=r"^[0-9a-fA-F]{64}$")]
    keyId: Annotated[PrintableStr, Field(min_length=1, max_length=64)] = "default"


class PrivacyRequest(_Body):
    public: StrictBool


class BodyTooLarge(ValidationFailed):
    status_override = 413


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge("the body is larger than 8 KiB", details={"limit": limit})
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            raise BodyTooLarge("the body is larger than 8 KiB", details={"limit": limit})
    return bytes(chunks)


def _field_errors(error: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(part) for part in item["loc"]) or "body", "problem": item["msg"]}
        for item in error.errors(include_url=False, include_input=False)
    ]


def load_object(raw: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError as error:
        raise ValidationFailed("the body is not valid JSON") from error
    if not isinstance(data, dict):
        raise ValidationFailed("the body must be a JSON object")
    return data


def validate(data: dict[str, Any], model: type[Model]) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ValidationFailed(
            "the body has invalid fields", details={"fields": _field_errors(error)}
        ) from error


def int_query(request: Request, name: str, *, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"\d{1,6}", raw) or not low <= int(raw) <= high:
        raise ValidationFailed(
            f"{name} must be an integer from {low} to {high}",
            details={"field": name, "value": clean_text(raw, 32)},
        )
    return int(raw)


def board_query(request: Request, boards: Mapping[str, Board]) -> Board:
    """A configured board: malformed is 400, unknown is 404, and neither costs a database query."""
    return boards[known_board(request.query_params.get("board"), boards)]


def window_query(request: Request, board: Board) -> Window:
    """`?window=`: the board's current window when absent, else a past one it still retains."""
    return board.readable_window(request.query_params.get("window"), datetime.now(UTC))


TopQuery = tuple[str, str | None, int]  # board id, ?window= as given, limit


class TopQueries:
    """`?limit=&board=&window=` of the top endpoint, parsed once per distinct query string
    (pollers repeat the same few); bounded, and invalid ones are never remembered. Which window
    that is depends on the time: callers resolve it (Board.readable_window) on every request."""

    def __init__(self, capacity: int = 1024) -> None:
        self._parsed: dict[bytes, TopQuery] = {}
        self._capacity = capacity

    def __len__(self) -> int:
        return len(self._parsed)

    def known(self, raw: bytes) -> TopQuery | None:
        """A query string parsed before (valid), or None."""
        return self._parsed.get(raw)

    def parse(self, request: Request, boards: Mapping[str, Board]) -> TopQuery:
        raw: bytes = request.scope["query_string"]
        found = self._parsed.get(raw)
        if found is None:
            board = board_query(request, boards)
            window_query(request, board)  # valid now: 400 or 404 otherwise, and not remembered
            limit = int_query(request, "limit", default=10, low=1, high=50)
            found = (board.id, request.query_params.get("window"), limit)
            if len(self._parsed) >= self._capacity:
                self._parsed.clear()
            self._parsed[raw] = found
        return found
