import os
from pathlib import Path

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("pitlane")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _make_broker_folders(sender: Celery, **kwargs: object) -> None:
    # kombu's filesystem transport expects its folders to exist.
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
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
