"""Request guards in the order DESIGN section 4 fixes: IP limit, token, user limit."""

from __future__ import annotations

from starlette.requests import Request

from scoreboard.domain.errors import RateLimited, Reason, Unauthenticated
from scoreboard.domain.models import Principal
from scoreboard.redis_store.rate_limit import Decision
from services.api.client_ip import client_ip
from services.api.context import ApiContext


def _remember_limit_headers(request: Request, decision: Decision, policy: str) -> None:
    """IETF RateLimit headers; the tightest policy seen so far wins the RateLimit line."""
    headers: dict[str, str] = getattr(request.state, "extra_headers", {})
    policies = headers.get("RateLimit-Policy")
    entry = f'"{policy}";q={decision.limit};w=60'
    headers["RateLimit-Policy"] = f"{policies}, {entry}" if policies else entry
    current = getattr(request.state, "tightest_remaining", None)
    if current is None or decision.remaining <= current:
        request.state.tightest_remaining = decision.remaining
        headers["RateLimit"] = f'"{policy}";r={decision.remaining};t={decision.reset_s}'
    request.state.extra_headers = headers


async def limit_ip(request: Request, context: ApiContext, scope: str = "ip") -> str:
    address = client_ip(
        request.client.host if request.client else None,
        request.headers.get("x-forwarded-for"),
        context.settings.trusted_proxies,
    )
    request.state.client_ip = address
    decision = await context.limiter.hit(scope, address, context.settings.rate_limit_ip_per_min)
    _remember_limit_headers(request, decision, scope)
    if not decision.admitted:
        context.metrics.rate_limited.labels(scope).inc()
        raise RateLimited(decision.retry_after_s, "ip")
    return address


async def authenticate(request: Request, context: ApiContext) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("a bearer token is required", reason=Reason.TOKEN_MISSING)
    principal = await context.verifier.verify(token.strip())
    request.state.user_id = principal.user_id
    return principal


async def limit_user(
    request: Request, context: ApiContext, principal: Principal, scope: str = "user"
) -> None:
    decision = await context.limiter.hit(
        scope, str(principal.user_id), context.settings.rate_limit_user_per_min
    )
    _remember_limit_headers(request, decision, scope)
    if not decision.admitted:
        context.metrics.rate_limited.labels(scope).inc()
        raise RateLimited(decision.retry_after_s, "user")


async def guarded_principal(request: Request, context: ApiContext, *, scope: str) -> Principal:
    """IP limit, then the bearer token, then the user limit."""
    await limit_ip(request, context, f"{scope}-ip")
    principal = await authenticate(request, context)
    await limit_user(request, context, principal, f"{scope}-user")
    return principal
