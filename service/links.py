"""What readers carry around in URLs: signed links in e-mails and feeds (one-click
unsubscribe, click-through to a paper), and the Atom feed's tokens.

Links are JWTs (HS256) signed with the same server secret as reader tokens (`service.auth`;
`server_secrets` in PostgreSQL), told apart by their `typ` claim, so a link can never pass
for a reader token or the other kind of link. They do not expire: an unsubscribe link in a
year-old e-mail must still work. Deleting the secret invalidates them with every reader token.

Feed tokens are not API keys: `pff_<token_id>_<secret>`, one reader, read-only (their Atom
feed), revocable one by one; the database keeps the SHA-256 of the secret, as for keys.
"""

from __future__ import annotations

import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from urllib.parse import quote

import jwt

from ranking.errors import Forbidden, NotFound, Unauthorized
from service.auth import TOKEN_ALGORITHM, hash_secret
from storage.delivery import DeliveryStore

FEED_TOKEN_PREFIX = "pff_"
_FEED_TOKEN = re.compile(r"pff_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
# Click events from links get ids derived from (feed, paper): the same link opened twice is
# one click, whoever (or whatever mail scanner) opened it.
_CLICK_NAMESPACE = uuid.UUID("5b1f0c8e-7d4e-4b8a-9a57-2f8e1f6c3d10")


def _sign(secret: bytes, claims: dict[str, str]) -> str:
    return jwt.encode(claims, secret, algorithm=TOKEN_ALGORITHM)


def _read(secret: bytes, token: str, typ: str) -> dict[str, str]:
    try:
        claims = jwt.decode(token, secret, algorithms=[TOKEN_ALGORITHM])
    except jwt.InvalidTokenError:
        claims = {}
    if not isinstance(claims, dict) or claims.get("typ") != typ:
        raise NotFound("this link is not valid: it may have been cut short or altered")
    return {k: str(v) for k, v in claims.items()}


# --- unsubscribe ----------------------------------------------------------------------


def unsubscribe_token(secret: bytes, user_id: str, email: str) -> str:
    """Names the reader and the address: a link for an old address cannot unsubscribe a
    newer one."""
    return _sign(secret, {"typ": "unsubscribe", "sub": user_id, "em": email})


def read_unsubscribe_token(secret: bytes, token: str) -> tuple[str, str]:
    """(reader, address) of a valid unsubscribe token; NotFound otherwise."""
    claims = _read(secret, token, "unsubscribe")
    return claims["sub"], claims["em"]


def unsubscribe_url(base_url: str, secret: bytes, user_id: str, email: str) -> str:
    return f"{base_url}/unsubscribe/{unsubscribe_token(secret, user_id, email)}"


# --- click-through --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Click:
    user_id: str
    request_id: uuid.UUID
    paper_id: str

    @property
    def event_id(self) -> str:
        """The click event's id: one per (feed, paper), so a repeated open is a duplicate."""
        return f"link-{uuid.uuid5(_CLICK_NAMESPACE, f'{self.request_id}/{self.paper_id}')}"


def click_url(base_url: str, secret: bytes, click: Click) -> str:
    claims = {
        "typ": "click",
        "sub": click.user_id,
        "rid": str(click.request_id),
        "pid": click.paper_id,
    }
    return f"{base_url}/r/{_sign(secret, claims)}"


def read_click_token(secret: bytes, token: str) -> Click:
    claims = _read(secret, token, "click")
    try:
        return Click(claims["sub"], uuid.UUID(claims["rid"]), claims["pid"])
    except (KeyError, ValueError):
        raise NotFound("this link is not valid") from None


# --- feed tokens ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewFeedToken:
    token_id: str
    secret_sha256: str
    token: str  # shown once; never stored


def generate_feed_token() -> NewFeedToken:
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewFeedToken(token_id, hash_secret(secret), f"{FEED_TOKEN_PREFIX}{token_id}_{secret}")


def atom_url(base_url: str, user_id: str, token: str) -> str:
    return f"{base_url}/v1/users/{quote(user_id)}/feed.atom?token={quote(token)}"


async def check_feed_token(delivery: DeliveryStore, token: str | None, user_id: str) -> str:
    """The token's id if `token` is a live feed token of `user_id`; Unauthorized (unknown,
    malformed, revoked) or Forbidden (another reader's) otherwise."""
    match = _FEED_TOKEN.fullmatch(token or "")
    row = await delivery.feed_token(match[1]) if match else None
    if (
        match is None
        or row is None
        or not hmac.compare_digest(row.secret_sha256, hash_secret(match[2]))
    ):
        raise Unauthorized(
            "this feed needs ?token=pff_... from POST /v1/users/{user_id}/feed-tokens"
        )
    if row.revoked_at is not None:
        raise Unauthorized(f"feed token {row.token_id} was revoked; create a new one")
    if row.user_id != user_id:
        raise Forbidden(f"this feed token is for another reader, not {user_id!r}")
    return row.token_id
