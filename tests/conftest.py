import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from tests.factories import AppointmentFactory, DealershipFactory, MembershipFactory, UserFactory
from workshop.models import Role


@pytest.fixture
def dealership(db):
    return DealershipFactory()


@pytest.fixture
def receptionist(dealership):
    return MembershipFactory(dealership=dealership, role=Role.RECEPTIONIST).user


@pytest.fixture
def mechanic(dealership):
    return MembershipFactory(
        dealership=dealership, role=Role.MECHANIC, user=UserFactory(username="mech")
    ).user


@pytest.fixture
def appointment(dealership):
    return AppointmentFactory(dealership=dealership)


@pytest.fixture
def staff_client(client, receptionist):
    client.force_login(receptionist)
    return client


@pytest.fixture
def eager_tasks():
    """Tasks run in this process when queued (after commit), not on a worker."""
    from config.celery import app

    before = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


def database_url_for_subprocess() -> str:
    """The URL of the database this test runs on, for processes the test starts."""
    from django.db import connection

    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    auth = params["USER"] + (f":{params['PASSWORD']}" if params["PASSWORD"] else "")
    return f"postgres://{auth}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}/{params['NAME']}"


# The queues a real worker serves (config/settings.py CELERY_TASK_QUEUES): sending has its own.
WORKER_QUEUES = ("celery", "send")


def purge_task_queues() -> int:
    """Drops every task waiting in the configured queues: a test starts on an empty broker."""
    from config.celery import app

    return app.control.purge() or 0


def wait_for_worker(process: subprocess.Popen, queues: Sequence[str], timeout: float = 90) -> None:
    """Returns once the worker has answered a ping task on each of its queues.

    A worker that has not finished starting would otherwise leave the first tasks of a
    test waiting for longer than the test does (on a busy machine, many seconds)."""
    from celery.exceptions import TimeoutError as ResultTimeout

    from config.celery import ping

    deadline = time.monotonic() + timeout
    for queue in queues:
        token = secrets.token_hex(4)
        result = ping.apply_async((token,), queue=queue)
        while True:
            if process.poll() is not None:
                log = "".join(process.log_lines[-40:])
                raise RuntimeError(f"The Celery worker exited while starting:\n{log}")
            if time.monotonic() > deadline:
                log = "".join(process.log_lines[-40:])
                raise RuntimeError(f"The Celery worker did not answer on {queue!r}:\n{log}")
            try:
                assert result.get(timeout=1) == f"pong {token}"
                break
            except ResultTimeout:
                continue


def start_celery_worker(
    extra_env: dict[str, str] | None = None,
    *,
    queues: Sequence[str] = WORKER_QUEUES,
    wait: bool = True,
) -> subprocess.Popen:
    """A real Celery worker, in its own process, on the configured broker and the test
    database, serving `queues`. Returns once it answers on each of them (unless `wait`
    is false: a worker on another broker than this process's). Its output is read as it
    comes (into `process.log_lines`), so a full pipe never blocks it."""
    env = {**os.environ, **(extra_env or {}), "DATABASE_URL": database_url_for_subprocess()}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "--hostname",
            f"test-{secrets.token_hex(4)}@%h",
            "--queues",
            ",".join(queues),
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    process.log_lines = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            process.log_lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    if wait:
        try:
            wait_for_worker(process, queues)
        except BaseException:
            stop_celery_worker(process)
            raise
    return process


def stop_celery_worker(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=20)


def closed_port_url(scheme: str = "redis") -> str:
    """The URL of a server that is down: a port on this machine nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"{scheme}://127.0.0.1:{port}/0"


class WebServer:
    """The site served by gunicorn in its own processes, as in production: each web
    process keeps its database connection between requests (unlike the test client)."""

    def __init__(self, extra_env: dict[str, str] | None = None, workers: int = 1) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        env = {
            **os.environ,
            "ALLOWED_HOSTS": "127.0.0.1",
            **(extra_env or {}),
            "DATABASE_URL": database_url_for_subprocess(),
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(workers),
            ],
            cwd=Path(__file__).resolve().parent.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.log_lines: list[str] = []

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.log_lines.append(line)

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + 60
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("gunicorn did not start:\n" + "".join(self.log_lines))
            time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=20)


@pytest.fixture
def web_server(transactional_db):
    """Starts `WebServer`s for one test (`web_server(extra_env)`), stopped at its end."""
    started: list[WebServer] = []

    def start(extra_env: dict[str, str] | None = None, workers: int = 1) -> WebServer:
        server = WebServer(extra_env, workers)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
        print("".join(server.log_lines[-40:]))


def wait_until(condition: Callable[[], object], timeout: float = 60, what: str = "it") -> None:
    """Waits for `condition` to hold, checking ten times a second; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real worker (see `start_celery_worker`) for the length of one test, ready when
    the test starts, on queues emptied before and after."""
    purge_task_queues()
    process = start_celery_worker()
    try:
        yield process
    finally:
        stop_celery_worker(process)
        purge_task_queues()


@pytest.fixture(autouse=True)
def _pages_kept_only_with_commits(request, settings):
    """A kept welcome page is known by its rows' versions, which move with each
    committed transaction (`portal.kept_pages`). A test on `db` writes everything in
    one transaction, so it keeps none; tests that commit (`transactional_db`, live
    servers) keep pages as production does."""
    marker = request.node.get_closest_marker("django_db")
    commits = "transactional_db" in request.fixturenames or (
        marker is not None and marker.kwargs.get("transaction", False)
    )
    if not commits:
        settings.PORTAL_KEPT_PAGES = 0


@pytest.fixture(autouse=True)
def _no_tasks_left_behind():
    """Tasks a test published and nobody ran are dropped when it ends, so the next
    test's worker does not spend its time on them."""
    from celery.signals import after_task_publish

    published: list[object] = []

    def note(**kwargs: object) -> None:
        published.append(kwargs.get("routing_key"))

    after_task_publish.connect(note, weak=False)
    try:
        yield
    finally:
        after_task_publish.disconnect(note)
        if published:
            purge_task_queues()
