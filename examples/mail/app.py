"""A web app that hands mail jobs to workers and shows their progress.

    POST /mails            {"addresses": [...]}  ->  202 {"id": ...} at once
    GET  /mails/{id}       {"sent": N, "done": bool, "result": ..., "error": ...}

Run it (with a worker running, see tasks.py):

    uvicorn app:app
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from tasks import jobs, send_mails

import offload

# What this process knows of each job, kept up to date by one watcher task per job.
status: dict[str, dict[str, Any]] = {}
watchers: set[asyncio.Task[None]] = set()


async def watch(handle: offload.JobHandle) -> None:
    state = status.setdefault(handle.id, {"sent": 0, "done": False})
    async for sent in handle.progress():
        state["sent"] = sent
    try:
        state["result"] = await handle.result()
    except offload.JobError as exc:
        state["error"] = str(exc)
    state["done"] = True


def start_watching(handle: offload.JobHandle) -> None:
    if handle.id not in status:
        status[handle.id] = {"sent": 0, "done": False}
        task = asyncio.get_running_loop().create_task(watch(handle))
        watchers.add(task)
        task.add_done_callback(watchers.discard)


async def submit(request: Request) -> JSONResponse:
    body = await request.json()
    addresses = body.get("addresses")
    if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
        return JSONResponse({"error": "'addresses' must be a list of strings"}, 400)
    handle = await jobs.submit(send_mails, addresses, kwargs=body.get("options") or {})
    start_watching(handle)
    return JSONResponse({"id": handle.id}, 202)


async def show(request: Request) -> JSONResponse:
    try:
        handle = await jobs.get(request.path_params["id"])
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, 404)
    start_watching(handle)  # also after a restart of this app: the job is found by id
    return JSONResponse(status[handle.id])


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with jobs:
        yield
        for task in list(watchers):
            task.cancel()


app = Starlette(
    routes=[Route("/mails", submit, methods=["POST"]), Route("/mails/{id}", show)],
    lifespan=lifespan,
)
