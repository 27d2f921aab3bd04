"""Who is calling: API keys with scopes for servers, signed reader tokens for browsers.

Every request but the probes and the API documentation sends `Authorization: Bearer X`,
where X is either

- an API key `pf_<key_id>_<secret>`: the database keeps the key's scopes and the SHA-256
  of its secret; `admin` implies every other scope;
- a reader token (a JWT signed with HS256) that a server minted with its key through
  `POST /v1/tokens`: it speaks for one reader only, until it expires or the key that
  minted it is revoked.

The middleware resolves the header to a `Principal`; the route guards below decide.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from ranking.errors import Forbidden, InvalidInput, Unauthorized
from service.wire import SCOPES, Scope
from storage.rows import KeyRecord
from storage.store import Store

KEY_PREFIX = "pf_"
_KEY = re.compile(r"pf_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
TOKEN_ALGORITHM = "HS256"
TOKEN_SECRET_NAME = "reader_token_hmac"
_HOW = "send 'Authorization: Bearer <API key or reader token>'"


@dataclass(frozen=True, slots=True)
class NewKey:
    key_id: str
    secret_sha256: str
    token: str  # shown to the operator once; never stored


def generate_key() -> NewKey:
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewKey(key_id, hash_secret(secret), f"{KEY_PREFIX}{key_id}_{secret}")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(scopes))
    unknown = [s for s in chosen if s not in SCOPES]
    if not chosen or unknown:
        raise InvalidInput(f"scopes must be some of {', '.join(SCOPES)}; got {list(chosen)}")
    return chosen


async def create_key(store: Store, name: str, scopes: Iterable[str]) -> tuple[KeyRecord, str]:
    """Store a new key; return its record and the full key (shown once)."""
    new = generate_key()
    record = await store.create_key(new.key_id, name, new.secret_sha256, check_scopes(scopes))
    return record, new.token


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller. `reader` is set for reader tokens: the one reader they speak for."""

    key_id: str  # the key itself, or the key that minted the reader token
    scopes: frozenset[str]
    reader: str | None = None

    def has(self, scope: Scope) -> bool:
        return self.reader is None and (scope in self.scopes or "admin" in self.scopes)

    @property
    def rate_limit_id(self) -> str:
        return f"key:{self.key_id}" if self.reader is None else f"reader:{self.reader}"


# --- reader tokens --------------------------------------------------------------------------


def mint_reader_token(
    secret: bytes, reader: str, key_id: str, ttl: timedelta, now: datetime | None = None
) -> tuple[str, datetime]:
    now = now or datetime.now(UTC)
    expires = now + ttl
    claims = {"sub": reader, "kid": key_id, "typ": "reader", "iat": now, "exp": expires}
    return jwt.encode(claims, secret, algorithm=TOKEN_ALGORITHM), expires.replace(microsecond=0)


def read_reader_token(secret: bytes, token: str) -> tuple[str, str]:
    """(reader, minting key id) of a valid token; Unauthorized otherwise."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[TOKEN_ALGORITHM],
            options={"require": ["sub", "kid", "exp", "typ"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the reader token has expired; mint a new one") from None
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"the reader token is not valid ({exc}); {_HOW}") from None
    if claims["typ"] != "reader":
        raise Unauthorized("not a reader token")
    return str(claims["sub"]), str(claims["kid"])


# --- the middleware ---------------------------------------------------------------------


class KeyCache:
    """API key records kept for `seconds` after each read, so that a request does not
    wait on the database to learn who is calling. A key revoked elsewhere (`paperfeed keys
    revoke`, another process) is refused within `seconds`; unknown keys are not kept (a
    key made a moment later works at once). 0: read the database every time."""

    def __init__(self, store: Store, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.store = store
        self.seconds = seconds
        self.clock = clock
        self._kept: dict[str, tuple[float, KeyRecord]] = {}

    async def get(self, key_id: str) -> KeyRecord | None:
        now = self.clock()
        kept = self._kept.get(key_id)
        if kept is not None and kept[0] > now:
            return kept[1]
        key = await self.store.get_key(key_id)
        if key is None or self.seconds <= 0:
            self._kept.pop(key_id, None)
            return key
        if len(self._kept) >= 10_000:  # keys are few; bound it all the same
            self._kept = {k: v for k, v in self._kept.items() if v[0] > now}
        self._kept[key_id] = (now + self.seconds, key)
        return key


async def authenticate(keys: KeyCache, token_secret: bytes, header: str | None) -> Principal:
    if not header:
        raise Unauthorized(f"this endpoint needs credentials: {_HOW}")
    scheme, _, credential = header.partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise Unauthorized(f"unsupported Authorization header: {_HOW}")
    if credential.startswith(KEY_PREFIX):
        match = _KEY.fullmatch(credential)
        key = await keys.get(match[1]) if match else None
        if (
            match is None
            or key is None
            or not hmac.compare_digest(key.secret_sha256, hash_secret(match[2]))
        ):
            raise Unauthorized("unknown API key")
        if key.revoked_at is not None:
            raise Unauthorized(f"API key {key.key_id} was revoked")
        return Principal(key.key_id, frozenset(key.scopes))
    reader, key_id = read_reader_token(token_secret, credential)
    key = await keys.get(key_id)
    if key is None or key.revoked_at is not None:
        raise Unauthorized("the key that minted this reader token was revoked")
    return Principal(key_id, frozenset(), reader=reader)


class AuthenticationMiddleware(AbstractAuthenticationMiddleware):
    """Resolves `Authorization` to a `Principal` (in `request.user`) or answers 401."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        runtime = connection.app.state.runtime
        principal = await authenticate(
            runtime.keys, runtime.token_secret, connection.headers.get("authorization")
        )
        return AuthenticationResult(user=principal, auth=None)


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    user = connection.scope.get("user")
    if not isinstance(user, Principal):  # a route excluded from authentication
        raise Unauthorized(f"this endpoint needs credentials: {_HOW}")
    return user


# --- route guards -----------------------------------------------------------------------

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]


def requires(scope: Scope, readers: Literal["none", "any", "own"] = "none") -> Guard:
    """A guard: keys need `scope`; reader tokens may pass never ("none"), always ("any":
    the shared catalogue), or only for their own reader ("own": the `user_id` in the path;
    endpoints without one, like events, check each item themselves)."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = principal_of(connection)
        if principal.reader is None:
            if not principal.has(scope):
                raise Forbidden(f"this API key lacks the {scope!r} scope")
            return
        if readers == "none":
            raise Forbidden(f"a reader token cannot do this; it needs an API key with {scope!r}")
        path_user = connection.path_params.get("user_id")
        if readers == "own" and path_user is not None and path_user != principal.reader:
            raise Forbidden(
                f"this reader token is for reader {principal.reader!r}, not {path_user!r}"
            )

    return guard


def rate_limit_id(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """Rate limits count per key (per reader for reader tokens), else per client address."""
    user = connection.scope.get("user")
    if isinstance(user, Principal):
        return user.rate_limit_id
    client = connection.client
    return f"addr:{client.host if client else 'unknown'}"
