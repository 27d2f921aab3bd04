"""The `paperfeed` command line: serve, migrate, ingest, embed, keys (`operate`); simulate,
fit, train, models, eval (`research`); digest (`deliver`).

The composition root: the one place that wires `service`, `storage`, `training` and
`ranking` together. Heavy imports stay inside the commands so that `--help` is quick.
"""

from __future__ import annotations

import click

from paperfeed import deliver, operate, research


@click.group()
def main() -> None:
    """paperfeed: personalised research-paper feeds.

    Configuration comes from PAPERFEED_* environment variables (see the README).
    """
    from ranking.errors import SettingsError
    from service.logs import configure as configure_logging  # structlog: not for --help
    from service.settings import Settings, load_settings

    try:
        settings = load_settings()
    except SettingsError:
        settings = Settings()  # the command itself reports the bad variable
    configure_logging(settings)


for command in (
    operate.serve,
    operate.migrate,
    operate.ingest,
    operate.embed,
    operate.keys,
    research.simulate,
    research.fit,
    research.train,
    research.models,
    research.eval_group,
    deliver.digest,
):
    main.add_command(command)
