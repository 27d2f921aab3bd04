"""Schemathesis against the running app's own OpenAPI schema: every operation, well over
1,000 generated requests, no server error and no answer that breaks the schema."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT, AppClient

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")


async def test_generated_requests_never_break_the_api(catalogue: AppClient, tmp_path: Path) -> None:
    report = tmp_path / "schemathesis.json"
    command = [
        SCHEMATHESIS,
        "--config-file",
        str(ROOT / "tests" / "schemathesis.toml"),
        "run",
        f"{catalogue.base_url}/docs/openapi.json",
        "--max-examples",
        "80",
        "--seed",
        "1",
        "--report-json-path",
        str(report),
        # An admin key reaches every operation; schemathesis also tries them without it.
        "--header",
        f"Authorization: Bearer {catalogue.admin_key}",
    ]
    result = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=600
    )
    summary = json.loads(report.read_text())
    print(summary["test_cases"], summary["operations"])
    assert result.returncode == 0, result.stdout[-6000:]
    assert summary["operations"]["tested"] == summary["operations"]["total"] >= 17
    assert summary["test_cases"]["generated"] >= 1000
    assert summary["test_cases"]["with_failures"] == 0
