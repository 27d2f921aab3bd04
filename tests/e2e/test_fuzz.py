"""Schemathesis against the running app's own OpenAPI schema: every operation, every check,
positive and negative data, well over 1,000 generated requests, and no failure."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from schemathesis.config._checks import POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES

from tests.support import ROOT, AppClient

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
CONFIG = ROOT / "tests" / "schemathesis.toml"


async def test_generated_requests_never_break_the_api(catalogue: AppClient, tmp_path: Path) -> None:
    report = tmp_path / "schemathesis.json"
    command = [
        SCHEMATHESIS,
        "--config-file",
        str(CONFIG),
        "run",
        f"{catalogue.base_url}/docs/openapi.json",
        "--checks",
        "all",
        "--mode",
        "all",
        "--max-examples",
        "50",
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


def _switched_off(config: Any, where: str = "") -> list[str]:
    if isinstance(config, dict):
        if config.get("enabled") is False:
            return [where]
        return [off for k, v in config.items() for off in _switched_off(v, f"{where}.{k}")]
    if isinstance(config, list):
        return [off for i, v in enumerate(config) for off in _switched_off(v, f"{where}[{i}]")]
    return []


async def test_the_fuzz_allowances_are_only_documented_answers(client: AppClient) -> None:
    """No check is switched off; an allowance only adds, to positive_data_acceptance, a
    status that its operations document (what schemathesis does not read: see the config)."""
    config = tomllib.loads(CONFIG.read_text())
    assert _switched_off(config) == []
    assert set(config) == {"operations"}  # nothing global: every allowance names its operations
    schema = (await client.get("/docs/openapi.json")).json()
    for allowance in config["operations"]:
        assert set(allowance) == {"include-name", "checks"}
        assert set(allowance["checks"]) == {"positive_data_acceptance"}
        statuses = allowance["checks"]["positive_data_acceptance"]["expected-statuses"]
        added = set(statuses) - set(POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES)
        assert set(POSITIVE_DATA_ACCEPTANCE_EXPECTED_STATUSES) <= set(statuses)
        assert added
        for name in allowance["include-name"]:
            method, path = name.split(" ", 1)
            assert added <= set(schema["paths"][path][method.lower()]["responses"]), name
