"""Fixtures for notifications: a local Twilio, an eager Celery, real workers."""

import json
import secrets
import threading
import time
from collections import deque
from datetime import time as clock
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from tests.factories import AppointmentFactory, DealershipFactory

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_SID = "AC" + "0" * 30
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
FROM_NUMBER = "+3225550100"


class FakeTwilio:
    """Twilio's Messages API as its documentation describes it, on 127.0.0.1.

    Records every request (path, headers, form fields). Answers 201 with a message
    resource unless a scripted answer is queued with `answer(status, body)`. With
    `hold()` it takes requests but keeps the answer back until `release()`.
    """

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.answers: deque[tuple[int, dict]] = deque()
        self.received = threading.Event()
        self._release = threading.Event()
        self._release.set()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                with fake._lock:
                    fake.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "form": form}
                    )
                    status, body = (
                        fake.answers.popleft() if fake.answers else (201, fake.created(form))
                    )
                fake.received.set()
                fake._release.wait(timeout=60)
                payload = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client went away (a killed worker)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @staticmethod
    def created(form: dict) -> dict:
        sid = "SM" + secrets.token_hex(16)
        return {
            "account_sid": ACCOUNT_SID,
            "api_version": "2010-04-01",
            "body": form.get("Body", ""),
            "date_created": "Thu, 24 Aug 2023 05:01:45 +0000",
            "date_sent": None,
            "date_updated": "Thu, 24 Aug 2023 05:01:45 +0000",
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}/Media.json"
            },
            "to": form.get("To"),
            "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
        }

    @staticmethod
    def error(status: int, code: int, message: str) -> tuple[int, dict]:
        return status, {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }

    def answer(self, status: int, body: dict) -> None:
        self.answers.append((status, body))

    def hold(self) -> None:
        self._release.clear()

    def release(self) -> None:
        self._release.set()

    def sends(self) -> list[dict]:
        return [r["form"] for r in self.requests]

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            assert time.monotonic() < deadline, f"Twilio got {len(self.requests)} of {count}"
            time.sleep(0.05)


@pytest.fixture
def fake_twilio():
    fake = FakeTwilio()
    fake.thread.start()
    yield fake
    fake.release()
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def twilio_env(fake_twilio):
    """Environment for processes (workers) that send through the local Twilio."""
    return {
        "SMS_TRANSPORT": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_MESSAGING_SERVICE_SID": "",
        "TWILIO_API_URL": fake_twilio.url,
    }


@pytest.fixture
def twilio(settings, twilio_env, fake_twilio):
    """This process sends SMS through the local Twilio."""
    settings.SMS_TRANSPORT = "twilio"
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    settings.TWILIO_FROM_NUMBER = FROM_NUMBER
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.TWILIO_API_URL = fake_twilio.url
    return fake_twilio


@pytest.fixture
def eager_tasks():
    """Send tasks run in this process when queued (after commit), not on a worker."""
    from config.celery import app

    before = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def always_open(db):
    """A dealership that sends at any hour of any day, so tests run whenever they run."""
    return DealershipFactory(
        sending_starts=clock(0, 0), sending_ends=clock(23, 59, 59, 999999), sending_days="1234567"
    )


@pytest.fixture
def due_appointment(always_open):
    return AppointmentFactory(dealership=always_open)


def purge_broker() -> None:
    from config.celery import app

    app.control.purge()


@pytest.fixture
def worker(request, monkeypatch, twilio_env):
    """The shared `celery_worker_process` fixture, started with the local Twilio, fast
    retries and (on Redis) a short visibility timeout, on a purged broker."""
    env = {
        **twilio_env,
        "MESSAGE_RETRY_SECONDS": "1",
        "MESSAGE_MAX_ATTEMPTS": "3",
        "CELERY_VISIBILITY_TIMEOUT": "3",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    purge_broker()
    process = request.getfixturevalue("celery_worker_process")
    process.extra_env = env
    yield process
    print("".join(process.log_lines[-80:]))
