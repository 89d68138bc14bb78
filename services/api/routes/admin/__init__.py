"""/api/admin/*: the operators' routes (ARCHITECTURE.md: Operators)."""

from __future__ import annotations

from functools import partial
from typing import Any

from starlette.routing import Route

from services.api.routes.admin import adjustments, audit, flags, reviews, users


def _decision(path: str, endpoint: Any, **verb: bool) -> Route:
    """POST .../{id}/<verb>: one endpoint serves a resource's verbs, told which by a keyword."""
    return Route(path, partial(endpoint, **verb), methods=["POST"])


def routes() -> list[Route]:
    return [
        Route("/api/admin/audit", audit.list_audit, methods=["GET"]),
        Route("/api/admin/flags", flags.get_flags, methods=["GET"]),
        Route("/api/admin/flags", flags.put_flags, methods=["PUT"]),
        Route("/api/admin/adjustments", adjustments.list_adjustments, methods=["GET"]),
        Route("/api/admin/adjustments", adjustments.propose, methods=["POST"]),
        _decision("/api/admin/adjustments/{id}/approve", adjustments.review, approve=True),
        _decision("/api/admin/adjustments/{id}/reject", adjustments.review, approve=False),
        _decision("/api/admin/users/{id}/ban", users.set_banned, banned=True),
        _decision("/api/admin/users/{id}/unban", users.set_banned, banned=False),
        Route("/api/admin/reviews", reviews.list_reviews, methods=["GET"]),
        _decision("/api/admin/reviews/{id}/clear", reviews.decide, ban=False),
        _decision("/api/admin/reviews/{id}/ban", reviews.decide, ban=True),
    ]
