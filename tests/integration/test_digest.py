"""The e-mail digest and the Atom feed, end to end: a real SMTP server (aiosmtpd), the real
`paperfeed digest send` command, the real app over HTTP, a real feed parser."""

from __future__ import annotations

import asyncio
import email
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from typing import Any

import feedparser
import httpx
import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner

from paperfeed.cli import main
from service.settings import Settings
from tests.support import AppClient, event, runtime_of, side_store, topic_papers, wait_indexed
from training.dataset import load_dataset

ADA, BOB = "ada@example.org", "bob@example.net"


class Inbox:
    """An aiosmtpd handler that keeps every accepted message and refuses the addresses in
    `refuse` at RCPT with 550, as a real server refuses an unknown mailbox."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, EmailMessage]] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.extend((rcpt, message) for rcpt in envelope.rcpt_tos)
        return "250 Message accepted for delivery"

    def take(self) -> dict[str, EmailMessage]:
        taken = {rcpt: message for rcpt, message in self.messages}
        assert len(taken) == len(self.messages), "a reader got two messages in one run"
        self.messages.clear()
        return taken


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def send_digests(settings: Settings, client: AppClient, port: int) -> tuple[int, str]:
    """`paperfeed digest send`, as an operator runs it (in this process, through click)."""
    env = {
        "PAPERFEED_DATABASE_URL": settings.database_url,
        "PAPERFEED_DATA_DIR": str(settings.data_dir),
        "PAPERFEED_SMTP_HOST": "127.0.0.1",
        "PAPERFEED_SMTP_PORT": str(port),
        "PAPERFEED_SMTP_SECURITY": "none",
        "PAPERFEED_MAIL_FROM": "paperfeed <digest@paperfeed.example>",
        "PAPERFEED_PUBLIC_BASE_URL": str(client.base_url).rstrip("/"),
        "PAPERFEED_EXPLORE_SHARE": "0",  # exact orders, as the app under test has
    }
    result = CliRunner().invoke(main, ["digest", "send"], env=env, catch_exceptions=False)
    return result.exit_code, result.output


async def papers_with_links(client: AppClient) -> dict[str, dict[str, Any]]:
    papers = [
        {
            **p,
            "url": f"https://papers.example/{p['id']}",
            # A first author of its own for each paper: a feed page holds at most
            # FEED_AUTHOR_CAP papers of one first author.
            "authors": [f"Author {n}", "Alan Turing"],
        }
        for n, p in enumerate(topic_papers())
    ]
    response = await client.post("/v1/papers", json={"papers": papers})
    assert response.status_code == 200, response.text
    await wait_indexed(client)
    return {p["id"]: p for p in papers}


def parts(message: EmailMessage) -> tuple[str, str]:
    """(plain text, HTML) of a multipart/alternative message."""
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n")


def links(text: str) -> list[str]:
    return re.findall(r"^   Read: (\S+)$", text, re.M)


async def make_due(client: AppClient, *readers: str) -> None:
    await client.fetchval(
        "UPDATE subscriptions SET next_due_at = now() - interval '1 second' "
        "WHERE user_id = ANY($1::text[])",
        list(readers),
    )


async def test_digest_is_sent_personalised_clicked_never_repeated_and_unsubscribed(
    client: AppClient, settings: Settings, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    catalogue = await papers_with_links(client)
    saves = [event("e1", "ada", "diffusion-0"), event("e2", "bob", "rl-0")]
    assert (await client.post("/v1/events", json={"events": saves})).status_code == 200
    assert (await client.post("/v1/admin/stats/refresh")).status_code in (200, 201)

    # Subscribing: an admin key for ada, bob's own reader token for bob; bad input is a 400.
    ada = await client.put(
        "/v1/users/ada/subscription", json={"email": ADA, "frequency": "daily", "max_items": 3}
    )
    assert ada.status_code == 200, ada.text
    assert ada.json()["send_hour_utc"] == datetime.now(UTC).hour
    bob_token = (await client.post("/v1/tokens", json={"user_id": "bob"})).json()["token"]
    as_bob = {"Authorization": f"Bearer {bob_token}"}
    body = {"email": BOB, "frequency": "weekly", "max_items": 3.0, "send_hour_utc": 6}
    bob = await client.put("/v1/users/bob/subscription", json=body, headers=as_bob)
    assert bob.status_code == 200, bob.text
    assert (
        await client.put("/v1/users/ada/subscription", json=body, headers=as_bob)
    ).status_code == 403
    for bad, where in [
        ({**body, "email": "bob@example.net\r\nBcc: eve@evil.example"}, "email"),
        ({**body, "max_items": 0}, "max_items"),
        ({**body, "frequency": "hourly"}, "frequency"),
        ({**body, "send_hour_utc": 24}, "send_hour_utc"),
    ]:
        refused = await client.put("/v1/users/bob/subscription", json=bad, headers=as_bob)
        assert refused.status_code == 400 and where in refused.text, refused.text

    # First run: each reader gets one multipart message with both headers.
    code, output = await asyncio.to_thread(send_digests, settings, client, port)
    assert code == 0 and "2 sent, 0 failed" in output, output
    first = inbox.take()
    assert set(first) == {ADA, BOB}
    sent: dict[str, list[str]] = {}
    public = httpx.AsyncClient(base_url=client.base_url, timeout=30)  # no credentials
    for address, message in first.items():
        assert message["To"] == address
        unsubscribe = message["List-Unsubscribe"]
        assert re.fullmatch(r"<http://127\.0\.0\.1:\d+/unsubscribe/[\w.-]+>", unsubscribe)
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        text, html = parts(message)
        urls = links(text)
        assert len(urls) == 3, text
        assert all(f'href="{u}"' in html for u in urls)
        ids = []
        for url in urls:
            followed = await public.get(url)
            assert followed.status_code == 303
            ids.append(followed.headers["location"].rsplit("/", 1)[1])
        for paper_id in ids:
            assert catalogue[paper_id]["title"] in text and catalogue[paper_id]["title"] in html
        assert re.search(r"Author \d+, Alan Turing", text)
        assert unsubscribe[1:-1] in text
        sent[address] = ids
    # Personalised: the top paper is on the reader's topic, and never one they saved.
    assert sent[ADA][0].startswith("diffusion-") and "diffusion-0" not in sent[ADA]
    assert sent[BOB][0].startswith("rl-") and "rl-0" not in sent[BOB]

    # Each click above is a `click` event tied to the digest's request id; the same link
    # opened again is the same event.
    request_id = str(first[ADA]["X-Paperfeed-Request-Id"])
    again = await public.get(links(parts(first[ADA])[0])[0])
    assert again.status_code == 303
    clicks = await client.fetchval(
        "SELECT count(*) FROM events WHERE type = 'click' AND user_id = 'ada' AND request_id = $1::uuid",
        request_id,
    )
    assert clicks == 3
    surface = await client.fetchval(
        "SELECT surface FROM feeds WHERE request_id = $1::uuid", request_id
    )
    assert surface == "digest"
    # ... and `paperfeed train` learns from it: the digest is a labelled query group.
    async with side_store(runtime_of(client).database_url) as store:
        now = datetime.now(UTC)
        dataset, _ = await load_dataset(store, now - timedelta(hours=1), now + timedelta(minutes=1))
    assert request_id in {str(r) for r in dataset.request_ids}

    # Second run with bob's server refusing him: ada still gets hers, with no paper twice.
    await make_due(client, "ada", "bob")
    inbox.refuse = {BOB}
    code, output = await asyncio.to_thread(send_digests, settings, client, port)
    assert code == 1 and "1 sent, 1 failed" in output and "550" in output, output
    second = inbox.take()
    assert set(second) == {ADA}
    ada_second = [
        (await public.get(u)).headers["location"].rsplit("/", 1)[1]
        for u in links(parts(second[ADA])[0])
    ]
    assert ada_second and not set(ada_second) & set(sent[ADA])
    bob_state = (await client.get("/v1/users/bob/subscription")).json()
    assert bob_state["failures"] == 1 and "550" in bob_state["last_error"]

    # Third run: bob is retried without being made due again; ada is not due.
    inbox.refuse = set()
    code, output = await asyncio.to_thread(send_digests, settings, client, port)
    assert code == 0 and "1 sent, 0 failed" in output, output
    third = inbox.take()
    assert set(third) == {BOB}
    bob_third = [
        (await public.get(u)).headers["location"].rsplit("/", 1)[1]
        for u in links(parts(third[BOB])[0])
    ]
    assert bob_third and not set(bob_third) & set(sent[BOB])
    assert (await client.get("/v1/users/bob/subscription")).json()["failures"] == 0

    # Unsubscribing through ada's link: a GET only asks; the one-click POST unsubscribes.
    unsubscribe_url = first[ADA]["List-Unsubscribe"][1:-1]
    page = await public.get(unsubscribe_url)
    assert page.status_code == 200 and ADA in page.text and 'method="post"' in page.text
    assert (await client.get("/v1/users/ada/subscription")).status_code == 200
    one_click = await public.post(
        unsubscribe_url,
        content="List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200 and "unsubscribed" in one_click.text
    assert (await client.get("/v1/users/ada/subscription")).status_code == 404
    assert (await public.post(unsubscribe_url)).status_code == 200  # idempotent
    assert (await public.get(unsubscribe_url[:-3] + "abc")).status_code == 404  # altered

    await make_due(client, "ada", "bob")
    code, output = await asyncio.to_thread(send_digests, settings, client, port)
    assert code == 0 and "1 sent" in output, output
    assert set(inbox.take()) == {BOB}
    # The address is part of what the reader can export, and gone once they unsubscribe.
    assert (await client.get("/v1/users/bob/export")).json()["subscription"]["email"] == BOB
    assert (await client.get("/v1/users/ada/export")).json()["subscription"] is None
    await public.aclose()


async def test_atom_feed_parses_and_takes_only_the_readers_live_token(client: AppClient) -> None:
    await papers_with_links(client)
    created = await client.post("/v1/users/ada/feed-tokens")
    assert created.status_code == 201, created.text
    ada = created.json()
    bob = (await client.post("/v1/users/bob/feed-tokens")).json()
    # Links start with PAPERFEED_PUBLIC_BASE_URL (the default here); the app listens elsewhere.
    assert ada["atom_url"].startswith("http://127.0.0.1:8000/v1/users/ada/feed.atom?token=pff_")
    public = httpx.AsyncClient(timeout=30)  # a feed reader: no Authorization header

    def here(url: str) -> str:
        return url.replace("http://127.0.0.1:8000", str(client.base_url).rstrip("/"))

    ada["atom_url"] = here(ada["atom_url"])

    response = await public.get(ada["atom_url"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.bozo_exception
    assert parsed.version == "atom10"
    titles = {p["title"] for p in topic_papers()}
    assert parsed.entries and all(e.title in titles for e in parsed.entries)
    assert all("/r/" in e.link and e.id.startswith("urn:uuid:") for e in parsed.entries)
    assert parsed.entries[0].authors[0]["name"].startswith("Author ")
    clicked = await public.get(here(parsed.entries[0].link))
    assert clicked.status_code == 303 and clicked.headers["location"].startswith(
        "https://papers.example/"
    )

    # A feed reader polling again gets the same entries, and only one feed is logged.
    again = feedparser.parse((await public.get(ada["atom_url"])).content)
    assert [e.id for e in again.entries] == [e.id for e in parsed.entries]
    logged = await client.fetchval("SELECT count(*) FROM feeds WHERE surface = 'atom'")
    assert logged == 1

    bobs_token = ada["atom_url"].replace(ada["token"], bob["token"])
    assert (await public.get(bobs_token)).status_code == 403
    assert (await public.get(ada["atom_url"].split("?")[0])).status_code == 401
    tampered = ada["atom_url"][:-4] + "AAAA"
    assert (await public.get(tampered)).status_code == 401
    revoked = await client.delete(f"/v1/users/ada/feed-tokens/{ada['token_id']}")
    assert revoked.status_code == 204
    assert (await public.get(ada["atom_url"])).status_code == 401
    listed = (await client.get("/v1/users/ada/feed-tokens")).json()["tokens"]
    assert [t["revoked_at"] is not None for t in listed] == [True]
    # Deleting a reader's data deletes their feed tokens (and subscription) too.
    bobs_feed = bob["atom_url"].replace("http://127.0.0.1:8000", str(client.base_url).rstrip("/"))
    assert (await public.get(bobs_feed)).status_code == 200
    assert (await client.delete("/v1/users/bob")).status_code == 200
    assert (await public.get(bobs_feed)).status_code == 401
    await public.aclose()


def test_the_next_digest_is_due_at_the_readers_hour() -> None:
    from service.digest import next_due

    at = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)  # a Tuesday
    assert next_due("daily", 7, None, at) == at  # a new subscriber: at the next run
    tomorrow_7 = datetime(2026, 12, 2, 7, tzinfo=UTC)
    assert next_due("daily", 7, at, at) == tomorrow_7  # the first digest went out late
    assert next_due("daily", 7, datetime(2026, 12, 1, 7, 3, tzinfo=UTC), at) == tomorrow_7
    # A run a few minutes early (cron every 15 minutes) still keeps the hour.
    assert next_due("daily", 7, datetime(2026, 12, 1, 6, 58, tzinfo=UTC), at) == tomorrow_7
    weekly = next_due("weekly", 7, datetime(2026, 12, 1, 7, 5, tzinfo=UTC), at)
    assert weekly == datetime(2026, 12, 8, 7, tzinfo=UTC)
