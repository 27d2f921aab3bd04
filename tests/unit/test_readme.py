"""The README's settings table and endpoint list match the code."""

from __future__ import annotations

import re

import msgspec

from service.app import create_app
from service.settings import Settings, env_name
from tests.support import ROOT

README = (ROOT / "README.md").read_text()


def test_every_setting_is_documented_with_its_default() -> None:
    documented = dict(re.findall(r"^\| `(PAPERFEED_\w+)` \| ([^|]+) \|", README, re.M))
    fields = msgspec.structs.fields(Settings)
    assert set(documented) == {env_name(f.name) for f in fields}
    for f in fields:
        shown = documented[env_name(f.name)].strip().strip("`")
        if f.default is not None:
            assert shown == str(f.default), f.name


def test_every_route_is_documented() -> None:
    def shape(path: str) -> str:
        return re.sub(r"\{[^}]*\}", "{}", path.split("?")[0])

    documented = {
        (method, shape(path))
        for method, path in re.findall(r"^\| `(GET|POST|DELETE|PUT|PATCH) (/[^` ]*)", README, re.M)
    }
    app = create_app(Settings(), demo_key_id="demo")  # demo mode adds routes: all documented
    served = {
        (method, shape(route.path))
        for route in app.routes
        for method in getattr(route, "methods", set()) - {"HEAD", "OPTIONS"}
        if not route.path.startswith("/docs")
    }
    assert served == documented - {("GET", "/docs")}


def test_the_module_list_names_every_module() -> None:
    how = README[README.index("## How it works") : README.index("## Tests")]
    for package in ("ranking", "storage", "training", "service", "paperfeed"):
        bullet = re.search(rf"^- `{package}/`:(.*?)(?=^- |\Z)", how, re.M | re.S)
        assert bullet, f"no bullet for {package}/ in How it works"
        named = set(re.findall(r"`(\w+)`", bullet.group(1)))
        files = {
            p.relative_to(ROOT / package).with_suffix("").parts[-1]
            for p in (ROOT / package).rglob("*.py")
            if not p.name.startswith("__")
        }
        assert files <= named, f"{package}/ modules missing from the README: {files - named}"
