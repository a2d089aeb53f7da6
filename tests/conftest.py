import os
import subprocess
import sys
import threading
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


def database_url_for_subprocess() -> str:
    """The URL of the database this test runs on, for processes the test starts."""
    from django.db import connection

    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    auth = params["USER"] + (f":{params['PASSWORD']}" if params["PASSWORD"] else "")
    return f"postgres://{auth}@{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}/{params['NAME']}"


def start_celery_worker(extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """A real Celery worker, in its own process, on the configured broker and the test
    database. Its output is read as it comes (into `process.log_lines`), so a full pipe
    never blocks it."""
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
    process.log_lines = []  # type: ignore[attr-defined]

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            process.log_lines.append(line)  # type: ignore[attr-defined]

    threading.Thread(target=read, daemon=True).start()
    return process


def stop_celery_worker(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real worker (see `start_celery_worker`) for the length of one test."""
    process = start_celery_worker()
    try:
        yield process
    finally:
        stop_celery_worker(process)
