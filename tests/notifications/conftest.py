"""Fixtures for notifications: a local Twilio, an eager Celery, real workers."""

import base64
import json
import secrets
import threading
import time
from collections import deque
from datetime import UTC, date, datetime
from datetime import time as clock
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote

import pytest

from tests.factories import AppointmentFactory, DealershipFactory

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_SID = "AC" + "0" * 30
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
FROM_NUMBER = "+3225550100"


def _rfc2822(moment: datetime) -> str:
    """Twilio's way of writing a time: "Thu, 24 Aug 2023 05:01:45 +0000"."""
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0))


class FakeTwilio:
    """Twilio's Messages API as its documentation describes it, on 127.0.0.1.

    POST Messages.json creates a message (kept in `messages`, newest last) and answers
    201 with it, unless a scripted answer is queued with `answer(status, body)`. Every
    POST is recorded in `requests` (path, headers, form fields): one per send.

    GET Messages/{Sid}.json fetches one message (404 with Twilio's error body if there
    is none); GET Messages.json lists them newest first, filtered by `To`, `From` and
    `DateSent` (a GMT date, or `DateSent>=`/`DateSent<=` one), `PageSize` at a time with
    Twilio's paging fields. Lookups are recorded in `lookups`.

    Faults: `hold()` takes sends (the message is created) but keeps the answer back
    until `release()`, as a provider that hangs after accepting; `lose_next(n)` makes the
    next n sends hang without creating anything, as one that never got the request to
    its application; `hold_lookups()` makes lookups hang too.
    """

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.lookups: list[str] = []
        self.messages: list[dict] = []
        self.answers: deque[tuple[int, dict]] = deque()
        # MMS pictures by path: (content type, bytes); see `add_media`.
        self.media: dict[str, tuple[str, bytes]] = {}
        self.received = threading.Event()
        self._release = threading.Event()
        self._release.set()
        self._lookups_release = threading.Event()
        self._lookups_release.set()
        self._lose = 0
        self._lost_release = threading.Event()
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
                    lost = fake._lose > 0
                    if lost:
                        fake._lose -= 1
                        status, body = 504, {}
                    elif fake.answers:
                        status, body = fake.answers.popleft()
                    else:
                        status, body = 201, fake.created(form)
                        fake.messages.append(body)
                fake.received.set()
                (fake._lost_release if lost else fake._release).wait(timeout=60)
                self.reply(status, body)

            def do_GET(self) -> None:
                if self.path in fake.media:  # an MMS picture, behind the account's login
                    expected = (
                        "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
                    )
                    if self.headers.get("Authorization") != expected:
                        self.reply(*fake.error(401, 20003, "Authenticate"))
                        return
                    content_type, payload = fake.media[self.path]
                    self.send_response(200)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                with fake._lock:
                    fake.lookups.append(self.path)
                fake._lookups_release.wait(timeout=60)
                path, _, query = self.path.partition("?")
                prefix = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages"
                if path == prefix + ".json":
                    self.reply(200, fake.page(path, parse_qs(query)))
                elif path.startswith(prefix + "/") and path.endswith(".json"):
                    sid = path[len(prefix) + 1 : -len(".json")]
                    found = [m for m in fake.messages if m["sid"] == sid]
                    if found:
                        self.reply(200, found[0])
                    else:
                        self.reply(
                            *fake.error(404, 20404, f"The requested resource {path} was not found")
                        )
                else:
                    self.reply(
                        *fake.error(404, 20404, f"The requested resource {path} was not found")
                    )

            def reply(self, status: int, body: dict) -> None:
                payload = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client went away (it timed out, or a killed worker)

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
        now = _rfc2822(datetime.now(UTC))
        return {
            "account_sid": ACCOUNT_SID,
            "api_version": "2010-04-01",
            "body": form.get("Body", ""),
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
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

    def page(self, path: str, query: dict[str, list[str]]) -> dict:
        """One page of the list, newest first, as Twilio pages it."""
        with self._lock:
            found = list(reversed(self.messages))
        for field in ("To", "From"):
            if field in query:
                found = [m for m in found if m[field.lower()] == query[field][0]]
        for key, compare in (
            ("DateSent", lambda sent, day: sent == day),
            ("DateSent>", lambda sent, day: sent >= day),  # "DateSent>=day" parses so
            ("DateSent<", lambda sent, day: sent <= day),
        ):
            if key in query:
                day = date.fromisoformat(query[key][0].lstrip("="))
                found = [
                    m
                    for m in found
                    if m["date_sent"] and compare(parsedate_to_datetime(m["date_sent"]).date(), day)
                ]
        size = int(query.get("PageSize", ["50"])[0])
        number = int(query.get("Page", ["0"])[0])
        chunk = found[number * size : (number + 1) * size]
        filters = "&".join(
            f"{key}={quote(values[0])}"
            for key, values in query.items()
            if key not in ("Page", "PageToken")
        )

        def uri(n: int) -> str:
            return f"{path}?{filters}&Page={n}&PageToken=PT{n}"

        return {
            "end": number * size + max(len(chunk) - 1, 0),
            "first_page_uri": uri(0),
            "messages": chunk,
            "next_page_uri": uri(number + 1) if len(found) > (number + 1) * size else None,
            "page": number,
            "page_size": size,
            "previous_page_uri": uri(number - 1) if number else None,
            "start": number * size,
            "uri": f"{path}?{filters}&Page={number}",
        }

    @staticmethod
    def error(status: int, code: int, message: str) -> tuple[int, dict]:
        return status, {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }

    def add_media(self, content_type: str, payload: bytes) -> str:
        """A picture of an inbound MMS; returns its MediaUrl as Twilio posts it."""
        path = (
            f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{secrets.token_hex(16)}"
            f"/Media/ME{secrets.token_hex(16)}"
        )
        self.media[path] = (content_type, payload)
        return self.url + path

    def answer(self, status: int, body: dict) -> None:
        self.answers.append((status, body))

    def hold(self) -> None:
        self._release.clear()

    def release(self) -> None:
        self._release.set()
        self._lookups_release.set()
        self._lost_release.set()

    def lose_next(self, count: int = 1) -> None:
        self._lost_release.clear()
        self._lose += count

    def hold_lookups(self) -> None:
        self._lookups_release.clear()

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
def always_open(db):
    """A dealership that sends at any hour of any day, so tests run whenever they run."""
    return DealershipFactory(
        sending_starts=clock(0, 0), sending_ends=clock(23, 59, 59, 999999), sending_days="1234567"
    )


@pytest.fixture
def due_appointment(always_open):
    return AppointmentFactory(dealership=always_open)


@pytest.fixture
def worker(request, monkeypatch, twilio_env):
    """The shared `celery_worker_process` fixture, started with the local Twilio, fast
    retries, a long read timeout and (on Redis) a short visibility timeout, on a purged
    broker."""
    env = {
        **twilio_env,
        "MESSAGE_RETRY_SECONDS": "1",
        "MESSAGE_MAX_ATTEMPTS": "3",
        "CELERY_VISIBILITY_TIMEOUT": "3",
        # A send held at Twilio waits for the test, not for a busy machine's timeout.
        "TWILIO_READ_TIMEOUT_SECONDS": "60",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    process = request.getfixturevalue("celery_worker_process")
    process.extra_env = env
    yield process
    print("".join(process.log_lines[-80:]))
