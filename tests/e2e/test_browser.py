"""The reader's page and the researcher's console in a real browser: Debian's chromium,
driven by Playwright, against the real app and PostgreSQL.

Each test watches the browser's network log: every request goes to the app on
127.0.0.1, and the reader page never sends an API key. The screenshots in
docs/screenshots/ (shown in the README) are taken here.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from ranking.embedder import Embedder
from service.auth import create_key
from service.settings import Settings
from storage.database import migrate
from tests.support import (
    ROOT,
    TOPICS,
    AppClient,
    log_feeds,
    rows_for,
    running_app,
    runtime_of,
    side_store,
    wait_indexed,
)
from training.train import TrainConfig, train_and_register

CHROMIUM = Path("/usr/bin/chromium")
# Headless, and quiet: no update checks, sync or other background traffic of its own.
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} is missing: `make browser` installs Debian's chromium package "
    "(it needs root and apt-get; without them the browser tests cannot run here)",
)

# Longer abstracts than the other tests' (the page shortens them), still one topic each.
DETAIL = {
    "diffusion": "Experiments on image benchmarks compare samplers, noise schedules and "
    "guidance scales by the quality and diversity of the generated images.",
    "rl": "Experiments in simulated control tasks compare the returns of agents trained "
    "with different policies, reward signals and exploration strategies.",
    "proteins": "Experiments compare predicted protein structures, sequences and binding "
    "affinities with laboratory measurements of real proteins.",
}
# A first author of their own for each paper: a feed page holds at most
# PAPERFEED_FEED_AUTHOR_CAP (2) papers by one first author.
AUTHORS = [
    "Ada Byron",
    "Alan Turing",
    "Grace Hopper",
    "Emmy Noether",
    "Kurt Gödel",
    "Lise Meitner",
    "Barbara McClintock",
    "John Nash",
    "Marie Curie",
    "Niels Bohr",
    "Rosalind Franklin",
    "Paul Dirac",
    "Hedy Lamarr",
    "Srinivasa Ramanujan",
]


def catalogue() -> list[dict[str, Any]]:
    """The three topics, with authors and dates; proteins are the oldest papers, so a new
    reader's feed (fresh papers first) starts with the other topics."""
    now = datetime.now(UTC)
    return [
        {
            "id": f"{topic}-{i}",
            "title": title,
            "abstract": f"{abstract} {DETAIL[topic]}",
            "authors": AUTHORS[4 * t + i : 4 * t + i + 2 + t % 2],
            "published_at": (now - timedelta(days=10 * t + i + 1)).isoformat(),
        }
        for t, (topic, papers) in enumerate(TOPICS.items())
        for i, (title, abstract) in enumerate(papers)
    ]


@dataclass
class NetworkLog:
    """Every request a page made, (url, headers), and the page's uncaught errors."""

    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def check(self, base_url: str, keys_allowed: bool = False) -> None:
        assert self.requests
        for url, headers in self.requests:
            parts = urlsplit(url)
            assert parts.scheme == "data" or (
                parts.hostname == "127.0.0.1" and url.startswith(base_url)
            ), f"a request left the app on 127.0.0.1: {url}"
            sent = " ".join(headers.values())
            assert keys_allowed or "pf_" not in sent, f"the page sent an API key to {url}"
        assert not self.errors


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        await chromium.close()


async def open_page(browser: Any, log: NetworkLog) -> Any:
    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    page.on("request", lambda r: log.requests.append((r.url, r.headers)))
    page.on("pageerror", lambda e: log.errors.append(str(e)))
    return page


async def screenshots(page: Any, name: str, full_page: bool = False) -> None:
    """`docs/screenshots/<name>-desktop.png` and `-phone.png`; at phone width nothing may
    be wider than the screen."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / f"{name}-desktop.png", full_page=full_page)
    await page.set_viewport_size(PHONE)
    wide = await page.evaluate("document.documentElement.scrollWidth")
    assert wide <= PHONE["width"], f"{name} is {wide} px wide on a phone"
    await page.screenshot(path=SCREENSHOTS / f"{name}-phone.png")
    await page.set_viewport_size(DESKTOP)


async def shown(page: Any) -> list[str]:
    await page.locator("#papers > li.card").first.wait_for()
    ids: list[str] = await page.eval_on_selector_all(
        "#papers > li.card", "cards => cards.map(c => c.dataset.paper)"
    )
    return ids


async def view(page: Any, title: str) -> list[str]:
    """The papers of the view called `title`, once loaded."""
    await page.locator("#view-title", has_text=title).wait_for()
    await page.locator("#papers:not([aria-busy])").wait_for()
    return await shown(page)


def card(page: Any, paper_id: str) -> Any:
    return page.locator(f'#papers > li.card[data-paper="{paper_id}"]')


async def similarity(client: AppClient, to: list[str]) -> dict[str, float]:
    """Each paper's mean cosine similarity to the papers `to`, from the app's own index."""
    scores: dict[str, float] = {}
    for paper in to:
        items = (await client.get(f"/v1/papers/{paper}/similar?limit=50")).json()["items"]
        for item in items:
            scores[item["paper_id"]] = scores.get(item["paper_id"], 0) + item["score"] / len(to)
    return scores


async def test_reader_saves_and_dismisses_and_the_feed_follows(
    client: AppClient, browser: Any
) -> None:
    assert (await client.post("/v1/papers", json={"papers": catalogue()})).status_code == 200
    await wait_indexed(client)
    # The reader's site (its backend, with its own key) mints a token and opens the page.
    backend = await client.create_key("feed:read", name="web-backend")
    minted = await client.post(
        "/v1/tokens", json={"user_id": "rosalind"}, headers={"Authorization": f"Bearer {backend}"}
    )
    log = NetworkLog()
    page = await open_page(browser, log)
    base = str(client.base_url)
    async with page.expect_response(re.compile(r"/v1/users/rosalind/feed")) as first:
        await page.goto(f"{base}/#token={minted.json()['token']}")
    request_id = (await (await first.value).json())["request_id"]
    before = await shown(page)
    assert len(before) == 12 and "#token" not in page.url  # the token left the address bar

    for paper in ("proteins-0", "proteins-1"):
        async with page.expect_response("**/v1/events"):
            await card(page, paper).get_by_role("button", name="Save").click()
        assert await card(page, paper).get_by_role("button", name="Saved").is_visible()
    # Reading an abstract is a click; "Not interested", by keyboard, hides the paper and
    # leaves the focus on the next paper.
    async with page.expect_response("**/v1/events"):
        await card(page, "diffusion-0").get_by_role("button", name=re.compile("abstract")).click()
    await card(page, "rl-0").get_by_role("button", name="Not interested").focus()
    async with page.expect_response("**/v1/events"):
        await page.keyboard.press("Enter")
    assert await card(page, "rl-0").count() == 0
    assert await page.evaluate("document.activeElement.closest('li.card') !== null")

    async with page.expect_response(re.compile(r"/v1/users/rosalind/feed")) as second:
        await page.reload()
    assert (await (await second.value).json())["request_id"] != request_id
    after = await shown(page)
    # Saved and dismissed papers are gone; the unsaved papers closest in content to the
    # two saved ones come first, and each says which saved paper it resembles.
    assert not {"proteins-0", "proteins-1", "rl-0"} & set(after)
    closeness = await similarity(client, ["proteins-0", "proteins-1"])
    closest = sorted(after, key=lambda p: -closeness.get(p, -1))[:2]
    assert after[:2] == closest and set(closest) == {"proteins-2", "proteins-3"}
    assert all(before.index(p) > 2 for p in closest)  # far down before the saves
    why = await card(page, after[0]).locator(".why").inner_text()
    assert "Similar to “Predicting protein structure" in why or "Protein language" in why
    await screenshots(page, "reader")

    # Search (by keyboard) and trending: lists of the catalogue, no feed to credit.
    await page.get_by_label("Search papers").fill("simulating how proteins fold")
    await page.keyboard.press("Enter")
    assert (await view(page, "Search: simulating how proteins fold"))[0] == "proteins-3"
    await page.get_by_role("button", name="Trending").click()
    assert set((await view(page, "Trending this week"))[:2]) == {"proteins-0", "proteins-1"}

    # The database holds exactly those events, once each, with the first feed's id.
    rows = await client.fetchval(
        """SELECT json_agg(json_build_object('id', event_id, 'paper', paper_id,
                  'type', type, 'request', request_id) ORDER BY paper_id)
           FROM events WHERE user_id = 'rosalind'"""
    )
    events = json.loads(rows)
    assert [(e["paper"], e["type"]) for e in events] == [
        ("diffusion-0", "click"),
        ("proteins-0", "save"),
        ("proteins-1", "save"),
        ("rl-0", "dismiss"),
    ]
    assert {e["request"] for e in events} == {request_id}
    assert len({uuid.UUID(e["id"]) for e in events}) == 4
    assert await client.fetchval("SELECT count(*) FROM events") == 4
    log.check(base)


# More papers, one first author each, from fields far from the three topics, so that a
# feed is two pages deep (the page asks for 20 at a time).
ELSEWHERE = """
Dark matter halos in dwarf galaxies | Rotation curves of dwarf galaxies constrain halo density profiles.
Exoplanet atmospheres from transit spectroscopy | Absorption lines during transits reveal water vapour on hot Jupiters.
Gravitational waves from merging neutron stars | Detector signals of a binary merger constrain the nuclear equation of state.
Minimum wages and teenage employment | County pairs across state borders show small employment effects of wage floors.
Central bank communication and bond yields | Forward guidance statements move long-term interest rates within minutes.
Trade tariffs and consumer prices | Import duties were passed almost fully to retail prices of washing machines.
Word order change in Old English | Verb-second clauses declined as case endings eroded in medieval manuscripts.
Tone sandhi in Mandarin dialects | Field recordings document how neighbouring tones alter each other in speech.
Arctic sea ice decline and jet stream waviness | Reanalysis data link shrinking summer ice to slower, wavier westerly winds.
Coral bleaching under marine heatwaves | Reef surveys record mass bleaching after weeks of anomalous ocean warmth.
Soil carbon storage in grazed grasslands | Rotational grazing increased soil organic carbon on long-term pasture plots.
Roman road networks and medieval towns | Settlements along ancient roads were likelier to become market towns.
Printing press adoption and Protestant reform | Cities with early presses adopted the Reformation sooner than others.
Sleep deprivation and working memory | One night without sleep lowered recall in digit-span tasks in adults.
Gut microbiome composition in infants | Birth mode and breastfeeding shape the bacteria found in infant stool.
Antibiotic resistance genes in hospital wastewater | Sequencing sewage finds carbapenem resistance genes downstream of wards.
Perovskite solar cell stability | Encapsulation keeps perovskite cells efficient through a thousand hours of heat.
Lithium-sulfur battery cathodes | Porous carbon hosts trap polysulfides and extend battery cycle life.
Concrete with recycled aggregate | Crushed demolition waste replaces gravel with a modest loss of strength.
Bridge cable corrosion monitoring | Acoustic sensors detect wire breaks inside suspension bridge cables.
""".strip().splitlines()


def more_papers() -> list[dict[str, Any]]:
    """ELSEWHERE as papers, published 40 to 59 days ago."""
    now = datetime.now(UTC)
    return [
        {
            "id": f"other-{i}",
            "title": title,
            "abstract": abstract,
            "authors": [f"Author {i}"],
            "published_at": (now - timedelta(days=40 + i)).isoformat(),
        }
        for i, (title, abstract) in enumerate(line.split(" | ") for line in ELSEWHERE)
    ]


async def test_a_new_reader_onboards_scrolls_reads_a_day_and_subscribes(
    client: AppClient, browser: Any
) -> None:
    papers = catalogue() + more_papers()
    assert (await client.post("/v1/papers", json={"papers": papers})).status_code == 200
    await wait_indexed(client)
    backend = await client.create_key("feed:read", name="web-backend")
    minted = await client.post(
        "/v1/tokens", json={"user_id": "noor"}, headers={"Authorization": f"Bearer {backend}"}
    )
    log = NetworkLog()
    page = await open_page(browser, log)
    base = str(client.base_url)
    await page.goto(f"{base}/#token={minted.json()['token']}")
    assert await shown(page)

    # A new reader is offered onboarding; a typed topic shapes the very next feed.
    topic = "how proteins fold into three-dimensional structures"
    await page.get_by_role("button", name="Choose your interests").click()
    await page.get_by_label("Your own topics, one per line").fill(topic)
    await page.get_by_label("Find papers to pick").fill("protein folding")
    await page.keyboard.press("Enter")  # searches, rather than saving the form
    await page.locator("#pickable input").first.wait_for()
    await screenshots(page, "onboarding", full_page=True)
    async with page.expect_response(re.compile(r"/v1/users/noor/feed")) as served:
        await page.get_by_role("button", name="Save interests and show my feed").click()
    first = await (await served.value).json()
    assert first["next"]  # 32 papers: a second page
    top = (await view(page, "For you"))[:4]
    assert {p.split("-")[0] for p in top} == {"proteins"}, top
    for paper in top:
        why = await card(page, paper).locator(".why").inner_text()
        assert why == f"Matches your interest in {topic}"
    assert await page.locator("#welcome").is_hidden()
    interests = (await client.get("/v1/users/noor/interests")).json()
    assert interests["topics"] == [topic]

    # Scrolling to the end loads the next page of the same feed; no paper comes twice.
    async with page.expect_response(re.compile(r"/v1/users/noor/feed\?cursor=")) as more:
        await page.locator("#more").scroll_into_view_if_needed()
    second = await (await more.value).json()
    assert second["request_id"] == first["request_id"] and second["items"]
    await page.locator("#papers > li.card").nth(len(first["items"])).wait_for()
    ids = await shown(page)
    assert len(ids) == len(set(ids)) == len(first["items"]) + len(second["items"])
    assert ids == [i["paper_id"] for i in first["items"] + second["items"]]
    assert await page.locator("#more").is_hidden() == (second["next"] is None)
    rows = await client.fetchval(
        """SELECT json_agg(json_build_object('request', request_id, 'paper', paper_id,
                  'page', page) ORDER BY position) FROM impressions WHERE user_id = 'noor'
              AND request_id = $1""",
        uuid.UUID(first["request_id"]),
    )
    logged = json.loads(rows)
    assert [r["paper"] for r in logged] == ids
    assert [r["page"] for r in logged] == [1] * len(first["items"]) + [2] * len(second["items"])

    # "Daily Papers": the papers published on a day, and the day before.
    published = {p["id"]: p["published_at"][:10] for p in papers}
    await page.get_by_role("button", name="Daily Papers").click()
    await page.get_by_label("Day (UTC)").fill(published["rl-1"])
    assert await view(page, f"Daily Papers, {published['rl-1']}") == ["rl-1"]
    assert "Published on" in await card(page, "rl-1").locator(".why").inner_text()
    await page.get_by_role("button", name="Previous day").click()
    assert await view(page, f"Daily Papers, {published['rl-2']}") == ["rl-2"]
    await screenshots(page, "daily")

    # The e-mail digest: subscribe, see it, unsubscribe.
    await page.get_by_role("button", name="E-mail digest").click()
    await page.locator("#digest-state", has_text="not subscribed").wait_for()
    await page.get_by_label("E-mail address").fill("noor@example.org")
    await page.get_by_label("Weekly").check()
    await page.get_by_label("Papers per digest").fill("5")
    async with page.expect_response("**/v1/users/noor/subscription"):
        await page.get_by_role("button", name="Subscribe", exact=True).click()
    await page.locator("#digest-state", has_text="Subscribed: 5 papers weekly").wait_for()
    stored = (await client.get("/v1/users/noor/subscription")).json()
    assert (stored["email"], stored["frequency"], stored["max_items"]) == (
        "noor@example.org",
        "weekly",
        5,
    )
    await screenshots(page, "digest")
    async with page.expect_response("**/v1/users/noor/subscription"):
        await page.get_by_role("button", name="Unsubscribe").click()
    await page.locator("#digest-state", has_text="not subscribed").wait_for()
    assert (await client.get("/v1/users/noor/subscription")).status_code == 404
    log.check(base)


async def registered_model(database_url: str, model_dir: Path) -> str:
    """A real small model: feeds logged long ago, trained and registered as `paperfeed
    train` does (with its report and plots), not activated."""
    async with side_store(database_url) as store:
        await log_feeds(store, rows_for(40, seed=3, start=datetime(2026, 1, 1, tzinfo=UTC)))
        config = TrainConfig(rounds=20, min_trees=5, min_data_in_leaf=5, resamples=200)
        result = await train_and_register(store, model_dir, config, progress=False)
    return result.version


async def test_console_activates_a_model_and_counts_its_feeds(
    settings: Settings, embedder: Embedder, browser: Any, tmp_path: Path
) -> None:
    # Demo mode, as `make run` starts it: an admin key named "demo" lends its id to the
    # reader tokens the demo routes mint.
    assert settings.database_url
    await migrate(settings.database_url)
    async with side_store(settings.database_url) as store:
        record, demo_key = await create_key(store, "demo", ["admin"])
    version = await registered_model(settings.database_url, settings.resolved_model_dir())
    async with running_app(settings, embedder, demo_key_id=record.key_id) as client:
        papers = catalogue()
        assert (await client.post("/v1/papers", json={"papers": papers})).status_code == 200
        await wait_indexed(client)
        base = str(client.base_url)

        console_log, reader_log = NetworkLog(), NetworkLog()
        console = await open_page(browser, console_log)
        await console.goto(f"{base}/console")
        await console.get_by_label("Admin API key").fill(demo_key)
        await console.get_by_role("button", name="Use key").click()
        model_row = console.locator(f'#models tr[data-version="{version}"]')
        await model_row.wait_for()
        # The report arrives after the model list: wait for its second plot, then count.
        await console.locator("#report img").nth(1).wait_for()
        assert await console.locator("#report img").count() == 2  # the training plots

        # A demo reader opens a feed: the page mints a reader token, never holds a key.
        reader = await open_page(browser, reader_log)
        await reader.goto(base)
        await reader.get_by_label("Reader id").fill("dana")
        await reader.get_by_role("button", name="Open feed").click()
        assert await shown(reader)
        assert "heuristic-1" in await reader.locator("#view-note").inner_text()

        await model_row.get_by_role("button", name=f"Activate {version}").click()
        await console.locator("#active-model", has_text=version).wait_for()
        assert runtime_of(client).ranker.version == version
        async with reader.expect_response(re.compile(r"/v1/users/dana/feed")) as served:
            await reader.get_by_role("button", name="For you").click()
        assert (await (await served.value).json())["model_version"] == version
        first = reader.locator("#papers > li.card").first
        async with reader.expect_response("**/v1/events"):
            await first.get_by_role("button", name="Save").click()

        await console.get_by_role("button", name="Refresh").click()
        row = console.locator(f'#by-model tr[data-version="{version}"]')
        await row.wait_for()
        # Feeds, papers shown, clicked, saved: one feed by this version, one paper saved.
        cells = await row.locator("td").all_inner_texts()
        assert cells[0] == "1" and cells[2:4] == ["0", "1"], cells
        heuristic = console.locator('#by-model tr[data-version="heuristic-1"] td').first
        assert await heuristic.inner_text() == "1"
        await screenshots(console, "console", full_page=True)

        await console.get_by_role("button", name="Roll back the last activation").click()
        await console.locator("#active-model", has_text="heuristic-1").wait_for()
        assert runtime_of(client).ranker.version == "heuristic-1"

    console_log.check(base, keys_allowed=True)
    reader_log.check(base)
