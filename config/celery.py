import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypedDict

from celery import Celery, signals
from django.db import InterfaceError
from django.db import OperationalError as DatabaseOperationalError
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("pitlane")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

log = logging.getLogger(__name__)

# A lost or refused database connection: the task is tried again a little later, when
# Django's health check (CONN_HEALTH_CHECKS) has replaced the connection. Safe for every
# task here, as each claims its rows with a conditional UPDATE before it does anything.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (DatabaseOperationalError, InterfaceError)


class RetryOptions(TypedDict):
    autoretry_for: tuple[type[BaseException], ...]
    retry_backoff: int
    retry_backoff_max: int
    retry_jitter: bool
    max_retries: int


RETRY_ON_DATABASE_ERRORS: RetryOptions = {
    "autoretry_for": DATABASE_ERRORS,
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 8,
}

# What publishing raises when the broker is down, refuses us or does not answer in time.
PUBLISH_ERRORS: tuple[type[BaseException], ...] = (OperationalError, RedisError, OSError)


def publish(
    task_name: str, argument_lists: Iterable[Sequence[object]], *, countdown: float | None = None
) -> int:
    """Queues the task named `task_name` once per argument list, on one broker connection
    (to run `countdown` seconds from now, if given); returns how many were queued.

    By name, so the modules that write the rows need not import the task modules that
    import them back.

    Best effort, by design: the caller has already committed the row that says the work
    is to be done, and a sweep queues again what stays undone. So a broker that is down
    is logged, not raised: a customer's "Send" or upload never fails for it. The connect
    timeout and the short retry policy in settings bound how long this can take.
    """
    task = app.tasks[task_name]
    calls = [tuple(args) for args in argument_lists]
    options: dict[str, Any] = {"countdown": countdown} if countdown is not None else {}
    if task.app.conf.task_always_eager:  # no broker: the task runs here and now
        for args in calls:
            task.apply_async(args, **options)
        return len(calls)
    queued = 0
    try:
        # One connection for the whole batch, not one from the pool per task.
        with task.app.producer_or_acquire() as producer:
            for args in calls:
                task.apply_async(args, producer=producer, **options)
                queued += 1
    except PUBLISH_ERRORS as error:
        log.warning(
            "Broker unavailable: %d of %d %s tasks not queued; the sweep will queue them: %s",
            len(calls) - queued,
            len(calls),
            task.name,
            error,
        )
    return queued


@app.on_after_configure.connect
def _make_broker_folders(sender: Celery, **kwargs: object) -> None:
    # kombu's filesystem transport expects its folders to exist, and beat the folder of
    # its schedule file (whatever the broker: without it, beat cannot start).
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
    if sender.conf.beat_schedule_filename:
        Path(sender.conf.beat_schedule_filename).parent.mkdir(parents=True, exist_ok=True)
    backend = sender.conf.result_backend or ""
    if backend.startswith("file://"):
        Path(backend.removeprefix("file://")).mkdir(parents=True, exist_ok=True)


@app.task(name="pitlane.ping", ignore_result=False)
def ping(value: str) -> str:
    """Echoes its argument: proves a real worker took a task from the broker."""
    return f"pong {value}"


@signals.task_prerun.connect
@signals.task_postrun.connect
def _close_broken_or_old_connections(task: object = None, **kwargs: object) -> None:
    """Around each task, what Django does around each request (CELERY_DB_REUSE_MAX)."""
    request = getattr(task, "request", None)
    if getattr(request, "is_eager", False):
        return  # in the caller's process and transaction
    from django.db import close_old_connections

    close_old_connections()
