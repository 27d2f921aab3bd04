from pathlib import Path

import pytest

from ranking.errors import SettingsError
from service.settings import cores, load_settings


def test_settings_come_from_prefixed_variables() -> None:
    s = load_settings({"PAPERFEED_PORT": "9000", "PAPERFEED_DATA_DIR": "/tmp/x", "OTHER": "1"})
    assert s.port == 9000 and s.data_dir == Path("/tmp/x")
    assert s.database_url is None  # embedded PostgreSQL
    assert load_settings({"PAPERFEED_DATABASE_URL": ""}).database_url is None


@pytest.mark.parametrize(
    ("env", "needle"),
    [({"PAPERFEED_PORT": "eighty"}, "PAPERFEED_PORT"), ({"PAPERFEED_PROT": "80"}, "prot")],
)
def test_bad_settings_name_the_variable(env: dict[str, str], needle: str) -> None:
    with pytest.raises(SettingsError, match=needle):
        load_settings(env)


def test_workers_embedding_and_fit_threads_default_to_the_cores() -> None:
    s = load_settings({})
    assert s.resolved_workers() == s.resolved_embed_threads() == cores() >= 1
    assert s.resolved_fit_threads() == cores() and s.threads == 1  # the fit is offline
    s = load_settings(
        {"PAPERFEED_WORKERS": "3", "PAPERFEED_EMBED_THREADS": "1", "PAPERFEED_FIT_THREADS": "1"}
    )
    assert (s.resolved_workers(), s.resolved_embed_threads(), s.resolved_fit_threads()) == (3, 1, 1)
    for name in ("PAPERFEED_WORKERS", "PAPERFEED_FIT_THREADS"):
        with pytest.raises(SettingsError, match=name):
            load_settings({name: "-1"})
