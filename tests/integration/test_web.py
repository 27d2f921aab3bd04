"""The reader page and the console are served without credentials, keep to this server
(Content-Security-Policy), and stay out of the API schema."""

from __future__ import annotations

from tests.support import AppClient


async def test_pages_and_assets_need_no_key_and_load_nothing_from_elsewhere(
    client: AppClient,
) -> None:
    client.headers.pop("Authorization")
    for path, title in (("/", "<title>paperfeed</title>"), ("/console", "paperfeed console")):
        page = await client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert title in page.text
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "connect-src 'self'" in policy
        assert "http" not in page.text.replace('href="/', "")  # no absolute URLs
    for asset in (
        "reader.js",
        "cards.js",
        "events.js",
        "console.js",
        "api.js",
        "chart.js",
        "style.css",
    ):
        response = await client.get(f"/static/{asset}")
        assert response.status_code == 200, asset
        text = response.text.replace("http://www.w3.org/2000/svg", "")  # a name, not a place
        assert "http://" not in text and "https://" not in text, asset
    assert (await client.get("/static/../settings.py")).status_code == 404
    paths = (await client.get("/docs/openapi.json")).json()["paths"]
    assert not {"/", "/console", "/v1/demo/tokens"} & set(paths)
