"""Request guards in the order the contract fixes (ARCHITECTURE.md: Write API): IP limit, bearer
token, user limit.

Both limits are checked by one script in one Redis round trip, IP first: the token is verified
before that call (CPU only), and if it is invalid only the IP limit is checked, then 401. The
outcome is the same as checking one after the other, including which window a refusal uses.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

from starlette.requests import Request

from scoreboard.domain.errors import RateLimited, Reason, Unauthenticated
from scoreboard.domain.models import Principal
from scoreboard.redis_store.rate_limit import Check, Decision
from scoreboard.web.client_ip import client_ip
from services.api.context import ApiContext


def _remember_limit_headers(request: Request, decision: Decision, policy: str) -> None:
    """IETF RateLimit headers; the tightest policy seen so far wins the RateLimit line."""
    # The dict behind request.state, read without State's AttributeError for a missing name.
    state = request.scope.setdefault("state", {})
    headers: dict[str, str] = state.setdefault("extra_headers", {})
    policies = headers.get("RateLimit-Policy")
    entry = f'"{policy}";q={decision.limit};w=60'
    headers["RateLimit-Policy"] = f"{policies}, {entry}" if policies else entry
    current = state.get("tightest_remaining")
    if current is None or decision.remaining <= current:
        state["tightest_remaining"] = decision.remaining
        headers["RateLimit"] = f'"{policy}";r={decision.remaining};t={decision.reset_s}'


def _caller_address(request: Request, context: ApiContext) -> str:
    address = client_ip(
        request.client.host if request.client else None,
        request.headers.get("x-forwarded-for"),
        context.settings.trusted_proxies,
    )
    request.state.client_ip = address
    return address


async def _enforce(request: Request, context: ApiContext, *checks: Check) -> None:
    for check, decision in zip(checks, await context.limiter.hit(*checks), strict=False):
        _remember_limit_headers(request, decision, check.scope)
        if not decision.admitted:
            context.metrics.rate_limited.labels(check.scope).inc()
            raise RateLimited(decision.retry_after_s, "user" if check.scope.endswith("-user") else "ip")


async def authenticate(request: Request, context: ApiContext) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("a bearer token is required", reason=Reason.TOKEN_MISSING)
    principal = await context.verifier.verify(token.strip())
    request.state.user_id = principal.user_id
    return principal


def limit_reads(request: Request, context: ApiContext) -> None:
    """The per-IP limit of the public reads (in process: see read_limit.py)."""
    wait_s = context.read_limiter.admit(_caller_address(request, context))
    if wait_s:
        context.metrics.rate_limited.labels("read-ip").inc()
        raise RateLimited(max(1, math.ceil(wait_s)), "ip")


async def limit_ip(request: Request, context: ApiContext, scope: str) -> str:
    address = _caller_address(request, context)
    await _enforce(request, context, Check(scope, address, context.flags.current.ip_per_min))
    return address


Identify = Callable[[Request, ApiContext], Awaitable[Principal]]


async def guarded_principal(
    request: Request, context: ApiContext, *, scope: str, identify: Identify | None = None
) -> Principal:
    """IP limit, then the caller (the bearer token, unless `identify` says how), then the user
    limit (one round trip for both limits)."""
    # The limits in force: a runtime flag's, else the environment's (scoreboard/flags/view.py).
    limits = context.flags.current
    ip_check = Check(f"{scope}-ip", _caller_address(request, context), limits.ip_per_min)
    try:
        principal = await (identify or authenticate)(request, context)
    except Unauthenticated:
        await _enforce(request, context, ip_check)  # a flood of bad tokens still counts per IP
        raise
    user_check = Check(f"{scope}-user", str(principal.user_id), limits.user_per_min)
    await _enforce(request, context, ip_check, user_check)
    return principal
