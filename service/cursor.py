"""Feed cursors: opaque, signed names of one page of one reader's ranked feed.

A cursor is base64url(request_id ‖ page ‖ MAC), the MAC an HMAC-SHA256 (truncated to
128 bits) over the reader's id, the request id and the page, keyed by a key derived from
the server secret that every process shares. So a cursor cannot be forged or edited, and
another reader's cursor is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid

from ranking.errors import BadQuery

_MAC_BYTES = 16
_PAGE_BYTES = 4
_LENGTH = 16 + _PAGE_BYTES + _MAC_BYTES
_AGAIN = "ask for the feed again without a cursor"


def cursor_key(server_secret: bytes) -> bytes:
    """The key that signs cursors, derived so that it signs nothing else."""
    return hmac.new(server_secret, b"paperfeed feed cursor", hashlib.sha256).digest()


def _mac(key: bytes, user_id: str, request_id: uuid.UUID, page: int) -> bytes:
    message = b"%s\x00%s%s" % (
        user_id.encode(),
        request_id.bytes,
        page.to_bytes(_PAGE_BYTES, "big"),
    )
    return hmac.new(key, message, hashlib.sha256).digest()[:_MAC_BYTES]


def make_cursor(key: bytes, user_id: str, request_id: uuid.UUID, page: int) -> str:
    """The cursor of page `page` (2 for the one after the first) of feed `request_id`."""
    raw = (
        request_id.bytes + page.to_bytes(_PAGE_BYTES, "big") + _mac(key, user_id, request_id, page)
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def read_cursor(key: bytes, user_id: str, cursor: str) -> tuple[uuid.UUID, int]:
    """(request id, page) named by `cursor`; BadQuery if this server did not issue it
    for `user_id`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != _LENGTH:
        raise BadQuery(f"cursor is not one this server issued; {_AGAIN}")
    request_id = uuid.UUID(bytes=raw[:16])
    page = int.from_bytes(raw[16 : 16 + _PAGE_BYTES], "big")
    if not hmac.compare_digest(raw[16 + _PAGE_BYTES :], _mac(key, user_id, request_id, page)):
        raise BadQuery(f"cursor is not valid for reader {user_id!r}'s feed; {_AGAIN}")
    return request_id, page
