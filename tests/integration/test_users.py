"""Privacy: a reader's data can be exported and deleted, by an admin or by the reader."""

from __future__ import annotations

from tests.support import AppClient, event


async def reader_token(client: AppClient, user: str) -> dict[str, str]:
    response = await client.post("/v1/tokens", json={"user_id": user})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def test_export_returns_everything_stored_about_the_reader(catalogue: AppClient) -> None:
    client = catalogue
    events = [event("e-1", "alice", "rl-1"), event("e-2", "alice", "rl-2", "click")]
    await client.post("/v1/events", json={"events": [*events, event("e-3", "bob", "rl-1")]})
    feed = (await client.get("/v1/users/alice/feed", params={"limit": 3})).json()
    await client.get("/v1/users/bob/feed")

    own = await client.get("/v1/users/alice/export", headers=await reader_token(client, "alice"))
    assert own.status_code == 200, own.text
    body = own.json()
    assert body["user_id"] == "alice"
    assert sorted(e["event_id"] for e in body["events"]) == ["e-1", "e-2"]
    assert {e["type"] for e in body["events"]} == {"save", "click"}
    shown = [(i["request_id"], i["position"], i["paper_id"]) for i in body["impressions"]]
    assert shown == [
        (feed["request_id"], item["position"], item["paper_id"]) for item in feed["items"]
    ]
    assert {i["model_version"] for i in body["impressions"]} == {feed["model_version"]}
    nobody = (await client.get("/v1/users/nobody/export")).json()
    assert nobody["events"] == [] and nobody["impressions"] == []


async def test_deleting_a_reader_removes_their_data_only_and_is_idempotent(
    catalogue: AppClient,
) -> None:
    client = catalogue
    await client.post(
        "/v1/events",
        json={"events": [event("d-1", "carol", "rl-1"), event("d-2", "dave", "rl-1")]},
    )
    for user in ("carol", "carol", "dave"):
        assert (await client.get(f"/v1/users/{user}/feed", params={"limit": 2})).status_code == 200
        interests = {"topics": [f"what {user} likes"]}
        assert (await client.put(f"/v1/users/{user}/interests", json=interests)).status_code == 200

    first = await client.delete("/v1/users/carol", headers=await reader_token(client, "carol"))
    assert first.status_code == 200, first.text
    assert first.json() == {
        "user_id": "carol",
        "events": 1,
        "feeds": 2,
        "impressions": 4,
        "interests": 2,
    }
    again = await client.delete("/v1/users/carol")  # a retry, here by an admin
    assert again.json() == {
        "user_id": "carol",
        "events": 0,
        "feeds": 0,
        "impressions": 0,
        "interests": 0,
    }

    # Ranked lists kept for later pages go with the feeds.
    for table in ("events", "feeds", "impressions", "interests", "ranked_lists"):
        left = await client.fetchval(f"SELECT count(*) FROM {table} WHERE user_id = 'carol'")
        assert left == 0, table
        other = await client.fetchval(f"SELECT count(*) FROM {table} WHERE user_id = 'dave'")
        assert other > 0, table
    # The reader's next feed starts from nothing: rl-1 (saved before) may be served again.
    after = (await client.get("/v1/users/carol/feed", params={"limit": 50})).json()
    assert "rl-1" in [item["paper_id"] for item in after["items"]]
