"""Reads (ARCHITECTURE.md: Write API): the Top N with its cache and ETag, my score, around me.

Redis first; the database when Redis is down or the board is not ready there. Both paths must
give the same answers in the same order (section 5), with private users anonymised.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from scoreboard.domain.models import ScoreState
from scoreboard.domain.ranking import to_micros
from services.api.top_cache import TopCache
from services.worker import profiles
from services.worker.context import WorkerContext
from tests.factories import Player
from tests.integration.conftest import contexts

BOARD = "global"
WINDOW = "all"
ALL_TIME = {"board": BOARD, "window": WINDOW}


def closed_port_url() -> str:
    """A Redis URL nobody listens on (port 1 may be taken on a shared machine)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


REDIS_DOWN = closed_port_url()
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def entry(player: Player, score: int, rank: int) -> dict[str, Any]:
    return {"userId": str(player.user_id), "displayName": player.name, "score": score, "rank": rank}


async def board_ready(worker: WorkerContext) -> None:
    """A running system: the (empty) board is complete in Redis, so reads are served from it."""
    await worker.leaderboard.mark_ready(BOARD, WINDOW)


async def seed(worker: WorkerContext, rows: list[tuple[Player, int, datetime, bool]]) -> None:
    """Put scores straight into PostgreSQL and copy them to Redis (what a rebuild does)."""
    await worker.pool.executemany(
        "INSERT INTO users (id, display_name, is_public) VALUES ($1, $2, $3)",
        [(p.user_id, p.name, public) for p, _, _, public in rows],
    )
    await worker.pool.executemany(
        "INSERT INTO scores (board_id, user_id, score, reached_at) VALUES ($1, $2, $3, $4)",
        [(BOARD, p.user_id, score, at) for p, score, at, _ in rows],
    )
    await worker.leaderboard.save_profiles({p.user_id: (p.name, public) for p, _, _, public in rows})
    await worker.leaderboard.apply(
        [ScoreState(BOARD, p.user_id, score, to_micros(at)) for p, score, at, _ in rows]
    )
    await worker.leaderboard.mark_ready(BOARD, WINDOW)


def ladder(count: int, *, top_score: int = 1000) -> list[tuple[Player, int, datetime, bool]]:
    """count players with distinct scores, best first (rank i+1 for index i)."""
    return [(Player(f"P{i:03d}"), top_score - i, T0, True) for i in range(count)]


async def play_ok(api: httpx.AsyncClient, player: Player, action: str = "default") -> dict[str, Any]:
    response = await api.post("/api/actions", json={"type": action}, headers=player.headers())
    assert response.status_code == 201, response.text
    headers, body = player.signed(response.json())
    response = await api.post("/api/scores/increment", json=body, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def get_json(api: httpx.AsyncClient, url: str, player: Player | None = None) -> Any:
    response = await api.get(url, headers=player.headers() if player else None)
    assert response.status_code == 200, (url, response.status_code, response.text)
    return response.json()


# --- GET /api/leaderboard/top -------------------------------------------------------------


async def test_top_orders_players_by_score_then_who_got_there_first(
    api: httpx.AsyncClient, api_factory: Any, worker: WorkerContext
) -> None:
    await board_ready(worker)
    ada, bob, cyd, dee, eve = (Player(n) for n in ("Ada", "Bob", "Cyd", "Dee", "Eve"))
    await play_ok(api, ada, "quiz")
    await play_ok(api, bob, "quiz")
    await play_ok(api, cyd)
    await play_ok(api, ada, "quiz")
    await play_ok(api, dee, "quiz")
    await play_ok(api, dee)
    await play_ok(api, eve)  # ties Cyd on 1 point, but later: ranks below her

    expected = [
        entry(ada, 20, 1),
        entry(dee, 11, 2),
        entry(bob, 10, 3),
        entry(cyd, 1, 4),
        entry(eve, 1, 5),
    ]
    assert await get_json(api, "/api/leaderboard/top") == expected
    # The database fallback gives the very same list (section 5: one order everywhere).
    down = await api_factory(redis_url=REDIS_DOWN)
    assert await get_json(down, "/api/leaderboard/top") == expected


async def test_top_limit_default_max_and_validation(api: httpx.AsyncClient, worker: WorkerContext) -> None:
    rows = ladder(60)
    await seed(worker, rows)

    default = await get_json(api, "/api/leaderboard/top")
    assert [e["rank"] for e in default] == list(range(1, 11))
    assert [e["userId"] for e in default] == [str(p.user_id) for p, *_ in rows[:10]]
    assert len(await get_json(api, "/api/leaderboard/top?limit=1")) == 1
    most = await get_json(api, "/api/leaderboard/top?limit=50")
    assert [e["score"] for e in most] == [score for _, score, *_ in rows[:50]]

    for bad in ("0", "51", "abc", "-1", "", "1.5", "1000000"):
        response = await api.get("/api/leaderboard/top", params={"limit": bad})
        assert response.status_code == 400, (bad, response.text)
        body = response.json()
        assert body["code"] == "VALIDATION_ERROR"
        assert set(body) == {"code", "message", "details"}


async def test_top_etag_and_conditional_get(api: httpx.AsyncClient, worker: WorkerContext) -> None:
    await board_ready(worker)
    ada = Player("Ada")
    await play_ok(api, ada)

    first = await api.get("/api/leaderboard/top")
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag.startswith('"'), etag  # strong, not W/
    assert etag.endswith('"'), etag
    assert first.headers["cache-control"]
    assert "max-age" in first.headers["cache-control"]

    again = await api.get("/api/leaderboard/top")
    assert again.headers["etag"] == etag  # same board, same tag

    not_modified = await api.get("/api/leaderboard/top", headers={"if-none-match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["etag"] == etag
    assert not_modified.headers["cache-control"]
    listed = await api.get("/api/leaderboard/top", headers={"if-none-match": f'"nope", {etag}'})
    assert listed.status_code == 304
    other = await api.get("/api/leaderboard/top", headers={"if-none-match": '"something-else"'})
    assert other.status_code == 200
    assert other.json() == first.json()

    await play_ok(api, Player("Bob"), "quiz")  # the board changes (this client caches nothing)
    changed = await api.get("/api/leaderboard/top", headers={"if-none-match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert [e["displayName"] for e in changed.json()] == ["Bob", "Ada"]


class ManualClock:
    now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def test_top_cache_serves_the_cached_body_within_its_window(
    api_factory: Any, worker: WorkerContext
) -> None:
    rows = ladder(3)
    await seed(worker, rows)
    cached_api = await api_factory(top_cache_ms=500)
    clock = ManualClock()
    contexts[cached_api].top_cache = TopCache(500, clock=clock)  # the process's cache, on our clock

    first = await cached_api.get("/api/leaderboard/top")
    assert [e["score"] for e in first.json()] == [1000, 999, 998]

    # Redis changes behind the API's back: a new leader.
    newcomer = Player("Newcomer")
    await seed(worker, [(newcomer, 5000, T0, True)])
    assert await worker.leaderboard.score_and_rank(BOARD, WINDOW, newcomer.user_id) == (5000, 1)

    within = await cached_api.get("/api/leaderboard/top")
    assert within.content == first.content  # served from the cache: Redis was not read again
    assert within.headers["etag"] == first.headers["etag"]
    revalidated = await cached_api.get(
        "/api/leaderboard/top", headers={"if-none-match": first.headers["etag"]}
    )
    assert revalidated.status_code == 304

    clock.now += 0.5  # the window has passed
    after = await cached_api.get("/api/leaderboard/top")
    assert after.json()[0] == entry(newcomer, 5000, 1)
    assert after.headers["etag"] != first.headers["etag"]
    stale = await cached_api.get("/api/leaderboard/top", headers={"if-none-match": first.headers["etag"]})
    assert stale.status_code == 200


# --- Redis down: everything answers from the database ---------------------------------------


async def test_reads_fall_back_to_the_database_when_redis_is_down(
    api: httpx.AsyncClient, api_factory: Any, worker: WorkerContext
) -> None:
    # 30 players, ties on score broken by reached_at (microseconds) and then by user id.
    rows: list[tuple[Player, int, datetime, bool]] = []
    for i in range(30):
        rows.append((Player(f"P{i:02d}"), 100 - (i // 4), T0 + timedelta(microseconds=i % 3), i % 7 != 3))
    await seed(worker, rows)
    caller = rows[17][0]
    never = Player("Never")
    down = await api_factory(redis_url=REDIS_DOWN)

    for url in ("/api/leaderboard/top", "/api/leaderboard/top?limit=50"):
        from_redis = await get_json(api, url)
        from_db = await get_json(down, url)
        assert from_db == from_redis
        assert len(from_db) == min(30, 50 if "50" in url else 10)

    for url in ("/api/scores/me", "/api/leaderboard/around/me", "/api/leaderboard/around/me?radius=25"):
        assert await get_json(down, url, caller) == await get_json(api, url, caller)
        assert await get_json(down, url, never) == await get_json(api, url, never)

    me = await get_json(down, "/api/scores/me", caller)
    expected_order = sorted(rows, key=lambda r: (-r[1], r[2], r[0].user_id.int))
    expected_rank = next(i for i, r in enumerate(expected_order, 1) if r[0] is caller)
    assert me == {"userId": str(caller.user_id), **ALL_TIME, "score": rows[17][1], "rank": expected_rank}
    full = await get_json(down, "/api/leaderboard/top?limit=50")
    assert [e["score"] for e in full] == [r[1] for r in expected_order]
    assert [e["userId"] for e in full] == [str(r[0].user_id) if r[3] else None for r in expected_order]


# --- Private users ---------------------------------------------------------------------------


async def test_private_users_are_anonymous_but_keep_their_rank(
    api: httpx.AsyncClient, api_factory: Any, worker: WorkerContext
) -> None:
    await board_ready(worker)
    ada, bob, cyd = Player("Ada"), Player("Bob"), Player("Cyd")
    await play_ok(api, ada, "quiz")
    await play_ok(api, bob, "quiz")
    await play_ok(api, cyd)
    await worker.pool.execute("UPDATE users SET is_public = false WHERE id = $1", bob.user_id)
    await play_ok(api, bob)  # 11 points
    await profiles.sync_profiles(worker)  # the worker's profile feed carries the change to Redis

    expected = [
        {"userId": None, "displayName": "Anonymous", "score": 11, "rank": 1},
        entry(ada, 10, 2),
        entry(cyd, 1, 3),
    ]
    assert await get_json(api, "/api/leaderboard/top") == expected
    down = await api_factory(redis_url=REDIS_DOWN)
    assert await get_json(down, "/api/leaderboard/top") == expected
    body = (await api.get("/api/leaderboard/top")).text
    assert "Bob" not in body
    assert str(bob.user_id) not in body

    # Bob still sees his own score and rank.
    assert await get_json(api, "/api/scores/me", bob) == {
        "userId": str(bob.user_id),
        **ALL_TIME,
        "score": 11,
        "rank": 1,
    }
    around = await get_json(api, "/api/leaderboard/around/me", cyd)
    assert [e["userId"] for e in around["entries"]] == [None, str(ada.user_id), str(cyd.user_id)]
    assert "Bob" not in str(around)


async def test_private_flag_from_the_worker_payload_refreshes_the_redis_profile(
    api: httpx.AsyncClient, worker: WorkerContext
) -> None:
    rows = ladder(3)
    await seed(worker, rows)
    hidden = rows[1][0]
    await worker.pool.execute("UPDATE users SET is_public = false WHERE id = $1", hidden.user_id)
    await worker.leaderboard.save_profiles({hidden.user_id: (hidden.name, False)})

    top = await get_json(api, "/api/leaderboard/top")
    assert top[1] == {"userId": None, "displayName": "Anonymous", "score": 999, "rank": 2}
    assert [e["rank"] for e in top] == [1, 2, 3]
    assert top[0]["userId"] == str(rows[0][0].user_id)


# --- GET /api/scores/me ----------------------------------------------------------------------


async def test_my_score_and_rank(api: httpx.AsyncClient, worker: WorkerContext) -> None:
    await seed(worker, ladder(5))
    me = Player("Me")
    await play_ok(api, me, "quiz")
    assert await get_json(api, "/api/scores/me", me) == {
        "userId": str(me.user_id),
        **ALL_TIME,
        "score": 10,
        "rank": 6,
    }

    stranger = Player("Stranger")
    assert await get_json(api, "/api/scores/me", stranger) == {
        "userId": str(stranger.user_id),
        **ALL_TIME,
        "score": 0,
        "rank": None,
    }
    assert (await api.get("/api/scores/me")).status_code == 401


# --- GET /api/leaderboard/around/me ----------------------------------------------------------


async def test_around_me_is_centred_on_the_caller(api: httpx.AsyncClient, worker: WorkerContext) -> None:
    rows = ladder(40)
    await seed(worker, rows)
    caller = rows[19][0]  # rank 20

    around = await get_json(api, "/api/leaderboard/around/me", caller)
    assert around["userId"] == str(caller.user_id)
    assert (around["score"], around["rank"]) == (rows[19][1], 20)
    assert [e["rank"] for e in around["entries"]] == list(range(15, 26))
    assert [e["userId"] for e in around["entries"]] == [str(p.user_id) for p, *_ in rows[14:25]]
    mine = [e for e in around["entries"] if e["userId"] == str(caller.user_id)]
    assert mine == [entry(caller, rows[19][1], 20)]

    narrow = await get_json(api, "/api/leaderboard/around/me?radius=2", caller)
    assert [e["rank"] for e in narrow["entries"]] == [18, 19, 20, 21, 22]
    alone = await get_json(api, "/api/leaderboard/around/me?radius=0", caller)
    assert alone["entries"] == [entry(caller, rows[19][1], 20)]
    widest = await get_json(api, "/api/leaderboard/around/me?radius=25", caller)
    assert [e["rank"] for e in widest["entries"]] == list(range(1, 41))

    for bad in ("26", "-1", "x"):
        response = await api.get(f"/api/leaderboard/around/me?radius={bad}", headers=caller.headers())
        assert response.status_code == 400, bad
        assert response.json()["code"] == "VALIDATION_ERROR"
    assert (await api.get("/api/leaderboard/around/me")).status_code == 401


async def test_around_me_at_the_edges(api: httpx.AsyncClient, worker: WorkerContext) -> None:
    rows = ladder(12)
    await seed(worker, rows)

    leader = rows[0][0]
    top_edge = await get_json(api, "/api/leaderboard/around/me", leader)
    assert top_edge["rank"] == 1
    assert [e["rank"] for e in top_edge["entries"]] == [1, 2, 3, 4, 5, 6]
    assert top_edge["entries"][0] == entry(leader, 1000, 1)

    last = rows[-1][0]
    bottom_edge = await get_json(api, "/api/leaderboard/around/me?radius=3", last)
    assert [e["rank"] for e in bottom_edge["entries"]] == [9, 10, 11, 12]
    assert bottom_edge["entries"][-1]["userId"] == str(last.user_id)

    stranger = Player("Stranger")
    assert await get_json(api, "/api/leaderboard/around/me", stranger) == {
        "userId": str(stranger.user_id),
        **ALL_TIME,
        "score": 0,
        "rank": None,
        "entries": [],
    }


async def test_around_me_shows_a_private_caller_their_own_entry(
    api: httpx.AsyncClient, worker: WorkerContext
) -> None:
    rows = ladder(5)
    rows[2] = (rows[2][0], rows[2][1], T0, False)
    rows[3] = (rows[3][0], rows[3][1], T0, False)
    await seed(worker, rows)
    caller = rows[2][0]
    around = await get_json(api, "/api/leaderboard/around/me?radius=1", caller)
    assert [e["rank"] for e in around["entries"]] == [2, 3, 4]
    assert around["entries"][1]["userId"] == str(caller.user_id)  # my own row: I know it is me
    assert around["entries"][2] == {"userId": None, "displayName": "Anonymous", "score": 997, "rank": 4}


# --- The increment's answer agrees with the reads --------------------------------------------


async def test_increment_rank_and_top10_if_changed(api: httpx.AsyncClient, worker: WorkerContext) -> None:
    await board_ready(worker)
    strong = [Player(f"Strong{i:02d}") for i in range(15)]
    for player in strong:
        await play_ok(api, player, "quiz")
        await play_ok(api, player, "quiz")  # 20 points each, ties broken by who got there first

    low = Player("Low")
    answer = await play_ok(api, low)
    assert answer["newScore"] == 1
    assert answer["rank"] == 16
    assert "top10IfChanged" not in answer  # far below the Top 10: nothing to announce
    me = await get_json(api, "/api/scores/me", low)
    assert me["rank"] == answer["rank"] == 16

    # Strong14 got to 20 last: one more point puts them first.
    climber = strong[14]
    answer = await play_ok(api, climber)
    assert answer["newScore"] == 21
    assert answer["rank"] == 1
    assert "top10IfChanged" in answer
    top = await get_json(api, "/api/leaderboard/top")
    assert answer["top10IfChanged"] == top
    assert top[0] == entry(climber, 21, 1)
    assert [e["displayName"] for e in top[1:]] == [p.name for p in strong[:9]]
    assert (await get_json(api, "/api/scores/me", climber))["rank"] == 1

    # Strong09 (rank 10 now) climbs within the Top 10: that changes it too.
    answer = await play_ok(api, strong[9])
    assert answer["rank"] == 2
    assert answer["top10IfChanged"] == await get_json(api, "/api/leaderboard/top")
    # Every player's increment rank matches what /api/scores/me says right after.
    for player in (strong[3], low, strong[12]):
        answer = await play_ok(api, player)
        assert answer["rank"] == (await get_json(api, "/api/scores/me", player))["rank"]


async def test_increment_rank_comes_from_the_database_while_the_board_is_not_ready(
    api: httpx.AsyncClient, worker: WorkerContext
) -> None:
    """A flushed Redis has no `ready` flag: ranks and reads must come from the DB, not a partial board."""
    await seed(worker, ladder(8))
    await worker.redis.flushdb()
    newcomer = Player("Newcomer")
    answer = await play_ok(api, newcomer)
    assert answer["rank"] == 9  # below the 8 seeded players, though Redis only knows the newcomer
    assert "top10IfChanged" not in answer
    assert (await get_json(api, "/api/scores/me", newcomer))["rank"] == 9
    top = await get_json(api, "/api/leaderboard/top")
    assert [e["rank"] for e in top] == list(range(1, 10))
    assert top[-1]["userId"] == str(newcomer.user_id)
