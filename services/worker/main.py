"""The worker process: an arq Worker plus its health/metrics port, in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from signal import Signals
from typing import Any

import uvicorn
from arq import cron
from arq.connections import RedisSettings as ArqRedisSettings
from arq.worker import Worker, func
from redis.exceptions import RedisError

from scoreboard.background import until_stopped
from scoreboard.db.pool import create_pool_lazily
from scoreboard.flags.runtime import FlagsRuntime
from scoreboard.moderation_view import ModerationView
from scoreboard.redis_store.connection import UNAVAILABLE_ERRORS as REDIS_DOWN
from scoreboard.redis_store.connection import create_queue_redis, create_redis
from scoreboard.redis_store.job_queue import (
    APPLY_SCORE,
    MODERATE_USERS,
    REFRESH_PROFILES,
    job_deserializer,
    job_serializer,
)
from scoreboard.redis_store.keys import JOB_QUEUE
from scoreboard.redis_store.leaderboard import Leaderboard
from services.worker import jobs, moderation, profiles, reconciler
from services.worker.anomalies import AnomalyWatch
from services.worker.context import WorkerContext
from services.worker.flags_mirror import mirroring_source
from services.worker.health import HealthServer, create_health_app
from services.worker.metrics import WorkerMetrics
from services.worker.settings import WorkerProcessSettings
from services.worker.top_publisher import TopPublisher

log = logging.getLogger("scoreboard.worker")

# Wait for Redis forever instead of crashing: no crash loop, no start order.
CONNECT_RETRIES = 1_000_000
RESTART_DELAY_S = 1.0
LOOP_ENDING_ERRORS: tuple[type[BaseException], ...] = (*REDIS_DOWN, RedisError)


def build_context(settings: WorkerProcessSettings, metrics: WorkerMetrics) -> WorkerContext:
    pool = create_pool_lazily(settings, application_name="scoreboard-worker")
    redis = create_redis(settings)
    boards = {board.id: board for board in settings.board_list()}
    leaderboard = Leaderboard(redis, boards)
    publisher = TopPublisher(
        redis,
        leaderboard,
        metrics,
        boards,
        coalesce_ms=settings.leaderboard_coalesce_ms,
        stream_maxlen=settings.stream_maxlen,
    )
    flags = FlagsRuntime(
        settings, service="worker", source=mirroring_source(pool, redis), source_name="postgres"
    )
    return WorkerContext(settings, pool, redis, leaderboard, metrics, publisher, boards, flags=flags)


def build_worker(settings: WorkerProcessSettings, context: WorkerContext) -> Worker:
    async def on_startup(ctx: dict[str, Any]) -> None:
        context.publisher.start()

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        await context.publisher.stop()

    # arq on the queue's own single primary, never on a Cluster (ARCHITECTURE.md: Redis roles).
    redis_settings = ArqRedisSettings.from_dsn(settings.queue_url())
    redis_settings.conn_retries = CONNECT_RETRIES
    redis_settings.conn_timeout = int(max(1, settings.redis_timeout_s))
    worker = Worker(
        functions=[
            func(jobs.apply_score, name=APPLY_SCORE, max_tries=1000, timeout=10),
            func(profiles.refresh_profiles, name=REFRESH_PROFILES, max_tries=5, timeout=10),
            func(moderation.moderate_users, name=MODERATE_USERS, max_tries=5, timeout=10),
        ],
        cron_jobs=[
            # A rebuild of a very large board may take minutes; later ticks skip it meanwhile.
            cron(reconciler.reconcile, second=set(range(60)), unique=True, timeout=600, run_at_startup=True)
        ],
        redis_settings=redis_settings,
        queue_name=JOB_QUEUE,
        job_serializer=job_serializer,
        job_deserializer=job_deserializer,
        ctx={"scoreboard": context},
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        max_jobs=settings.worker_max_jobs,
        poll_delay=settings.worker_poll_delay_s,
        keep_result=0,  # nothing reads job results; a job re-enqueued after it ran is idempotent
        job_completion_wait=settings.worker_job_completion_wait_s,
        health_check_interval=10,
        health_check_key=f"{JOB_QUEUE}:health-check:{socket.gethostname()}",
        handle_signals=True,
    )
    worker.on_stop = _until_stopped(worker)
    return worker


_STOPPING: set[asyncio.Task[None]] = set()  # held until done: the loop keeps only weak references


def _until_stopped(worker: Worker) -> Callable[[Signals], None]:
    """arq's signal handler cancels its loop once, then calls this: redis-py may lose that cancel
    (decision 0017), and the process would never exit; so it is cancelled again until it stops."""

    def on_stop(_: Signals) -> None:
        if worker.main_task is not None:
            stopping = asyncio.ensure_future(until_stopped(worker.main_task))
            _STOPPING.add(stopping)
            stopping.add_done_callback(_STOPPING.discard)

    return on_stop


def anomaly_watch(settings: WorkerProcessSettings, context: WorkerContext) -> AnomalyWatch | None:
    """The anomaly watch and the moderation view it reads, started; None when no rule is set."""
    rules = settings.anomaly_rules.rules()
    if rules.empty:
        return None
    view = ModerationView(context.pool)
    view.start()
    watch = AnomalyWatch(context, rules, view, on_stop=view.stop)
    watch.start()
    return watch


async def run(settings: WorkerProcessSettings) -> None:
    metrics = WorkerMetrics()
    context = build_context(settings, metrics)
    await context.pool
    if context.flags is not None:
        context.flags.start()
    watch = anomaly_watch(settings, context)
    queue = create_queue_redis(settings, store=context.redis, max_connections=2)  # the depth gauge
    health = HealthServer(
        uvicorn.Config(
            create_health_app(context.pool, context.redis, metrics, queue=queue),
            host=settings.worker_host,
            port=settings.worker_port,
            log_config=None,
            lifespan="off",
        )
    )
    health_task = asyncio.create_task(health.serve(), name="worker-health")
    try:
        await _work_until_stopped(settings, context)
    finally:
        if watch is not None:
            await watch.stop()
        if context.flags is not None:
            await context.flags.stop()
        await context.publisher.stop()
        health.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await health_task
        if queue is not context.redis:
            await queue.aclose()
        await context.redis.aclose()
        await context.pool.close()


async def _work_until_stopped(settings: WorkerProcessSettings, context: WorkerContext) -> None:
    """arq's loop dies with its Redis connection; start a new one until a signal stops us."""
    while True:
        worker = build_worker(settings, context)
        try:
            await worker.async_run()
            return
        except asyncio.CancelledError:
            log.info("worker stopping")
            return
        except LOOP_ENDING_ERRORS as error:
            # arq's own loop has no recovery: any Redis failure inside it (a dropped connection,
            # a WatchError raised for one) ends it. Start a new loop; jobs are idempotent.
            log.warning("lost Redis; the worker loop restarts when it is back", extra={"error": str(error)})
            await asyncio.sleep(RESTART_DELAY_S)
        finally:
            with contextlib.suppress(*REDIS_DOWN):
                await worker.close()
