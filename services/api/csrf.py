"""A cookie-authenticated write must be the admin page's own (docs/security.md "The admin page").

A browser attaches the session cookie to whatever request it sends to the API, so a write that
rides on it must prove it came from the page: from the page's origin (`Sec-Fetch-Site`, set by
the browser and beyond the reach of scripts, and `Origin`), and carrying the session's CSRF
token, which only a script of that origin could have read. SameSite=Strict on the cookie is a
third layer. A bearer token is sent by code that chose to, so it needs none of this.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request

from scoreboard.domain.errors import Reason, Unauthorized

CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _refused(why: str) -> Unauthorized:
    return Unauthorized(f"refused: {why}", reason=Reason.CSRF_REFUSED)


def check_page_write(request: Request, *, origin: str, token: str) -> None:
    """Nothing for a read; for a write: the page's origin and the session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    fetch_site = request.headers.get("sec-fetch-site")
    sent_origin = request.headers.get("origin")
    if fetch_site is None and sent_origin is None:
        raise _refused("a write with the session cookie must say where it comes from (Origin)")
    if fetch_site is not None and fetch_site != "same-origin":
        raise _refused(f"a {fetch_site} request cannot use the admin session")
    if sent_origin is not None and sent_origin != origin:
        raise _refused("the request's origin is not the admin page's")
    sent_token = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent_token.encode(), token.encode()):
        raise _refused(f"the {CSRF_HEADER} header does not match the session")
