"""Jinja2 templates (package data in `service/templates/`): the digest e-mail and the few
HTML pages a reader sees (unsubscribe, a paper without a link of its own). HTML templates
are autoescaped; plain-text ones are not."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape


@cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("service", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,  # a misspelt variable fails loudly, not as a blank
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(template: str, **context: Any) -> str:
    """The template `service/templates/<template>` filled in with `context`."""
    return environment().get_template(template).render(**context)
