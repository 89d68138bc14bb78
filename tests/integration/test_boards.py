"""Several boards and time windows (ARCHITECTURE.md: Boards and windows), through the API and the worker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from scoreboard.db.score_events import totals_mismatch
from services.worker import reconciler
from services.worker.context import WorkerContext
from tests.factories import ACTION_TYPES, Player
from tests.integration.conftest import ApiClientFactory, WorkerFactory
from tests.integration.test_write_security import assert_error

DAILY_TZ = "Pacific/Kiritimati"  # UTC+14: its day is rarely the UTC day, so mixing them up shows
BOARDS = {
    "global": {"title": "All time"},
    "daily": {"window": "day", "tz": DAILY_TZ, "retain": 2},
    "quizzes": {"window": "week", "types": ["quiz"], "ranks": "shared"},
}
HIGH_LIMITS = {"rate_limit_user_per_min": 10_000, "rate_limit_ip_per_min": 100_000}


def today(tz: str = DAILY_TZ) -> str:
    return datetime.now(ZoneInfo(tz)).date().isoformat()


def this_week() -> str:
    year, week, _ = datetime.now(UTC).isocalendar()
    return f"{year:04d}-W{week:02d}"


@pytest.fixture
async def api(api_factory: ApiClientFactory) -> httpx.AsyncClient:
    return await api_factory(boards=BOARDS, **HIGH_LIMITS)


@pytest.fixture
async def boards_worker(worker_factory: WorkerFactory) -> WorkerContext:
    return await worker_factory(boards=BOARDS)


async def test_an_increment_counts_once_on_every_board_that_counts_its_type(
    api: httpx.AsyncClient, database_url: str, boards_worker: WorkerContext
) -> None:
    await reconciler.reconcile({"scoreboard": boards_worker})  # every current window built, as at start
    ann = Player("Ann")

    plain = (await ann.play(api)).json()
    quiz = (await ann.play(api, "quiz")).json()

    assert plain["boards"] == {
        "global": {"window": "all", "newScore": 1, "rank": 1},
        "daily": {"window": today(), "newScore": 1, "rank": 1},
    }
    assert (quiz["newScore"], quiz["rank"]) == (11, 1)  # the main board: global
    assert quiz["boards"] == {
        "global": {"window": "all", "newScore": 11, "rank": 1},
        "daily": {"window": today(), "newScore": 11, "rank": 1},
        "quizzes": {"window": this_week(), "newScore": 10, "rank": 1},
    }
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch("SELECT board_id, window_id, score FROM scores ORDER BY board_id")
        assert [tuple(row) for row in rows] == [
            ("daily", today(), 11),
            ("global", "all", 11),
            ("quizzes", this_week(), 10),
        ]
        assert await connection.fetchval("SELECT count(*) FROM score_events") == 2
        assert await totals_mismatch(connection) == []
    finally:
        await connection.close()


async def test_reads_take_a_board_and_a_window(api: httpx.AsyncClient, boards_worker: WorkerContext) -> None:
    await reconciler.reconcile({"scoreboard": boards_worker})
    ann, ben = Player("Ann"), Player("Ben")
    await ann.play(api, "quiz")
    await ben.play(api)

    daily = (await api.get("/api/leaderboard/top", params={"board": "daily"})).json()
    quizzes = (
        await api.get("/api/leaderboard/top", params={"board": "quizzes", "window": this_week()})
    ).json()
    me = (await api.get("/api/scores/me", params={"board": "quizzes"}, headers=ben.headers())).json()

    assert [(entry["displayName"], entry["score"]) for entry in daily] == [("Ann", 10), ("Ben", 1)]
    assert [(entry["displayName"], entry["score"]) for entry in quizzes] == [("Ann", 10)]
    assert me == {
        "userId": str(ben.user_id),
        "board": "quizzes",
        "window": this_week(),
        "score": 0,
        "rank": None,
    }


async def test_shared_ranks_give_equal_scores_one_rank(
    api: httpx.AsyncClient, boards_worker: WorkerContext
) -> None:
    await reconciler.reconcile({"scoreboard": boards_worker})
    players = [Player(name) for name in ("Ann", "Ben", "Cyd", "Dee")]
    for player in players[:3]:
        await player.play(api, "quiz")
    await players[3].play(api, "quiz")
    await players[3].play(api, "quiz")  # Dee: 20, the others 10 each

    top = (await api.get("/api/leaderboard/top", params={"board": "quizzes"})).json()
    ben = (await api.get("/api/scores/me", params={"board": "quizzes"}, headers=players[1].headers())).json()

    assert [(entry["score"], entry["rank"]) for entry in top] == [(20, 1), (10, 2), (10, 2), (10, 2)]
    assert ben["rank"] == 2
    unique = (await api.get("/api/leaderboard/top", params={"board": "daily"})).json()
    assert [entry["rank"] for entry in unique] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"board": "daily", "window": "yesterday"}, 400, "VALIDATION_ERROR"),
        ({"board": "daily", "window": "2001-01-01"}, 404, "NOT_FOUND"),  # past its retention
        ({"board": "daily", "window": "2099-01-01"}, 404, "NOT_FOUND"),  # not begun
        ({"board": "daily", "window": "2026-W01"}, 404, "NOT_FOUND"),  # a week, on a daily board
        ({"board": "global", "window": "2026-11-30"}, 404, "NOT_FOUND"),
        ({"board": "nosuchboard"}, 404, "NOT_FOUND"),
    ],
)
async def test_a_window_that_cannot_be_read_is_refused(
    api: httpx.AsyncClient, params: dict[str, str], status: int, code: str
) -> None:
    assert_error(await api.get("/api/leaderboard/top", params=params), status, code)
    ann = Player("Ann")
    assert_error(await api.get("/api/scores/me", params=params, headers=ann.headers()), status, code)


async def test_a_past_window_answers_its_final_standings_from_the_database(
    api: httpx.AsyncClient, database_url: str
) -> None:
    yesterday = (datetime.fromisoformat(today()) - timedelta(days=1)).date().isoformat()
    ann, ben = Player("Ann"), Player("Ben")
    connection = await asyncpg.connect(database_url)
    try:
        for player, score in ((ann, 5), (ben, 9)):
            await connection.execute(
                "INSERT INTO users (id, display_name) VALUES ($1, $2)", player.user_id, player.name
            )
            await connection.execute(
                "INSERT INTO scores (board_id, window_id, user_id, score, reached_at) "
                "VALUES ('daily', $1, $2, $3, now())",
                yesterday,
                player.user_id,
                score,
            )
    finally:
        await connection.close()

    past = await api.get("/api/leaderboard/top", params={"board": "daily", "window": yesterday})
    current = await api.get("/api/leaderboard/top", params={"board": "daily"})

    assert [(entry["displayName"], entry["score"], entry["rank"]) for entry in past.json()] == [
        ("Ben", 9, 1),
        ("Ann", 5, 2),
    ]
    assert current.json() == []


async def test_the_boards_are_listed_with_their_window_and_next_reset(api: httpx.AsyncClient) -> None:
    listed = (await api.get("/api/leaderboards")).json()

    by_id = {board["id"]: board for board in listed}
    assert [board["id"] for board in listed] == ["global", "daily", "quizzes"]
    assert by_id["global"]["window"] == {"id": "all", "start": None, "end": None}
    assert by_id["global"]["next"] is None
    assert by_id["global"]["title"] == "All time"
    daily = by_id["daily"]
    assert daily["window"]["id"] == today()
    assert daily["window"]["end"] == daily["next"]
    assert daily["window"]["end"] - daily["window"]["start"] in (
        23 * 3_600_000,
        24 * 3_600_000,
        25 * 3_600_000,
    )
    assert daily["window"]["start"] <= datetime.now(UTC).timestamp() * 1000 < daily["next"]
    assert by_id["quizzes"]["types"] == ["quiz"]
    assert by_id["quizzes"]["ranks"] == "shared"
    assert sorted(by_id["daily"]["types"]) == sorted(ACTION_TYPES)


async def test_an_increment_racing_the_boundary_lands_in_one_window_and_its_retry_replays(
    api_factory: ApiClientFactory, database_url: str
) -> None:
    anchor = datetime.now(UTC).replace(microsecond=0)
    sprint = {"sprint": {"window": {"seconds": 1, "anchor": anchor.isoformat()}, "retain": 100}}
    api = await api_factory(boards={"global": {}} | sprint, **HIGH_LIMITS)
    players = [Player(f"P{index}") for index in range(6)]
    answers: list[dict[str, Any]] = []
    first_tickets: dict[str, tuple[Player, dict[str, Any]]] = {}
    deadline = asyncio.get_running_loop().time() + 2.5  # at least two boundaries
    while asyncio.get_running_loop().time() < deadline:
        for player in players:
            ticket = await player.ticket(api)
            headers, body = player.signed(ticket)
            answer = (await api.post("/api/scores/increment", json=body, headers=headers)).json()
            answers.append(answer)
            first_tickets.setdefault(answer["userId"], (player, ticket))
    windows = {answer["boards"]["sprint"]["window"] for answer in answers}
    assert len(windows) >= 2  # the run crossed boundaries

    await asyncio.sleep(1.1)  # the first answers' window is over
    for player, ticket in first_tickets.values():
        retry_headers, retry_body = player.signed(ticket)  # the same request, signed again
        retry = (await api.post("/api/scores/increment", json=retry_body, headers=retry_headers)).json()
        assert retry["replayed"] is True
        first = next(a for a in answers if a["userId"] == str(player.user_id))
        assert retry["boards"]["sprint"]["window"] == first["boards"]["sprint"]["window"]

    connection = await asyncpg.connect(database_url)
    try:
        assert await totals_mismatch(connection) == []  # each increment counted in exactly one window
        events = await connection.fetchval("SELECT count(*) FROM score_events")
        per_window = await connection.fetchval("SELECT sum(score) FROM scores WHERE board_id = 'sprint'")
        assert per_window == events == len(answers)
    finally:
        await connection.close()


def day_before(window_id: str, days: int) -> str:
    return (datetime.fromisoformat(window_id) - timedelta(days=days)).date().isoformat()


async def test_the_worker_builds_current_windows_and_prunes_those_past_retention(
    boards_worker: WorkerContext, database_url: str
) -> None:
    ann = Player("Ann")
    kept, pruned = day_before(today(), 2), day_before(today(), 3)  # daily retains 2 past windows
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("INSERT INTO users (id, display_name) VALUES ($1, 'Ann')", ann.user_id)
        for window_id, score in ((today(), 7), (kept, 5), (pruned, 3)):
            await connection.execute(
                "INSERT INTO scores (board_id, window_id, user_id, score, reached_at) "
                "VALUES ('daily', $1, $2, $3, now())",
                window_id,
                ann.user_id,
                score,
            )

        outcome = await reconciler.reconcile({"scoreboard": boards_worker})

        left = await connection.fetch("SELECT window_id FROM scores WHERE board_id = 'daily' ORDER BY 1")
    finally:
        await connection.close()
    assert "pruned:1" in outcome
    assert [row["window_id"] for row in left] == sorted([today(), kept])
    leaderboard = boards_worker.leaderboard
    assert await leaderboard.is_ready("daily", today())
    assert await leaderboard.score_and_rank("daily", today(), ann.user_id) == (7, 1)
    assert await leaderboard.is_ready("global", "all")
    assert not await leaderboard.is_ready("daily", kept)  # past windows are read from PostgreSQL


async def test_a_windows_redis_keys_expire_after_it_and_all_time_ones_never(
    api: httpx.AsyncClient, boards_worker: WorkerContext
) -> None:
    await Player("Ann").play(api, "quiz")
    redis = boards_worker.redis
    end = datetime.fromisoformat(today()).replace(tzinfo=ZoneInfo(DAILY_TZ)) + timedelta(days=1)

    daily_ttl_ms = await redis.pttl(f"sb:{{board:daily:{today()}}}:ranking")
    global_ttl_ms = await redis.pttl("sb:{board:global}:ranking")

    until_end_ms = (end - datetime.now(UTC)).total_seconds() * 1000
    assert until_end_ms < daily_ttl_ms <= until_end_ms + 10 * 60 * 1000 + 1000  # the window, plus grace
    assert global_ttl_ms == -1
