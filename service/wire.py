"""Wire types: every request and response body, as msgspec Structs.

Requests forbid unknown fields so that a misspelt field is an error, not a silent default.
Structs stop at the route handlers: the store and `ranking/` get plain values.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from msgspec import Meta, Raw, Struct

MAX_BATCH = 1000
# Largest `limit` of a feed or list: part of the API's contract (and its schema).
MAX_LIMIT = 100

# arXiv-style ids ("2401.01234", "2401.01234v2") and most other schemes. No "/": ids are
# path segments (write old arXiv ids as "hep-th_9901001").
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
PaperId = Annotated[
    str,
    Meta(pattern=ID_PATTERN, description="1-128 of A-Z a-z 0-9 . _ : -", examples=["2401.01234"]),
]
UserId = Annotated[str, Meta(pattern=ID_PATTERN, description="1-128 of A-Z a-z 0-9 . _ : -")]
EventId = Annotated[
    str,
    Meta(pattern=ID_PATTERN, description="Client-made idempotency key, e.g. a UUID"),
]
AwareDatetime = Annotated[datetime, Meta(tz=True, description="RFC 3339 with a timezone")]
# PostgreSQL cannot store NUL (U+0000) in text, so no text field may contain one.
NO_NUL = r"^[^\x00]*$"
# A title or a search query must have a character that is not whitespace as Python's
# `str.split` and `str.strip` see it (the server normalises them with those). Spelt out,
# because `\s` means less in ECMA-262 and Rust regexes, which other readers of the schema use.
_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK = rf"^[{_SPACE}]*[^{_SPACE}\x00][^\x00]*$"
HAS_TEXT = rf"[^{_SPACE}]"
ShortText = Annotated[str, Meta(max_length=300, pattern=NO_NUL)]


# --- papers -------------------------------------------------------------------------------


class PaperIn(Struct, forbid_unknown_fields=True, kw_only=True):
    id: PaperId
    title: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=1000,
            pattern=NOT_BLANK,
            description="Not blank; no NUL characters",
        ),
    ]
    abstract: Annotated[str, Meta(max_length=20_000, pattern=NO_NUL)] = ""
    authors: Annotated[list[ShortText], Meta(max_length=1000)] = []
    categories: Annotated[list[ShortText], Meta(max_length=50)] = []
    published_at: AwareDatetime | None = None
    url: Annotated[str, Meta(max_length=2000, pattern=NO_NUL)] | None = None


class PaperBatch(Struct, forbid_unknown_fields=True):
    papers: Annotated[list[PaperIn], Meta(min_length=1, max_length=MAX_BATCH)]


class Rejection(Struct):
    index: int
    id: str | None
    reason: str


class PaperBatchResult(Struct):
    added: int
    updated: int
    unchanged: int
    rejected: list[Rejection]


class Paper(Struct):
    id: str
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    published_at: datetime | None
    url: str | None
    embedded: bool
    withdrawn: bool


# --- events -------------------------------------------------------------------------------


class _EventBase(Struct, forbid_unknown_fields=True, kw_only=True, tag_field="type"):
    event_id: EventId
    user_id: UserId
    paper_id: PaperId
    occurred_at: AwareDatetime
    request_id: uuid.UUID | None = None


class Click(_EventBase, tag="click"):
    """The reader opened the paper."""


class Save(_EventBase, tag="save"):
    """The reader saved the paper to their library."""


class Unsave(_EventBase, tag="unsave"):
    """The reader removed the paper from their library."""


class Dismiss(_EventBase, tag="dismiss"):
    """The reader asked not to see the paper again."""


Event = Click | Save | Unsave | Dismiss
EVENT_TYPES = tuple(str(t.__struct_config__.tag) for t in get_args(Event))


class EventBatch(Struct, forbid_unknown_fields=True):
    """The body of `POST /v1/events`, as documented."""

    events: Annotated[list[Event], Meta(min_length=1, max_length=MAX_BATCH)]


class RawEventBatch(Struct, forbid_unknown_fields=True):
    """An `EventBatch` with its events not yet decoded: `service.routes.events` decodes them
    one by one, so that a bad event is rejected with its reason and the others are kept."""

    events: Annotated[list[Raw], Meta(min_length=1, max_length=MAX_BATCH)]


class EventBatchResult(Struct):
    accepted: int
    duplicates: int
    rejected: list[Rejection]


# --- feeds and lists ----------------------------------------------------------------------

# A feed item's reasons are the candidate sources that found it (ranking.candidates.SOURCES).
# "explore": shown at random in an exploration slot.
Reason = Literal["similar", "collaborative", "popular", "fresh", "search", "explore"]


class Item(Struct):
    paper_id: str
    title: str
    score: float
    # 0-based place in the whole ranked list (later pages continue the count).
    position: int
    reasons: list[Reason]
    # For "similar": the paper of the reader's history this one is closest to.
    similar_to: str | None = None
    # Why the paper is here, as a sentence for the reader (built from true facts; a title
    # it names is in *asterisks*).
    explanation: str = ""
    # Only with `explain=true`: how much each feature added to `score` (LightGBM SHAP
    # values or the heuristic's terms; "bias" for the rest); they sum to the score.
    contributions: dict[str, float] | None = None


class Feed(Struct):
    request_id: uuid.UUID
    model_version: str
    items: list[Item]
    # Send as `cursor` for the next page of the same ranked list; null on the last page.
    next: str | None = None
    page: int = 1


class ItemList(Struct):
    items: list[Item]


class Health(Struct):
    status: str


class Readiness(Struct):
    status: Literal["ok", "unavailable"]
    database: bool
    index_loaded: bool
    papers: int
    indexed: int
    pending_embeddings: int
    model_version: str
    problems: list[str]


# --- model registry -----------------------------------------------------------------------


class ModelInfo(Struct):
    version: str
    created_at: datetime
    active: bool
    metrics: dict[str, Any]
    # The manifest's "data" section: the feeds it was trained, selected and compared on
    # (first_served, last_served, train_groups, ...); empty when unknown.
    data_window: dict[str, Any] = {}


class StatsSnapshot(Struct):
    version: str
    papers: int  # papers with feedback or impressions in the last 30 days
    cosave_lists: int  # papers with co-saved neighbours


class ModelList(Struct):
    # The version ranking feeds now ("heuristic-1" when no model is active).
    active: str
    models: list[ModelInfo]


class Plot(Struct):
    name: str  # the artifact's file name, e.g. "ndcg.png"
    png: bytes  # base64 in JSON


class ModelReport(Struct):
    """What `paperfeed train` wrote about a model: its manifest (parameters, metrics, data
    window, promotion gate, feature importance), report.md and the PNG plots."""

    version: str
    created_at: datetime
    manifest: dict[str, Any]
    report_markdown: str | None
    plots: list[Plot]


# --- the researcher console's live numbers -------------------------------------------------


class Rates(Struct):
    """Papers shown in feeds and how many of them readers clicked, saved or dismissed (an
    event carrying the feed's `request_id`); rates are per paper shown."""

    feeds: int
    impressions: int
    clicked: int
    saved: int
    dismissed: int
    click_rate: float
    save_rate: float


class ModelRates(Rates, kw_only=True):
    model_version: str


class PositionRates(Rates, kw_only=True):
    position: int


class Bucket(Struct):
    start: datetime
    feeds: dict[str, int]  # model version -> feeds served
    events: dict[str, int]  # event type -> events received


class MetricsSummary(Struct):
    """Feeds served and events received since `since` (the last `hours`), in time buckets
    of `bucket_seconds`, with click-through and save rates per model version and position."""

    hours: int
    since: datetime
    until: datetime
    bucket_seconds: int
    feeds: int
    impressions: int
    events: dict[str, int]  # event type -> events received in the window
    events_per_minute: float
    by_model: list[ModelRates]
    by_position: list[PositionRates]
    timeline: list[Bucket]


# --- reader tokens and readers' data ----------------------------------------------------


# What an API key may do (service.auth); `admin` implies the rest.
Scope = Literal["feed:read", "events:write", "papers:write", "admin"]
SCOPES: tuple[Scope, ...] = get_args(Scope)


class TokenRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    user_id: UserId
    # JSON Schema counts 60.0 as the integer 60, but msgspec's strict mode decodes only 60 as
    # an `int` (whole floats become ints in lax mode only: msgspec#613). So: a whole float,
    # which takes both spellings, documented as an integer (service.app); the handler makes
    # it an `int`.
    ttl_seconds: (
        Annotated[
            float,
            Meta(
                ge=1,
                multiple_of=1,
                description="At most PAPERFEED_READER_TOKEN_TTL_SECONDS (the default)",
            ),
        ]
        | None
    ) = None


class ReaderToken(Struct):
    """Send as `Authorization: Bearer <token>`: it reads this reader's feed and posts this
    reader's events, nothing else, until `expires_at`."""

    token: str
    user_id: str
    expires_at: datetime


class DemoTokenRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    user_id: UserId


class DemoReaders(Struct):
    """Demo mode only: readers with recent events, newest first, for the page to offer."""

    readers: list[str]


class UserDeletion(Struct):
    """What was deleted; zeros when a retried request finds nothing left."""

    user_id: str
    events: int
    feeds: int
    impressions: int
    interests: int = 0


class ExportedEvent(Struct):
    event_id: str
    paper_id: str
    type: str
    occurred_at: datetime
    received_at: datetime
    request_id: uuid.UUID | None


class ExportedImpression(Struct):
    request_id: uuid.UUID
    position: int
    paper_id: str
    score: float
    served_at: datetime
    model_version: str


class ExportedInterests(Struct):
    set_at: datetime
    topics: list[str]
    paper_ids: list[str]


class UserExport(Struct):
    """Everything stored about one reader. Their profile is not stored: it is computed
    from these events (and interests) whenever a feed is built."""

    user_id: str
    exported_at: datetime
    events: list[ExportedEvent]
    impressions: list[ExportedImpression]
    # Their e-mail digest subscription (with the address) and Atom feed tokens, if any.
    subscription: Subscription | None = None
    feed_tokens: list[FeedToken] = []
    interests: list[ExportedInterests] = []


# --- onboarding -------------------------------------------------------------------------

MAX_TOPICS = 10
MAX_INTEREST_PAPERS = 20
Topic = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=200,
        pattern=NOT_BLANK,
        description="Free text, e.g. 'protein structure prediction'",
        examples=["graph neural networks"],
    ),
]


class InterestsIn(Struct, forbid_unknown_fields=True, kw_only=True):
    """The body of `PUT /v1/users/{user_id}/interests`: replaces the reader's interests
    (send both lists empty to clear them)."""

    topics: Annotated[list[Topic], Meta(max_length=MAX_TOPICS)] = []
    paper_ids: Annotated[list[PaperId], Meta(max_length=MAX_INTEREST_PAPERS)] = []


class Interests(Struct):
    """A reader's onboarding interests and the weight they have in the feed now: 1 until
    the reader saves papers, halving with every 5 saves, 0 from 22 saves on."""

    user_id: str
    topics: list[str]
    paper_ids: list[str]
    updated_at: datetime | None
    weight: float


# --- errors -------------------------------------------------------------------------------


class Problem(Struct):
    """An error, as `application/problem+json` (RFC 9457). Validation errors add `errors`
    (each with the path of the bad field); rejected batches add `rejected`."""

    status: int
    detail: str
    title: str | None = None
    errors: list[dict[str, Any]] | None = None
    rejected: list[Rejection] | None = None


# --- delivery: e-mail digest subscriptions and Atom feed tokens ----------------------------

# An address as mail servers take it: RFC 5322 "atext" and dots, "@", a dotted domain. No
# spaces, quotes or line breaks, so it can never add a header to a message.
EMAIL_PATTERN = r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+$"
Frequency = Literal["daily", "weekly"]


class SubscriptionRequest(Struct, forbid_unknown_fields=True, kw_only=True):
    """`PUT /v1/users/{user_id}/subscription`. Whole numbers are decoded as whole floats
    and documented as integers (see `TokenRequest`)."""

    email: Annotated[str, Meta(max_length=254, pattern=EMAIL_PATTERN, examples=["ada@example.org"])]
    frequency: Frequency
    max_items: Annotated[
        float, Meta(ge=1, le=50, multiple_of=1, description="Papers per digest, 1-50")
    ]
    send_hour_utc: (
        Annotated[
            float,
            Meta(
                ge=0,
                le=23,
                multiple_of=1,
                description="Hour of day (UTC) to send at; default: the hour of subscribing",
            ),
        ]
        | None
    ) = None


class Subscription(Struct):
    """A reader's digest subscription and how its deliveries went."""

    user_id: str
    email: str
    frequency: Frequency
    max_items: int
    send_hour_utc: int
    created_at: datetime
    updated_at: datetime
    # The next run of `paperfeed digest send` at or after this time sends the next digest.
    next_due_at: datetime
    last_sent_at: datetime | None
    # Consecutive failed deliveries and the latest reason (retried at every run).
    failures: int
    last_error: str | None


class FeedTokenCreated(Struct):
    """Give `atom_url` to the reader's feed reader. The token is shown only this once."""

    token_id: str
    user_id: str
    token: str
    atom_url: str
    created_at: datetime


class FeedToken(Struct):
    token_id: str
    created_at: datetime
    revoked_at: datetime | None


class FeedTokenList(Struct):
    tokens: list[FeedToken]
