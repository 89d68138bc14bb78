"""/api/admin/*: the operators' routes (ARCHITECTURE.md: Operators)."""

from __future__ import annotations

from starlette.routing import Route

from services.api.routes.admin import adjustments, audit, flags, reviews, users


def routes() -> list[Route]:
    return [
        Route("/api/admin/audit", audit.list_audit, methods=["GET"]),
        Route("/api/admin/flags", flags.get_flags, methods=["GET"]),
        Route("/api/admin/flags", flags.put_flags, methods=["PUT"]),
        Route("/api/admin/adjustments", adjustments.list_adjustments, methods=["GET"]),
        Route("/api/admin/adjustments", adjustments.propose, methods=["POST"]),
        Route("/api/admin/adjustments/{id}/approve", adjustments.approve, methods=["POST"]),
        Route("/api/admin/adjustments/{id}/reject", adjustments.reject, methods=["POST"]),
        Route("/api/admin/users/{id}/ban", users.ban, methods=["POST"]),
        Route("/api/admin/users/{id}/unban", users.unban, methods=["POST"]),
        Route("/api/admin/reviews", reviews.list_reviews, methods=["GET"]),
        Route("/api/admin/reviews/{id}/clear", reviews.clear, methods=["POST"]),
        Route("/api/admin/reviews/{id}/ban", reviews.ban, methods=["POST"]),
    ]
