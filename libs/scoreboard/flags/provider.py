"""Our OpenFeature provider: the flags from the newest state its source handed it.

Evaluating a flag does no I/O: a refresher (flags/runtime.py) reads the source, PostgreSQL in
the API and worker, the Redis mirror in the gateway, and hands each state over with `update`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import FlagNotFoundError, TypeMismatchError
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

from scoreboard.domain.flags import BOOLEAN_FLAGS, LIMIT_FLAGS, RuntimeFlags, StoredFlags


class SnapshotProvider(AbstractProvider):
    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name
        self.stored = StoredFlags(RuntimeFlags(), 0)  # the defaults, until the source answers

    def get_metadata(self) -> Metadata:
        return Metadata(name=self._name)

    def update(self, stored: StoredFlags) -> None:
        self.stored = stored

    def _known(self, flag_key: str, kinds: tuple[str, ...]) -> None:
        if flag_key not in (*BOOLEAN_FLAGS, *LIMIT_FLAGS):
            raise FlagNotFoundError(f"no runtime flag named {flag_key!r}")
        if flag_key not in kinds:
            raise TypeMismatchError(f"{flag_key} is not of the type asked for")

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        self._known(flag_key, BOOLEAN_FLAGS)
        value: bool = getattr(self.stored.flags, flag_key)
        return FlagResolutionDetails(value, reason=Reason.CACHED, flag_metadata=self._metadata())

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        self._known(flag_key, LIMIT_FLAGS)
        value: int | None = getattr(self.stored.flags, flag_key)
        if value is None:  # not set: the caller's default (the environment's limit)
            return FlagResolutionDetails(default_value, reason=Reason.DEFAULT, flag_metadata=self._metadata())
        return FlagResolutionDetails(value, reason=Reason.CACHED, flag_metadata=self._metadata())

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        self._known(flag_key, ())
        raise AssertionError("unreachable")  # pragma: no cover

    def resolve_float_details(
        self, flag_key: str, default_value: float, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[float]:
        self._known(flag_key, ())
        raise AssertionError("unreachable")  # pragma: no cover

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        self._known(flag_key, ())
        raise AssertionError("unreachable")  # pragma: no cover

    def _metadata(self) -> dict[str, int]:
        return {"version": self.stored.version}
