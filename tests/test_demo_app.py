"""The demo app in process: input validation, NDJSON streaming, /ping, /stats, the page."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from offload._cli._demo._app import MAX_ITEMS, MAX_STREAMED, Rejection, create_app, parse_job
from offload._cli._demo._strategies import Job


@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        ({"sum": "3"}, 400, "missing query parameter data"),
        ({"data": "[1]"}, 400, "missing query parameter sum"),
        ({}, 400, "data and sum"),
        ({"data": "[1, 2", "sum": "3"}, 400, "not valid JSON"),
        ({"data": '{"a": 1}', "sum": "3"}, 400, "must be a JSON list of integers, got dict"),
        ({"data": "[1, 2.5]", "sum": "3"}, 400, "data[1] must be an integer, got 2.5"),
        ({"data": '[1, "2"]', "sum": "3"}, 400, 'data[1] must be an integer, got "2"'),
        ({"data": "[true]", "sum": "3"}, 400, "data[0] must be an integer, got true"),
        ({"data": "[1]", "sum": "three"}, 400, "sum must be an integer"),
        ({"data": "[1]", "sum": "1.5"}, 400, "sum must be an integer, got 1.5"),
        ({"data": "[1]", "sum": "null"}, 400, "sum must be an integer, got null"),
        ({"data": "[10000000000000]", "sum": "1"}, 400, "out of range"),
        ({"data": str(list(range(MAX_ITEMS + 1))), "sum": "1"}, 413, "send fewer items"),
        ({"data": "[" + " " * 5000 + "]", "sum": "1"}, 413, "characters long"),
    ],
)
def test_bad_input_is_rejected_with_a_status_and_a_clear_message(
    params: dict[str, str], status: int, says: str
) -> None:
    rejection = parse_job(params)
    assert isinstance(rejection, Rejection)
    assert rejection.status == status
    assert says in rejection.message


@given(
    st.one_of(st.none(), st.text(max_size=60), st.lists(st.integers()).map(str)),
    st.one_of(st.none(), st.text(max_size=20), st.integers().map(str)),
)
def test_any_query_becomes_a_job_or_a_rejection_never_an_exception(
    data: str | None, total: str | None
) -> None:
    params = {k: v for k, v in (("data", data), ("sum", total)) if v is not None}
    outcome = parse_job(params)
    if isinstance(outcome, Rejection):
        assert outcome.status in (400, 413)
        assert outcome.message
    else:
        assert len(outcome.data) <= MAX_ITEMS
        assert all(type(item) is int for item in outcome.data)
        assert type(outcome.total) is int


def test_good_input_becomes_a_job() -> None:
    job = parse_job({"data": "[3, -1, 4]", "sum": "-1"})
    assert job == Job(data=(3, -1, 4), total=-1, max_streamed=MAX_STREAMED)
    assert parse_job({"data": "[]", "sum": "0"}) == Job((), 0, MAX_STREAMED)


@pytest.fixture(params=["blocking", "interleave"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(request.param, workers=1)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo") as c,
    ):
        yield c


def ndjson(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


async def test_subset_sum_streams_each_match_then_a_summary(client: httpx.AsyncClient) -> None:
    response = await client.get("/subset-sum", params={"data": "[1, 2, 3, 4, -1]", "sum": "4"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    *found, summary = ndjson(response.text)
    assert found == [
        {"match": [1, 3]},
        {"match": [1, 4, -1]},
        {"match": [2, 3, -1]},
        {"match": [4]},
    ]
    assert summary["done"] is True
    assert summary["count"] == 4
    assert summary["streamed"] == 4
    assert summary["cancelled"] is False
    assert summary["strategy"] in {"blocking", "interleave"}
    assert isinstance(summary["elapsed"], float)


async def test_many_matches_are_counted_but_only_the_first_are_streamed(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/subset-sum", params={"data": str([0] * 12), "sum": "0"})
    *found, summary = ndjson(response.text)
    assert len(found) == MAX_STREAMED
    assert summary["count"] == 2**12 - 1
    assert summary["streamed"] == MAX_STREAMED


async def test_bad_requests_get_json_errors_and_the_server_keeps_serving(
    client: httpx.AsyncClient,
) -> None:
    bad = await client.get("/subset-sum", params={"data": "[1,", "sum": "1"})
    assert bad.status_code == 400
    assert "not valid JSON" in bad.json()["error"]
    big = await client.get("/subset-sum", params={"data": str([1] * 40), "sum": "1"})
    assert big.status_code == 413
    assert (await client.get("/ping")).json() == {"pong": True}


async def test_stats_report_lag_load_and_jobs(client: httpx.AsyncClient) -> None:
    await client.get("/subset-sum", params={"data": "[1, 2]", "sum": "3"})
    stats = (await client.get("/stats")).json()
    assert set(stats["lag"]) >= {"p50_ms", "p99_ms", "max_ms", "recent_max_ms"}
    assert stats["pool"] == {"capacity": 1, "busy": 0, "queued": 0, "utilization": 0.0}
    assert stats["jobs"] == {"running": 0, "completed": 1, "cancelled": 0, "failed": 0}


async def test_the_page_and_its_script_are_served(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert 'id="lag-chart"' in page.text
    assert '<script src="app.js">' in page.text
    assert "http" not in page.text.replace("http://www.w3.org", "")  # nothing from a CDN
    script = await client.get("/app.js")
    assert script.status_code == 200
    assert "subset-sum?" in script.text
