"""Reading a request body: at most 8 KiB, and a JSON object (services/api/schemas.py validates it)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from scoreboard.domain.errors import ValidationFailed

MAX_BODY_BYTES = 8 * 1024


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


def load_object(raw: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError as error:
        raise ValidationFailed("the body is not valid JSON") from error
    if not isinstance(data, dict):
        raise ValidationFailed("the body must be a JSON object")
    return data
