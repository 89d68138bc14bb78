"""GET /api/leaderboards: the boards, their current window and the next reset
(ARCHITECTURE.md: Boards and windows)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from scoreboard.domain.boards import Board
from scoreboard.web.responses import JSONResponse
from services.api.context import context_of
from services.api.guards import limit_reads


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def describe(board: Board, action_types: list[str], now: datetime) -> dict[str, Any]:
    window = board.window_at(now)
    return {
        "id": board.id,
        "title": board.title,
        "types": sorted(board.types) if board.types is not None else action_types,
        "ranks": "shared" if board.shared_ranks else "unique",
        "retain": board.retain,
        "window": {"id": window.id, "start": _ms(window.start), "end": _ms(window.end)},
        "next": _ms(window.end),
    }


async def list_boards(request: Request) -> Response:
    context = context_of(request)
    limit_reads(request, context)
    now = datetime.now(UTC)
    action_types = sorted(context.action_types)
    body = [describe(board, action_types, now) for board in context.boards.values()]
    return JSONResponse(body, headers={"Cache-Control": "no-cache"})
