"""The demo's ASGI app: subset-sum over HTTP, answering ``/ping`` while it computes.

Routes::

    GET /                         the live page (static/index.html, static/app.js)
    GET /subset-sum?data=[..]&sum=N   NDJSON: {"match": [...]} per match, then a summary
    GET /ping                     {"pong": true}, at once (unless the loop is blocked)
    GET /stats                    loop lag, pool load and job counters as JSON

The strategy (where the search runs) is started in the lifespan and stopped after it, so
the pool's workers live exactly as long as the server. A client that goes away cancels
its job: the disconnect cancels a CancelToken, which stops the search in its worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

import offload
from offload import BlockReport

from ._lag import LagProbe
from ._strategies import Job, Strategy, make_strategy
from ._subset_sum import Match

__all__ = ["MAX_ITEMS", "MAX_STREAMED", "MAX_VALUE", "Rejection", "create_app", "parse_job"]

#: Most items a request may search: the search visits 2**n subsets, and 2**24 (16.7
#: million) is a few seconds of one core, the most one request may cost.
MAX_ITEMS = 24
#: Largest magnitude of an item or of the sum: keeps the arithmetic on machine-size ints.
MAX_VALUE = 10**12
#: Longest ``data`` parameter accepted, in characters (24 items of 13 digits fit).
MAX_DATA_CHARS = 1024
#: Matches streamed per request; the summary still counts all of them.
MAX_STREAMED = 1000


@dataclass(frozen=True)
class Rejection:
    """Why a request cannot be served: the HTTP status and a message for the client."""

    status: int
    message: str

    def response(self) -> JSONResponse:
        """The JSON error response."""
        return JSONResponse({"error": self.message, "status": self.status}, self.status)


def parse_job(params: Mapping[str, str]) -> Job | Rejection:
    """Validate ``data`` (a JSON list of integers) and ``sum`` (an integer) from a query.

    Returns the job, or a rejection: 400 for malformed or missing values, 413 for a set
    larger than :data:`MAX_ITEMS` items.

    Example::

        >>> parse_job({"data": "[1, 2, 3]", "sum": "3"})
        Job(data=(1, 2, 3), total=3, max_streamed=1000)
    """
    raw_data = params.get("data")
    raw_sum = params.get("sum")
    example = "for example /subset-sum?data=[3,-1,4,1,5]&sum=4"
    if raw_data is None or raw_sum is None:
        missing = " and ".join(n for n, v in (("data", raw_data), ("sum", raw_sum)) if v is None)
        return Rejection(400, f"missing query parameter {missing}; {example}")
    if len(raw_data) > MAX_DATA_CHARS:
        return Rejection(
            413,
            f"data is {len(raw_data)} characters long, more than the {MAX_DATA_CHARS} "
            f"accepted; send at most {MAX_ITEMS} integers",
        )
    try:
        data = json.loads(raw_data)
    except ValueError as exc:
        return Rejection(400, f"data is not valid JSON ({exc}); send a JSON list, {example}")
    if not isinstance(data, list):
        return Rejection(
            400, f"data must be a JSON list of integers, got {type(data).__name__}; {example}"
        )
    if len(data) > MAX_ITEMS:
        return Rejection(
            413,
            f"data has {len(data)} items; at most {MAX_ITEMS} are searched, because the "
            f"work doubles with every item (2**{len(data)} subsets); send fewer items",
        )
    for position, item in enumerate(data):
        problem = _integer_problem(item)
        if problem:
            return Rejection(400, f"data[{position}] {problem}")
    try:
        total = json.loads(raw_sum)
    except ValueError:
        return Rejection(400, f"sum must be an integer, got {raw_sum[:40]!r}; {example}")
    problem = _integer_problem(total)
    if problem:
        return Rejection(400, f"sum {problem}")
    return Job(data=tuple(data), total=total, max_streamed=MAX_STREAMED)


def _integer_problem(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be an integer, got {json.dumps(value)[:40]}"
    if abs(value) > MAX_VALUE:
        return f"is {value}, out of range; use integers between -{MAX_VALUE} and {MAX_VALUE}"
    return ""


@dataclass
class _Counters:
    running: int = 0
    completed: int = 0
    cancelled: int = 0
    failed: int = 0


class _Demo:
    """The state one server shares between requests: strategy, lag probe, counters."""

    def __init__(self, strategy: Strategy) -> None:
        self.strategy = strategy
        # The monitor keeps lag percentiles and block reports (with the blocking stack)
        # since start-up; the probe adds what the chart needs: the worst lag of late.
        self.watch = offload.monitor.watch(threshold=0.05, log=False)
        self.probe = LagProbe()
        self.jobs = _Counters()

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        async with self.watch, self.probe:
            await self.strategy.start()
            self.watch.reset()  # starting the workers is not what the page is about
            try:
                yield
            finally:
                await self.strategy.stop()

    async def index(self, request: Request) -> Response:
        return Response(_static("index.html"), media_type="text/html; charset=utf-8")

    async def script(self, request: Request) -> Response:
        return Response(_static("app.js"), media_type="text/javascript; charset=utf-8")

    async def ping(self, request: Request) -> Response:
        return JSONResponse({"pong": True})

    async def stats(self, request: Request) -> Response:
        load = self.strategy.load()
        return JSONResponse(
            {
                "strategy": self.strategy.name,
                "workers": self.strategy.workers,
                "lag": self._lag(),
                "pool": {
                    "capacity": load.capacity,
                    "busy": load.busy,
                    "queued": load.queued,
                    "utilization": load.utilization,
                },
                "jobs": asdict(self.jobs),
            },
            headers={"cache-control": "no-store"},
        )

    def _lag(self) -> dict[str, Any]:
        loop = self.watch.stats()
        blocks = self.watch.blocks
        return {
            "p50_ms": loop.lag_p50 * 1000,
            "p99_ms": loop.lag_p99 * 1000,
            "max_ms": loop.lag_max * 1000,
            "recent_max_ms": self.probe.recent_max() * 1000,
            "samples": loop.samples,
            "blocks": loop.blocks,
            "last_block": _describe(blocks[-1]) if blocks else None,
        }

    async def subset_sum(self, request: Request) -> Response:
        job = parse_job(request.query_params)
        if isinstance(job, Rejection):
            return job.response()
        return _MatchStream(self, job)


class _MatchStream(Response):
    """Streams a job's matches as NDJSON; a client disconnect cancels the job."""

    media_type = "application/x-ndjson"

    def __init__(self, demo: _Demo, job: Job) -> None:
        # Not Response.__init__: it would announce "content-length: 0" for the empty body.
        self.status_code = 200
        self.background = None
        self.raw_headers = [
            (b"content-type", b"application/x-ndjson"),
            (b"cache-control", b"no-store"),
            (b"x-accel-buffering", b"no"),
        ]
        self._demo = demo
        self._job = job

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        demo, job = self._demo, self._job
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        token = offload.CancelToken()
        streamed = 0

        async def emit(match: Match) -> None:
            nonlocal streamed
            await send(
                {"type": "http.response.body", "body": _line({"match": match}), "more_body": True}
            )
            streamed += 1

        started = time.perf_counter()
        demo.jobs.running += 1
        search = asyncio.create_task(demo.strategy.search(job, token, emit))
        gone = asyncio.create_task(_disconnected(receive))
        why = ""
        try:
            try:
                await asyncio.wait({search, gone}, return_when=asyncio.FIRST_COMPLETED)
                if not search.done():
                    why = "the client disconnected"
            except asyncio.CancelledError:
                # uvicorn cancels the responses still open when its graceful shutdown
                # times out: stop the job, tell the client, and end this response.
                why = "the server is shutting down"
                current = asyncio.current_task()
                if current is not None:
                    current.uncancel()
            finally:
                gone.cancel()
            if why:
                # Stop the work wherever it runs, then wait until it has stopped.
                token.cancel(why)
                search.cancel()
            result = (await asyncio.gather(search, return_exceptions=True))[0]
        finally:
            demo.jobs.running -= 1
        summary: dict[str, Any] = {
            "done": True,
            "strategy": demo.strategy.name,
            "elapsed": round(time.perf_counter() - started, 6),
            "streamed": streamed,
        }
        if isinstance(result, int):
            demo.jobs.completed += 1
            summary.update(count=result, cancelled=False)
        elif why or isinstance(result, (offload.Cancelled, asyncio.CancelledError, OSError)):
            demo.jobs.cancelled += 1
            summary.update(count=None, cancelled=True, reason=why or str(result))
        else:
            demo.jobs.failed += 1
            summary.update(count=None, cancelled=False, error=f"{type(result).__name__}: {result}")
        if why != "the client disconnected":
            with contextlib.suppress(OSError):
                await send(
                    {"type": "http.response.body", "body": _line(summary), "more_body": False}
                )


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _describe(block: BlockReport) -> str:
    # The page shows the blocking function and its file name, not the whole path.
    where = re.sub(r"\((?:[^()]*/)?([^/()]+:\d+)\)", r"(\1)", block.function)
    return f"{block.duration * 1000:.0f} ms in {where}"


def _line(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def _static(name: str) -> bytes:
    return (resources.files("offload._cli._demo") / "static" / name).read_bytes()


def create_app(strategy: str = "process", workers: int = 2) -> Starlette:
    """The demo app for ``strategy`` with ``workers`` workers; serve it with uvicorn.

    Raises ValueError for an unknown strategy.

    Example::

        uvicorn.run(create_app("process", workers=2), port=8000)
    """
    demo = _Demo(make_strategy(strategy, workers))
    routes = [
        Route("/", demo.index),
        Route("/app.js", demo.script),
        Route("/ping", demo.ping),
        Route("/stats", demo.stats),
        Route("/subset-sum", demo.subset_sum),
    ]
    return Starlette(routes=routes, lifespan=demo.lifespan)
