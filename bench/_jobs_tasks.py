"""No-op jobs for bench_jobs.py, one per job framework (imported by their workers).

BENCH_AMQP_URL names the broker; BENCH_COUNTER a file that the frameworks without a
RabbitMQ result backend (dramatiq, taskiq) append one byte to per job, so the bench can
count finished jobs the same way for every framework.
"""

from __future__ import annotations

import os

import offload


def _url() -> str:
    return os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1/")


def _count() -> None:
    fd = os.open(
        os.environ.get("BENCH_COUNTER", os.devnull), os.O_WRONLY | os.O_APPEND | os.O_CREAT
    )
    try:
        os.write(fd, b".")
    finally:
        os.close(fd)


jobs = offload.JobQueue(_url(), name="bench")


@jobs.job(name="noop")
def noop() -> None:
    return None


@jobs.job(name="noop_counted")
def noop_counted() -> None:
    _count()


def _celery():  # type: ignore[no-untyped-def]
    from celery import Celery

    app = Celery("bench", broker=_url().replace("amqp://", "pyamqp://"), backend="rpc://")
    app.conf.task_default_queue = "bench_celery"
    app.conf.worker_prefetch_multiplier = 1
    app.conf.worker_hijack_root_logger = False

    @app.task(name="noop")
    def celery_noop() -> None:
        return None

    return app, celery_noop


def _dramatiq():  # type: ignore[no-untyped-def]
    import dramatiq
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    broker = RabbitmqBroker(url=_url())
    dramatiq.set_broker(broker)

    @dramatiq.actor(queue_name="bench_dramatiq", max_retries=0)
    def dramatiq_noop() -> None:
        _count()

    return broker, dramatiq_noop


def _taskiq():  # type: ignore[no-untyped-def]
    from taskiq_aio_pika import AioPikaBroker

    broker = AioPikaBroker(_url(), queue_name="bench_taskiq")

    @broker.task(task_name="noop")
    async def taskiq_noop() -> None:
        _count()

    return broker, taskiq_noop


FRAMEWORK = os.environ.get("BENCH_FRAMEWORK", "")
if FRAMEWORK == "celery":
    celery_app, celery_noop = _celery()
elif FRAMEWORK == "dramatiq":
    dramatiq_broker, dramatiq_noop = _dramatiq()
elif FRAMEWORK == "taskiq":
    taskiq_broker, taskiq_noop = _taskiq()
