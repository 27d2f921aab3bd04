"""The `paperfeed` command line: serve, migrate, ingest, embed, keys (`operate`); simulate,
train, models, eval (`research`).

The composition root: the one place that wires `service`, `storage`, `training` and
`ranking` together. Heavy imports stay inside the commands so that `--help` is quick.
"""

from __future__ import annotations

import click

from paperfeed import operate, research
from paperfeed.wiring import configure_logging


@click.group()
def main() -> None:
    """paperfeed: personalised research-paper feeds.

    Configuration comes from PAPERFEED_* environment variables (see the README).
    """
    configure_logging()


for command in (
    operate.serve,
    operate.migrate,
    operate.ingest,
    operate.embed,
    operate.keys,
    research.simulate,
    research.train,
    research.models,
    research.eval_group,
):
    main.add_command(command)
