"""Running `paperfeed` as a user does: real processes, configured by environment."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

PAPERFEED = str(Path(sys.executable).parent / "paperfeed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def clean_env(**settings: str) -> dict[str, str]:
    """This environment without PAPERFEED_* variables, plus `settings` (PAPERFEED_<NAME>)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERFEED_")}
    return env | {f"PAPERFEED_{name.upper()}": value for name, value in settings.items()}


def cli(args: list[str], env: dict[str, str]) -> str:
    """Run `paperfeed ARGS`; its stdout. A failure shows what it printed."""
    done = subprocess.run([PAPERFEED, *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"paperfeed {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done.stdout


def create_key(env: dict[str, str], *scopes: str) -> str:
    """A new API key made with `paperfeed keys create`, as an operator would."""
    out = cli(["keys", "create", "--name", "e2e", *(f"--scope={s}" for s in scopes)], env)
    return out.strip().splitlines()[-1]


def start(
    args: list[str], env: dict[str, str], log: IO[str], errors: IO[str] | None = None
) -> subprocess.Popen[bytes]:
    """`paperfeed ARGS` in the background; stdout and stderr to `log`, or stderr to `errors`."""
    return subprocess.Popen([PAPERFEED, *args], env=env, stdout=log, stderr=errors or log)


async def wait_ready(
    client: httpx.AsyncClient, process: subprocess.Popen[bytes], log: Path, within: float = 120
) -> None:
    """Until /ready says yes and every paper is indexed; fail early if the process dies."""
    deadline = time.monotonic() + within
    while True:
        assert process.poll() is None, read(log)
        try:
            response = await client.get("/ready")
            ready = response.json()
            if response.status_code == 200 and ready["indexed"] == ready["papers"]:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, read(log)
        await asyncio.sleep(0.2)


def read(log: Path) -> str:
    return log.read_text()
