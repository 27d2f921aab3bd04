"""`paperfeed ingest`, `migrate`, `embed`, `keys`, `train` and `fit` as a user runs them:
real processes."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from service.settings import Settings
from tests.support import AppClient, event, runtime_of, topic_papers

PAPERFEED = str(Path(sys.executable).parent / "paperfeed")


def run(args: list[str], database_url: str, **env_vars: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAPERFEED_DATABASE_URL": database_url, **env_vars}
    return subprocess.run([PAPERFEED, *args], env=env, capture_output=True, text=True, timeout=120)


async def test_ingest_reports_added_updated_unchanged_and_rejected(
    database_url: str, tmp_path: Path
) -> None:
    papers = topic_papers()[:3]
    jsonl = tmp_path / "papers.jsonl"
    lines = [json.dumps(p) for p in papers]
    lines += [
        "{broken json",
        json.dumps({"id": "no-title"}),
        json.dumps({"title": "A paper without an id", "abstract": "Gets an id from its title."}),
        json.dumps(papers[0]),
    ]
    jsonl.write_text("\n".join(lines) + "\n")

    first = run(["ingest", str(jsonl)], database_url)
    assert first.returncode == 1, first.stderr  # some lines were rejected
    assert "4 added, 0 updated, 0 unchanged, 3 rejected" in first.stdout
    assert "line 4: not valid JSON" in first.stdout
    assert "line 5: Object missing required field `title`" in first.stdout
    assert "line 7: id 'diffusion-0' repeats line 1" in first.stdout
    assert "ingest" in first.stderr  # the progress bar

    csv = tmp_path / "papers.csv"
    csv.write_text(
        "id,title,abstract,authors,published_at\n"
        f"{papers[0]['id']},{papers[0]['title']},A new abstract.,Ada Lovelace;Alan Turing,2024-05-01\n"
        f"{papers[1]['id']},{papers[1]['title']},{papers[1]['abstract']},,\n"
    )
    second = run(["ingest", str(csv)], database_url)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "0 added, 1 updated, 1 unchanged, 0 rejected" in second.stdout


async def test_migrate_is_idempotent(database_url: str) -> None:
    first = run(["migrate"], database_url)
    assert "0001_init, 0002_models" in first.stdout, first.stderr
    again = run(["migrate"], database_url)
    assert "none pending" in again.stdout


async def test_bad_configuration_is_a_clear_error(database_url: str) -> None:
    result = run(["migrate"], database_url, PAPERFEED_PORT="eighty")
    assert result.returncode != 0
    assert "PAPERFEED_PORT" in result.stderr


async def test_train_refuses_thin_data_and_models_commands_manage_the_registry(
    database_url: str, tmp_path: Path
) -> None:
    refused = run(["train"], database_url, PAPERFEED_MODEL_DIR=str(tmp_path))
    assert refused.returncode == 1
    assert "only 0 served feeds have feedback" in refused.stderr
    assert "at least 30 are needed" in refused.stderr
    assert not os.listdir(tmp_path)  # nothing written (no saves: nothing to fit either)

    listed = run(["models", "list"], database_url)
    assert listed.returncode == 0 and "heuristic  (active)" in listed.stdout
    unknown = run(["models", "activate", "ltr-nope"], database_url)
    assert unknown.returncode == 1 and "no registered model 'ltr-nope'" in unknown.stderr
    nothing = run(["models", "rollback"], database_url)
    assert nothing.returncode == 1 and "nothing to roll back" in nothing.stderr
    assert run(["models", "activate", "heuristic"], database_url).returncode == 0
    assert "active: heuristic" in run(["models", "rollback"], database_url).stdout


async def test_keys_are_created_listed_and_revoked_from_the_command_line(
    database_url: str,
) -> None:
    created = run(["keys", "create", "--name", "web", "--scope", "feed:read"], database_url)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    key_id = key.split("_")[1]
    assert key.startswith(f"pf_{key_id}_") and f"created key {key_id}" in created.stdout

    listed = run(["keys", "list"], database_url)
    assert key_id in listed.stdout and "feed:read" in listed.stdout and "active" in listed.stdout
    assert key not in listed.stdout  # the key itself is shown once, at creation

    revoked = run(["keys", "revoke", key_id], database_url)
    assert revoked.returncode == 0 and f"revoked {key_id}" in revoked.stdout
    assert "revoked" in run(["keys", "list"], database_url).stdout.split(key_id)[1]
    unknown = run(["keys", "revoke", "nosuchkey"], database_url)
    assert unknown.returncode == 1 and "no key with id 'nosuchkey'" in unknown.stderr
    bad_scope = run(["keys", "create", "--name", "x", "--scope", "everything"], database_url)
    assert bad_scope.returncode == 2 and "'everything' is not one of" in bad_scope.stderr


async def test_embed_leaves_the_work_to_the_process_holding_the_claim(
    database_url: str, tmp_path: Path
) -> None:
    from storage.claim import EmbeddingClaim

    jsonl = tmp_path / "papers.jsonl"
    jsonl.write_text("\n".join(json.dumps(p) for p in topic_papers()[:3]) + "\n")
    assert run(["ingest", str(jsonl)], database_url).returncode == 0
    server = EmbeddingClaim(database_url)  # as a running server holds it
    assert await server.take()
    try:
        held = run(["embed"], database_url)
        assert held.returncode == 0, held.stderr
        assert "holds the embedding claim" in held.stdout
    finally:
        await server.release()
    free = run(["embed"], database_url)
    assert "embedded 3 papers" in free.stdout, free.stdout + free.stderr


async def test_fit_writes_an_artifact_that_a_running_server_swaps_to(
    client: AppClient, settings: Settings
) -> None:
    papers = [p for p in topic_papers() if p["id"].startswith("rl-")]
    assert (await client.post("/v1/papers", json={"papers": papers})).status_code == 200
    saves = [
        event(f"s{r}{i}", f"reader{r}", f"rl-{(r + i) % 4}") for r in range(5) for i in range(2)
    ]
    assert (await client.post("/v1/events", json={"events": saves})).status_code == 200
    assert settings.database_url
    model_dir = settings.resolved_model_dir()

    fitted = run(["fit"], settings.database_url, PAPERFEED_MODEL_DIR=str(model_dir))
    assert fitted.returncode == 0, fitted.stdout + fitted.stderr
    for model in ("cosaves", "rp3beta", "als", "ease"):  # a progress line per model
        assert re.search(rf"^  {model}\s+\d+\.\d s$", fitted.stdout, re.MULTILINE), model
    found = re.search(r"^collab\s+(collab-\S+) \(active\)$", fitted.stdout, re.MULTILINE)
    assert found, fitted.stdout
    version = found.group(1)
    assert "4 papers, 5 readers, 10 saves" in fitted.stdout and "peak memory" in fitted.stdout
    manifest = json.loads((model_dir / "collab" / version / "manifest.json").read_text())
    assert manifest["counts"]["saves"] == 10 and manifest["fit_seconds"] > 0
    assert manifest["peak_rss_bytes"] > 0 and manifest["params"]["ease_items"] == 20_000
    assert all(len(f["sha256"]) == 64 for f in manifest["files"].values())

    runtime = runtime_of(client)
    waited = time.monotonic()
    while runtime.stats.models.version != version:  # within MODEL_POLL_SECONDS
        assert time.monotonic() - waited < settings.model_poll_seconds + 2.0
        await asyncio.sleep(0.02)

    kept = run(["fit", "--no-activate"], settings.database_url, PAPERFEED_MODEL_DIR=str(model_dir))
    assert kept.returncode == 0 and "(not activated)" in kept.stdout, kept.stdout + kept.stderr
    assert len(list((model_dir / "collab").iterdir())) == 2
    await asyncio.sleep(3 * settings.model_poll_seconds)
    assert runtime.stats.models.version == version
