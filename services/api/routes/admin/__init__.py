"""/api/admin/*: the operators' routes (ARCHITECTURE.md: Operators)."""

from __future__ import annotations

from starlette.routing import Route

from services.api.routes.admin import audit, flags


def routes() -> list[Route]:
    return [
        Route("/api/admin/audit", audit.list_audit, methods=["GET"]),
        Route("/api/admin/flags", flags.get_flags, methods=["GET"]),
        Route("/api/admin/flags", flags.put_flags, methods=["PUT"]),
    ]
