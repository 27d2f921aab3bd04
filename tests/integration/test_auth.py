"""Authorisation: every endpoint × every kind of caller, and the key and token life cycle."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from ranking.embedder import Embedder
from service.auth import mint_reader_token
from service.settings import Settings
from tests.support import AppClient, event, running_app, runtime_of, side_store

_ids = itertools.count()


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    scope: str  # the key scope it needs (admin implies every scope)
    readers: str  # reader tokens: "none" refused, "any" allowed, "own" only for alice
    ok: int = 200
    body: Callable[[], dict[str, Any]] | None = None


def alice_event() -> dict[str, Any]:
    return {"events": [event(f"auth-{next(_ids)}", "alice", "rl-1", "click")]}


# In this order: the last rows change state the earlier ones need.
ENDPOINTS = [
    Endpoint("GET", "/v1/users/alice/feed", "feed:read", "own"),
    Endpoint("GET", "/v1/papers/diffusion-0", "feed:read", "any"),
    Endpoint("GET", "/v1/papers/diffusion-0/similar", "feed:read", "any"),
    Endpoint("GET", "/v1/search?q=protein", "feed:read", "any"),
    Endpoint("GET", "/v1/trending", "feed:read", "any"),
    Endpoint("POST", "/v1/events", "events:write", "own", body=alice_event),
    Endpoint(
        "POST",
        "/v1/papers",
        "papers:write",
        "none",
        body=lambda: {"papers": [{"id": "extra-1", "title": "An extra paper"}]},
    ),
    Endpoint("DELETE", "/v1/papers/doomed-1", "papers:write", "none", ok=204),
    Endpoint("POST", "/v1/tokens", "feed:read", "none", body=lambda: {"user_id": "alice"}),
    Endpoint("GET", "/v1/admin/models", "admin", "none"),
    Endpoint("POST", "/v1/admin/models/heuristic/activate", "admin", "none"),
    Endpoint("POST", "/v1/admin/models/rollback", "admin", "none"),
    Endpoint("POST", "/v1/admin/stats/refresh", "admin", "none"),
    Endpoint("GET", "/metrics", "admin", "none"),
    Endpoint("GET", "/v1/admin/metrics/summary?hours=2", "admin", "none"),
    Endpoint("GET", "/v1/admin/models/unknown/report", "admin", "none", ok=404),
    Endpoint(
        "PUT",
        "/v1/users/alice/subscription",
        "admin",
        "own",
        body=lambda: {"email": "alice@example.org", "frequency": "daily", "max_items": 5},
    ),
    Endpoint("GET", "/v1/users/alice/subscription", "admin", "own"),
    Endpoint("DELETE", "/v1/users/alice/subscription", "admin", "own", ok=204),
    Endpoint("POST", "/v1/users/alice/feed-tokens", "admin", "own", ok=201),
    Endpoint("GET", "/v1/users/alice/feed-tokens", "admin", "own"),
    Endpoint("DELETE", "/v1/users/alice/feed-tokens/000000000000", "admin", "own", ok=404),
    Endpoint(
        "PUT", "/v1/users/alice/interests", "admin", "own", body=lambda: {"topics": ["robots"]}
    ),
    Endpoint("GET", "/v1/users/alice/interests", "admin", "own"),
    Endpoint("GET", "/v1/users/alice/export", "admin", "own"),
    Endpoint("DELETE", "/v1/users/alice", "admin", "own"),
]

CALLERS = (
    "no key",
    "wrong scope",
    "right scope",
    "admin key",
    "token of alice",
    "token of bob",
    "expired token",
    "tampered token",
)


def expected(endpoint: Endpoint, caller: str) -> int:
    if caller in ("no key", "expired token", "tampered token"):
        return 401
    if caller == "wrong scope":
        return 403
    if caller in ("right scope", "admin key"):
        return endpoint.ok
    if caller == "token of alice":
        return endpoint.ok if endpoint.readers in ("any", "own") else 403
    return endpoint.ok if endpoint.readers == "any" else 403  # token of bob


def tamper(token: str, **claims: Any) -> str:
    """The token with its claims changed and the old signature kept."""
    header, payload, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    changed = base64.urlsafe_b64encode(json.dumps({**decoded, **claims}).encode()).rstrip(b"=")
    return f"{header}.{changed.decode()}.{signature}"


async def mint(client: AppClient, key: str, user: str, **extra: Any) -> str:
    response = await client.post(
        "/v1/tokens", json={"user_id": user, **extra}, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


async def test_every_endpoint_answers_every_caller_as_the_matrix_says(
    catalogue: AppClient,
) -> None:
    client = catalogue
    setup = await client.post(
        "/v1/papers", json={"papers": [{"id": "doomed-1", "title": "A paper to withdraw"}]}
    )
    assert setup.status_code == 200
    scopes = ("feed:read", "events:write", "papers:write", "admin")
    keys = {scope: await client.create_key(scope) for scope in scopes}
    alice = await mint(client, keys["feed:read"], "alice")
    bob = await mint(client, keys["feed:read"], "bob")
    runtime = runtime_of(client)
    expired, _ = mint_reader_token(
        runtime.token_secret,
        "alice",
        keys["feed:read"].split("_")[1],
        timedelta(minutes=15),
        now=datetime.now(UTC) - timedelta(hours=1),
    )
    credentials = {
        "no key": None,
        "admin key": keys["admin"],
        "token of alice": alice,
        "token of bob": bob,
        "expired token": expired,
        "tampered token": tamper(bob, sub="alice"),
    }

    failures = []
    table = [f"{'endpoint':<48}" + "".join(f"{c:>15}" for c in CALLERS)]
    for endpoint in ENDPOINTS:
        row = f"{endpoint.method + ' ' + endpoint.path:<48}"
        for caller in CALLERS:
            if caller == "right scope":
                credential: str | None = keys[endpoint.scope]
            elif caller == "wrong scope":
                credential = keys["events:write" if endpoint.scope == "feed:read" else "feed:read"]
            else:
                credential = credentials[caller]
            client.headers.pop("Authorization", None)  # only the caller's own credential
            headers = _bearer(credential) if credential else {}
            response = await client.request(
                endpoint.method,
                endpoint.path,
                json=endpoint.body() if endpoint.body else None,
                headers=headers,
            )
            want = expected(endpoint, caller)
            row += f"{response.status_code:>15}"
            if response.status_code != want:
                failures.append(
                    f"{endpoint.method} {endpoint.path} as {caller}: "
                    f"{response.status_code} (expected {want}): {response.text[:200]}"
                )
            elif want in (401, 403):
                problem = response.json()
                assert response.headers["content-type"].startswith("application/problem+json")
                assert problem["status"] == want and problem["detail"]
                if want == 401:
                    assert response.headers["WWW-Authenticate"].startswith("Bearer")
        table.append(row)
    print("\n".join(table))
    assert not failures, "\n".join(failures)


async def test_probes_and_docs_need_no_key_and_everything_else_does(client: AppClient) -> None:
    client.headers.pop("Authorization")
    for path in ("/health", "/ready", "/docs/openapi.json"):
        assert (await client.get(path)).status_code == 200, path
    schema = (await client.get("/docs/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    operations = [
        (method.upper(), path, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "delete")
    ]
    # Signed links in e-mails and feeds work without credentials; a forged one is 404.
    links = ("/unsubscribe/{token}", "/r/{token}")
    for method, path, op in operations:
        if path in ("/health", "/ready", *links):
            assert op["security"] == [{}], path  # "no credentials needed"
            if path in links:
                forged = await client.request(method, path.replace("{token}", "a.b.c"))
                assert forged.status_code == 404, (method, path)
            continue
        if path == "/v1/users/{user_id}/feed.atom":  # its own token, in the URL
            assert op["security"] == [{}]
            assert (await client.get("/v1/users/u1/feed.atom")).status_code == 401
            continue
        assert {"401", "403"} <= set(op["responses"]), (method, path)
        concrete = path.replace("{paper_id}", "p1").replace("{user_id}", "u1")
        concrete = concrete.replace("{version}", "v1")
        response = await client.request(method, concrete, params={"q": "x"})
        assert response.status_code == 401, (method, path, response.status_code)


async def test_bad_credentials_are_401_with_a_reason(client: AppClient) -> None:
    key = await client.create_key("feed:read")
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    cases = {
        "Basic dXNlcjpwYXNz": "unsupported Authorization header",
        "Bearer": "unsupported Authorization header",
        "Bearer pf_nonsense": "unknown API key",
        f"Bearer {forged}": "unknown API key",
        "Bearer not.a.token": "reader token is not valid",
    }
    for header, reason in cases.items():
        response = await client.get("/v1/trending", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert reason in response.json()["detail"], (header, response.json())


async def test_revoking_a_key_stops_it_and_the_tokens_it_minted(client: AppClient) -> None:
    key = await client.create_key("feed:read", name="frontend")
    token = await mint(client, key, "carol")
    assert (await client.get("/v1/users/carol/feed", headers=_bearer(token))).status_code == 200
    key_id = key.split("_")[1]
    async with side_store(
        runtime_of(client).database_url
    ) as store:  # as `paperfeed keys revoke` does
        assert (await store.revoke_key(key_id)) is not None
        listed = {k.key_id: k for k in await store.list_keys()}
    # Refused once the server's copy of the key is older than PAPERFEED_KEY_CACHE_SECONDS.
    await asyncio.sleep(runtime_of(client).settings.key_cache_seconds)
    for credential in (key, token):
        response = await client.get("/v1/users/carol/feed", headers=_bearer(credential))
        assert response.status_code == 401
        assert "revoked" in response.json()["detail"]
    assert listed[key_id].revoked_at is not None and listed[key_id].name == "frontend"
    # Only the hash of the secret is stored.
    stored = await client.fetchval("SELECT secret_sha256 FROM api_keys WHERE key_id = $1", key_id)
    assert key.split("_", 2)[2] not in stored and len(stored) == 64


async def test_token_lifetimes_are_bounded(client: AppClient) -> None:
    longest = runtime_of(client).settings.reader_token_ttl_seconds
    short = await client.post("/v1/tokens", json={"user_id": "dave", "ttl_seconds": 60})
    expires = datetime.fromisoformat(short.json()["expires_at"])
    assert timedelta(seconds=50) < expires - datetime.now(UTC) <= timedelta(seconds=61)
    too_long = await client.post("/v1/tokens", json={"user_id": "dave", "ttl_seconds": longest + 1})
    assert too_long.status_code == 422
    assert "PAPERFEED_READER_TOKEN_TTL_SECONDS" in too_long.json()["detail"]
    # 60.0 is the integer 60 to JSON Schema; a string, a fraction or a boolean is not one.
    whole = await client.post("/v1/tokens", json={"user_id": "dave", "ttl_seconds": 60.0})
    assert whole.status_code == 200, whole.text
    for bad in ("60", 60.5, True):
        refused = await client.post("/v1/tokens", json={"user_id": "dave", "ttl_seconds": bad})
        assert refused.status_code == 400, (bad, refused.text)
        assert refused.json()["errors"][0]["key"] == "ttl_seconds"


async def test_a_reader_token_cannot_post_events_of_another_reader(catalogue: AppClient) -> None:
    client = catalogue
    token = await mint(client, client.admin_key, "erin")
    mixed = [event("m-1", "erin", "rl-1"), event("m-2", "frank", "rl-2")]
    response = await client.post("/v1/events", json={"events": mixed}, headers=_bearer(token))
    assert response.status_code == 403
    assert "frank" in response.json()["detail"]
    assert await client.fetchval("SELECT count(*) FROM events") == 0  # nothing half-written
    own = await client.post("/v1/events", json={"events": mixed[:1]}, headers=_bearer(token))
    assert own.status_code == 200 and own.json()["accepted"] == 1


def _bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


async def test_a_key_is_read_once_per_cache_period_and_revocation_wins_after_it(
    settings: Settings, embedder: Embedder
) -> None:
    """The server keeps a key's record for PAPERFEED_KEY_CACHE_SECONDS: a key revoked
    elsewhere still works until then (read from the cache, not the database), never after."""
    seconds = 5.0
    async with running_app(
        msgspec.structs.replace(settings, key_cache_seconds=seconds), embedder
    ) as client:
        key = await client.create_key("feed:read", name="cached")
        assert (await client.get("/v1/trending", headers=_bearer(key))).status_code == 200
        read_at = time.monotonic()
        async with side_store(runtime_of(client).database_url) as store:
            assert (await store.revoke_key(key.split("_")[1])) is not None
        within = await client.get("/v1/trending", headers=_bearer(key))
        if time.monotonic() - read_at < seconds:  # not yet looked up again: still the cached key
            assert within.status_code == 200
        await asyncio.sleep(max(0.0, read_at + seconds - time.monotonic()))
        refused = await client.get("/v1/trending", headers=_bearer(key))
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
