"""db/paging.py, through the reviews' list (a join, an alias): pages of one status or of all,
newest first, without gaps or repeats. The adjustments' list is paged in test_adjustments.py."""

from __future__ import annotations

from uuid import UUID, uuid4

import asyncpg

from scoreboard.db import reviews
from scoreboard.db.reviews import ReviewStatus


async def _open_reviews(connection: asyncpg.Connection, count: int) -> list[UUID]:
    opened = []
    for number in range(count):
        user_id, review_id = uuid4(), uuid4()
        await connection.execute(
            "INSERT INTO users (id, display_name) VALUES ($1, $2)", user_id, f"P{number}"
        )
        assert await reviews.open_review(
            connection, review_id=review_id, user_id=user_id, rule="overall", observed={"n": number}
        )
        opened.append(review_id)
    return opened


async def test_review_pages_keep_to_one_status_and_run_newest_first(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        opened = await _open_reviews(connection, 5)
        await reviews.close(
            connection, opened[1], status=ReviewStatus.CLEARED, closed_by="admin", reason="a real fan"
        )

        seen: list[UUID] = []
        before = None
        while page := await reviews.page(connection, status=ReviewStatus.OPEN, before_seq=before, limit=2):
            seen += [review.id for review in page]
            before = page[-1].seq
        assert seen == [opened[4], opened[3], opened[2], opened[0]]

        every = await reviews.page(connection, status=None, before_seq=None, limit=10)
        assert [review.id for review in every] == list(reversed(opened))
        cleared = every[3]
        assert cleared.status is ReviewStatus.CLEARED
        assert (cleared.display_name, cleared.observed) == ("P1", {"n": 1})
    finally:
        await connection.close()
