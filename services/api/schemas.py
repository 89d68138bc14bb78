"""Request body models: parsed strictly, rejected with field-level details."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
)

from scoreboard.domain.errors import ValidationFailed

Model = TypeVar("Model", bound=BaseModel)


# A string field that is matched exactly (never cleaned): control characters (C0, DEL, C1) and
# bidi controls are refused, as domain.text.has_unsafe_characters sees them (a lone surrogate
# never gets this far: the JSON parser refuses it). A pattern, so the OpenAPI document says so.
PRINTABLE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]*$"
PrintableStr = Annotated[StrictStr, Field(pattern=PRINTABLE_PATTERN)]


class Body(BaseModel):
    """A request body: frozen once parsed. The admin bodies build on it (admin_schemas.AdminWrite)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class ActionRequest(Body):
    type: Annotated[PrintableStr, Field(min_length=1, max_length=64)] = "default"


class IncrementRequest(Body):
    userId: UUID
    actionId: UUID
    delta: Annotated[StrictInt, Field(ge=1)] | None = None  # any size: it is only ever clamped down
    nonce: Annotated[PrintableStr, Field(min_length=1, max_length=512)]
    signature: Annotated[StrictStr, Field(pattern=r"^[0-9a-fA-F]{64}$")]
    keyId: Annotated[PrintableStr, Field(min_length=1, max_length=64)] = "default"


class PrivacyRequest(Body):
    public: StrictBool


def _field_errors(error: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(part) for part in item["loc"]) or "body", "problem": item["msg"]}
        for item in error.errors(include_url=False, include_input=False)
    ]


def validate(data: dict[str, Any], model: type[Model]) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ValidationFailed(
            "the body has invalid fields", details={"fields": _field_errors(error)}
        ) from error
