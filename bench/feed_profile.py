"""Where a feed's time goes: one worker of the real server, loaded over HTTP, sampled.

    .venv/bin/python bench/feed_profile.py --world /tmp/paperfeed-bench-full-XXXX \\
        --database-url postgresql://postgres@127.0.0.1:5432/paperfeed_bench_full \\
        [--root .] [--concurrency 4] [--duration 25] [--out /tmp/feed-profile.txt]

Serves a kept `bench/run.py` world from one checkout with one worker process (so the
samples are of the one process that serves every feed), warms it up with `wrk` at
concurrency 16, then records it with `py-spy` while `wrk` (bench/feed.lua) loads it at
`--concurrency`. Writes py-spy's raw samples (collapsed stacks, one line per stack) to
`--out` and prints the functions with the largest share of the samples, by their own time
(self) and with what they call (inclusive), beside the server's CPU per feed.
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import feed_ab, feed_http
from bench.run import free_port

ROOT = Path(__file__).resolve().parent.parent


def shares(samples: Path) -> tuple[int, collections.Counter[str], collections.Counter[str]]:
    """(samples, self samples by frame, inclusive samples by frame) of py-spy's raw output."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in samples.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):  # a recursive frame counts once per sample
            inclusive[frame] += n
    return total, own, inclusive


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--world", type=Path, required=True, help="a bench/run.py folder")
    parser.add_argument("--database-url", required=True, help="the world's database")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to serve")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--duration", type=int, default=25, help="seconds sampled")
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--out", type=Path, default=Path("/tmp/feed-profile.txt"))
    args = parser.parse_args(argv)
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("py-spy is not installed: make install puts it in .venv")
    port = free_port()
    # One worker: the server process serves in place, and it is the one to sample.
    env = feed_ab.world_env(args.world, args.database_url, port, workers=1)
    server = feed_ab.start(args.root.resolve(), env, 1, args.world / "serve-profile.log")
    base = f"http://127.0.0.1:{port}"
    readers = args.world / "readers.txt"
    try:
        feed_http.wrk_feeds(base, readers, 16, 10)
        record = subprocess.Popen(
            [
                *(spy, "record", "--pid", str(server.pid), "--rate", str(args.rate)),
                *("--duration", str(args.duration), "--format", "raw", "--nonblocking"),
                *("--output", str(args.out)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        load = feed_http.run_wrk(base, readers, args.concurrency, args.duration, server.pid)
        record.wait()
    finally:
        feed_http.stop_server(server)
    total, own, inclusive = shares(args.out)
    print(json.dumps({k: load[k] for k in ("feeds_per_s", "p50_ms", "server_cpu_ms_per_feed")}))
    print(f"{total} samples in {args.out}")
    for title, counts in (("self", own), ("inclusive", inclusive)):
        print(f"== {title}")
        for frame, n in counts.most_common(args.top):
            print(f"{n / max(total, 1):6.1%} {frame}")


if __name__ == "__main__":
    main()
