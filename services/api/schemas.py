"""Request bodies and query parameters: parsed strictly, rejected with field-level details."""

from __future__ import annotations

import re
from collections.abc import Collection
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

from scoreboard.domain.boards import known_board
from scoreboard.domain.errors import ValidationFailed
from scoreboard.domain.text import clean_text

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
    too_large = f"the body is larger than {limit // 1024} KiB"
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(too_large, details={"limit": limit})
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            raise BodyTooLarge(too_large, details={"limit": limit})
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


def board_query(request: Request, known: Collection[str]) -> str:
    """A configured board: malformed is 400, unknown is 404, and neither costs a database query."""
    return known_board(request.query_params.get("board"), known)


class TopQueries:
    """`?limit=&board=` of the top endpoint, parsed once per distinct query string (pollers
    repeat the same few); bounded, and invalid ones are never remembered."""

    def __init__(self, capacity: int = 1024) -> None:
        self._parsed: dict[bytes, tuple[str, int]] = {}
        self._capacity = capacity

    def __len__(self) -> int:
        return len(self._parsed)

    def known(self, raw: bytes) -> tuple[str, int] | None:
        """A query string parsed before (valid), or None."""
        return self._parsed.get(raw)

    def parse(self, request: Request, boards: Collection[str]) -> tuple[str, int]:
        raw: bytes = request.scope["query_string"]
        found = self._parsed.get(raw)
        if found is None:
            found = (board_query(request, boards), int_query(request, "limit", default=10, low=1, high=50))
            if len(self._parsed) >= self._capacity:
                self._parsed.clear()
            self._parsed[raw] = found
        return found
