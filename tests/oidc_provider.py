"""A small OpenID Connect provider for the tests, built from authlib's own server components.

The authorization code grant (authlib.oauth2.rfc6749) with PKCE required, S256 only
(authlib.oauth2.rfc7636), ID tokens signed RS256 by a throwaway RSA key (authlib.oidc.core,
joserfc), a discovery document checked by authlib.oidc.discovery, and a JWKS. Its login page
lists the known people as buttons (no passwords: who clicks is who signs in). It is served by
uvicorn on a free loopback port, in the test's event loop.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import socket
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from authlib.common.security import generate_token
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Error, OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin, OpenIDCode, UserInfo
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

SCOPES = ["openid", "profile"]


@dataclass(frozen=True)
class Person:
    sub: str
    name: str
    roles: tuple[str, ...] = ()


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(item for item in scope.split() if item in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass
class Code(AuthorizationCodeMixin):  # type: ignore[misc]
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    person: Person
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time


class S256Required(CodeChallenge):  # type: ignore[misc]
    """PKCE for every client, S256 only: a client that skips it cannot sign in here."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 - authlib's class attribute

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE with S256 is required")
        super().validate_code_challenge(grant, redirect_uri)


class CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        self.server.codes[code] = Code(
            code=code,
            client_id=request.client.get_client_id(),
            redirect_uri=data.get("redirect_uri", ""),
            scope=request.scope,
            person=request.user,
            nonce=data.get("nonce"),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        found: Code | None = self.server.codes.get(code)
        return found if found is not None and found.client_id == client.client_id else None

    def delete_authorization_code(self, authorization_code: Code) -> None:
        self.server.codes.pop(authorization_code.code, None)  # a code is good once

    def authenticate_user(self, authorization_code: Code) -> Person:
        return authorization_code.person


class IdTokens(OpenIDCode):  # type: ignore[misc]
    def __init__(self, provider: LocalOidcProvider) -> None:
        super().__init__(require_nonce=True)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        return any(code.nonce == nonce for code in self.provider.codes.values())

    def resolve_client_private_key(self, client: Client) -> RSAKey:
        return self.provider.key

    def get_client_algorithm(self, client: Client) -> str:
        return "RS256"

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        return {"iss": self.provider.issuer, "aud": [client.get_client_id()]}

    def get_encode_header(self, client: Client) -> dict[str, Any]:
        return {"alg": "RS256", "kid": self.provider.key.kid}

    def generate_user_info(self, user: Person, scope: str) -> UserInfo:
        info = UserInfo(sub=user.sub, name=user.name)
        if user.roles:
            info[self.provider.role_claim] = list(user.roles)
        return info


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, data: Mapping[str, str]) -> None:
        self._data = dict(data)

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return {key: [value] for key, value in self._data.items()}


class _Request(OAuth2Request):  # type: ignore[misc]
    def __init__(self, request: Request, query: Mapping[str, str], form: Mapping[str, str]) -> None:
        super().__init__(request.method, str(request.url), headers=Headers(scope=request.scope))
        self._args, self._form = dict(query), dict(form)
        self.payload = _Payload({**query, **form})

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class LocalOidcProvider(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, *, people: dict[str, Person], role_claim: str = "roles") -> None:
        super().__init__(scopes_supported=SCOPES)
        self.issuer = ""  # known once it listens
        self.people = people
        self.role_claim = role_claim
        self.clients: dict[str, Client] = {}
        self.codes: dict[str, Code] = {}
        self.tokens: list[dict[str, Any]] = []
        self.refusals: list[str] = []  # the OAuth error of every refused request, in order
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1", "use": "sig"})
        self.register_token_generator("default", BearerTokenGenerator(lambda **_: generate_token(42)))
        self.register_grant(CodeGrant, [S256Required(required=True), IdTokens(self)])

    def add_client(self, client_id: str, client_secret: str, redirect_uri: str) -> None:
        self.clients[client_id] = Client(client_id, client_secret, [redirect_uri])

    # --- what authlib asks of a framework integration --------------------------------------

    def query_client(self, client_id: str) -> Client | None:
        return self.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        self.tokens.append(token)

    def create_oauth2_request(self, request: OAuth2Request) -> OAuth2Request:
        return request  # built by the route, which has read the body already

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        if status >= 400 and isinstance(body, dict):
            self.refusals.append(str(body.get("error")))
        if isinstance(body, dict):
            return JSONResponse(body, status_code=status, headers=dict(headers))
        return Response(body, status_code=status, headers=dict(headers))

    # --- the provider's HTTP face ----------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        document = OpenIDProviderMetadata(
            issuer=self.issuer,
            authorization_endpoint=f"{self.issuer}/authorize",
            token_endpoint=f"{self.issuer}/token",
            jwks_uri=f"{self.issuer}/jwks",
            response_types_supported=["code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            scopes_supported=SCOPES,
            code_challenge_methods_supported=["S256"],
            token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"],
            grant_types_supported=["authorization_code"],
        )
        document.validate()
        return dict(document)

    async def _discovery(self, request: Request) -> Response:
        return JSONResponse(self.metadata())

    async def _jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    async def _authorize(self, request: Request) -> Response:
        form = await _form(request) if request.method == "POST" else {}
        query = {key: value for key, value in form.items() if key != "person"} or dict(request.query_params)
        oauth_request = _Request(request, query, {})
        person = self.people.get(str(form.get("person", "")))
        try:
            grant = self.get_consent_grant(oauth_request, end_user=person)
        except OAuth2Error as error:
            self.refusals.append(str(error.error))
            return HTMLResponse(f"<p>refused: {html.escape(str(error.error))}</p>", status_code=400)
        if person is None:
            return HTMLResponse(self._login_page(query))
        response: Response = self.create_authorization_response(oauth_request, grant_user=person, grant=grant)
        return response

    def _login_page(self, query: Mapping[str, str]) -> str:
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(key)}" value="{html.escape(value)}">'
            for key, value in query.items()
        )
        buttons = "".join(
            f'<button name="person" value="{html.escape(key)}">Sign in as {html.escape(person.name)}</button>'
            for key, person in self.people.items()
        )
        return f'<!doctype html><title>Test provider</title><form method="post">{hidden}{buttons}</form>'

    async def _token(self, request: Request) -> Response:
        form = await _form(request)
        response: Response = self.create_token_response(_Request(request, {}, form))
        return response

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._discovery),
                Route("/jwks", self._jwks),
                Route("/authorize", self._authorize, methods=["GET", "POST"]),
                Route("/token", self._token, methods=["POST"]),
            ]
        )


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded body (what browsers and OAuth clients send here), without python-multipart."""
    return dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))


@asynccontextmanager
async def serving(provider: LocalOidcProvider, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """The provider on a free port of `host` (`localhost` makes it another site than 127.0.0.1,
    as a real provider is); yields its issuer URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    provider.issuer = f"http://{host}:{sock.getsockname()[1]}"
    config = uvicorn.Config(provider.app(), lifespan="off", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # its startup failed: say why
            await asyncio.sleep(0.01)
        yield provider.issuer
    finally:
        server.should_exit = True
        await task
        sock.close()
