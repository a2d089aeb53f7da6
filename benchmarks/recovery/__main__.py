"""Recovery benchmark: what is lost, sent twice or stuck after a fault, and how long until
everything is done again without a person.

    uv run python -m benchmarks.recovery [scenario ...] [--invitations 400] [--limit-minutes 25]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pitlane_bench \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/9 CELERY_RESULT_BACKEND=redis://127.0.0.1:6379/10 \\
    uv run python -m benchmarks.recovery

Scenarios (all by default):

- broker-down: the dispatcher queues the invitations while the broker cannot be reached,
  then the broker is back.
- broker-restart: the invitations were queued, then the broker lost its tasks (a Redis
  restart without persistence) before a worker took them.
- photo-worker-killed: the worker checking a photo is killed (SIGKILL, all its processes)
  in the middle of the check.
- requests-broker-down: a customer uploads a photo and presses "Send" while the broker
  cannot be reached (real HTTP requests to gunicorn).
- db-drop: PostgreSQL drops every connection of the database three times; counts the
  failed requests (gunicorn, 2 workers) and failed send tasks that follow.
- slow-provider: Twilio takes each message but answers only after a minute (past the
  read timeout); the first ones never reach it at all. A photo is uploaded meanwhile.

The processes are the ones `Procfile.demo` names (workers and beat), so the figures are
those of the code and settings under test. Messages go to a local fake Twilio. The
database named is dropped and created afresh; logs are under var/bench-recovery/.
"""

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = ROOT / "var" / "bench-recovery"
SCENARIOS = (
    "broker-down",
    "broker-restart",
    "photo-worker-killed",
    "requests-broker-down",
    "db-drop",
    "slow-provider",
)


def configure_environment() -> None:
    os.environ.setdefault("PITLANE_VAR_DIR", str(BENCH_DIR))
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-" + "x" * 40)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{BENCH_DIR / 'recovery.sqlite3'}")
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "LOG_LEVEL": "WARNING",
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "STATIC_MANIFEST": "false",
        }
    )
    BENCH_DIR.mkdir(parents=True, exist_ok=True)


def closed_port_url() -> str:
    """A broker URL nothing listens on: a broker that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- Processes --------------------------------------------------------------------------


class Processes:
    """The Celery processes of Procfile.demo, each in its own process group, logging to
    var/bench-recovery/<scenario>-<name>.log."""

    def __init__(self, scenario: str, env: dict[str, str]) -> None:
        self.scenario, self.env = scenario, env
        self.running: dict[str, subprocess.Popen] = {}

    def procfile(self) -> dict[str, list[str]]:
        entries = {}
        for line in (ROOT / "Procfile.demo").read_text().splitlines():
            name, _, command = line.partition(":")
            words = command.split()
            if words[:1] == ["celery"]:
                entries[name.strip()] = words[1:]
        return entries

    def start(self, *names: str) -> None:
        entries = self.procfile()
        for name in names or tuple(entries):
            if name == "beat":  # a fresh schedule, in a folder that exists
                schedule = Path(self.env["PITLANE_VAR_DIR"], "celery", "beat-schedule")
                schedule.parent.mkdir(parents=True, exist_ok=True)
                for old in schedule.parent.glob("beat-schedule*"):
                    old.unlink()
            log = (BENCH_DIR / f"{self.scenario}-{name}.log").open("a")
            self.running[name] = subprocess.Popen(
                [sys.executable, "-m", "celery", *entries[name]],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def workers(self) -> list[str]:
        return [name for name, words in self.procfile().items() if "worker" in words]

    def kill(self, name: str) -> None:
        """SIGKILL to the whole process group: the machine or container died."""
        process = self.running.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop(self) -> None:
        for process in self.running.values():
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for process in self.running.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        self.running.clear()

    def log(self, name: str) -> str:
        path = BENCH_DIR / f"{self.scenario}-{name}.log"
        return path.read_text() if path.exists() else ""


def gunicorn(env: dict[str, str], port: int, scenario: str) -> subprocess.Popen:
    log = (BENCH_DIR / f"{scenario}-web.log").open("a")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_until(lambda: _answers(port), 60, "gunicorn to answer")
    return process


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def stop_group(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float | None:
    """Seconds until `condition` held, or None if it did not within `timeout`."""
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout:
            print(f"  (gave up waiting for {what} after {timeout:.0f} s)")
            return None
        time.sleep(0.25)
    return time.monotonic() - began


def wait_for_each(conditions: dict[str, Callable[[], bool]], timeout: float) -> dict:
    """Seconds until each condition first held (None: not within `timeout`)."""
    began = time.monotonic()
    done: dict[str, float | None] = dict.fromkeys(conditions)
    while time.monotonic() - began < timeout:
        for name, condition in conditions.items():
            if done[name] is None and condition():
                done[name] = round(time.monotonic() - began, 1)
        if all(seconds is not None for seconds in done.values()):
            break
        time.sleep(0.25)
    return done


# --- Data ---------------------------------------------------------------------------------


def fresh_database() -> None:
    from benchmarks.dispatch.__main__ import fresh_database as drop_and_create

    drop_and_create()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, check=True
    )


def clear_data() -> None:
    from notifications.models import Message
    from workshop.models import Appointment, Customer, Dealership

    Message.objects.all().delete()
    Appointment.objects.all().delete()
    Customer.objects.all().delete()
    Dealership.objects.all().delete()


def due_appointments(count: int) -> list:
    """`count` appointments the day after tomorrow at a dealership that sends at any hour,
    each for its own customer who prefers SMS."""
    from datetime import time as clock

    from django.utils import timezone

    from tests.factories import AppointmentFactory, CustomerFactory, DealershipFactory

    dealership = DealershipFactory(
        sending_starts=clock(0, 0), sending_ends=clock(23, 59, 59), sending_days="1234567"
    )
    starts = timezone.now() + timedelta(days=2)
    return [
        AppointmentFactory(
            dealership=dealership,
            starts_at=starts + timedelta(minutes=i),
            customer=CustomerFactory(
                dealership=dealership, phone=f"+32470{i:06d}", preferred_channel="sms"
            ),
        )
        for i in range(count)
    ]


def big_photo() -> bytes:
    """A 6-megapixel PNG of noise (18 MB): seconds of re-encoding, long enough to be killed."""
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.effect_noise((3000, 2000), 40).convert("RGB").save(out, "PNG")
    return out.getvalue()


def draft_remark():
    """A remark on an appointment a month ahead: its own invitation is not due yet."""
    from django.utils import timezone

    from tests.factories import AppointmentFactory, RemarkFactory
    from workshop.models import CheckInItem

    checkin = AppointmentFactory(starts_at=timezone.now() + timedelta(days=30)).checkin
    return RemarkFactory(checkin=checkin, state=CheckInItem.State.DRAFT, submitted_at=None)


def purge() -> None:
    from config.celery import app

    app.control.purge()
    # The sending queue by name too: code before it existed does not list it.
    with app.connection_for_write() as connection, contextlib.suppress(Exception):
        connection.default_channel.queue_purge("send")


# --- Figures ------------------------------------------------------------------------------


def message_figures(fake, began: float, limit: float, expected: int) -> dict[str, object]:
    """Waits (up to `limit` seconds) until every message has an outcome, then counts."""
    from notifications.models import Message

    Status = Message.Status
    out = Message.objects.filter(direction="out")
    took = wait_until(
        lambda: out.filter(status__in=[Status.SENT, Status.DELIVERED]).count() >= expected,
        limit - (time.monotonic() - began),
        "every message sent",
    )
    created = Counter(m["to"] for m in fake.messages)
    sent = out.filter(status__in=[Status.SENT, Status.DELIVERED])
    seconds = [(m.sent_at - m.queued_at).total_seconds() for m in sent.only("sent_at", "queued_at")]
    return {
        "sent": sent.count(),
        "not sent (queued/sending)": out.filter(status__in=[Status.QUEUED, Status.SENDING]).count(),
        "failed": out.filter(status=Status.FAILED).count(),
        "duplicates (texts received twice)": sum(n - 1 for n in created.values() if n > 1),
        "requests to Twilio": len(fake.requests),
        "all sent after (s)": round(time.monotonic() - began, 1) if took is not None else None,
        "median wait, queued to sent (s)": round(statistics.median(seconds), 1)
        if seconds
        else None,
        "longest wait (s)": round(max(seconds), 1) if seconds else None,
    }


def report(name: str, figures: dict[str, object]) -> None:
    print(f"\n{name}")
    for key, value in figures.items():
        print(f"  {key}: {value}")


# --- Scenarios -----------------------------------------------------------------------------


def broker_down(ctx) -> None:
    from notifications.models import Message

    due_appointments(ctx.invitations)
    dead = {**ctx.env, "CELERY_BROKER_URL": closed_port_url()}
    began = time.monotonic()
    result = subprocess.run(
        [sys.executable, "manage.py", "send_due_invitations"],
        cwd=ROOT,
        env=dead,
        capture_output=True,
        text=True,
    )
    dispatch_seconds = time.monotonic() - began
    queued = Message.objects.count()
    ctx.processes.start()  # the broker is back: workers and beat as in Procfile.demo
    began = time.monotonic()
    figures = {
        "dispatcher exit code": result.returncode,
        "dispatch took (s)": round(dispatch_seconds, 1),
        "messages written": queued,
    }
    figures |= message_figures(ctx.fake, began, ctx.limit, ctx.invitations)
    report(f"broker-down: {ctx.invitations} invitations queued while the broker is down", figures)


def broker_restart(ctx) -> None:
    from notifications import invitations

    due_appointments(ctx.invitations)
    queued = invitations.dispatch_due_invitations()
    purge()  # the broker restarted without persistence: the send tasks are gone
    ctx.processes.start()
    began = time.monotonic()
    figures = {"messages written": len(queued)}
    figures |= message_figures(ctx.fake, began, ctx.limit, ctx.invitations)
    report(f"broker-restart: {ctx.invitations} send tasks lost in a broker restart", figures)


def photo_worker_killed(ctx) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import transaction

    from portal.uploads import storing
    from workshop.models import Attachment

    remark = draft_remark()
    data = big_photo()
    workers = ctx.processes.workers()
    ctx.processes.start(*workers)
    wait_until(lambda: "ready" in ctx.processes.log(workers[0]), 120, "the worker to start")
    with transaction.atomic():
        attachment = storing.store_upload(
            remark, SimpleUploadedFile("IMG_0001.png", data, content_type="image/png")
        )
    took = wait_until(
        lambda: any(
            "process_attachment[" in line and "received" in line
            for name in workers
            for line in ctx.processes.log(name).splitlines()
        ),
        120,
        "the check to start",
    )
    for name in workers:
        ctx.processes.kill(name)
    state_after_kill = Attachment.objects.get(pk=attachment.pk).state
    ctx.processes.start()
    began = time.monotonic()
    ready = wait_until(
        lambda: Attachment.objects.get(pk=attachment.pk).state != Attachment.State.CHECKING,
        ctx.limit,
        "the photo to be checked",
    )
    attachment.refresh_from_db()
    report(
        "photo-worker-killed: the worker dies in the middle of a photo check",
        {
            "check started after (s)": round(took or 0, 1),
            "state when killed": state_after_kill,
            "final state": attachment.state,
            "checked after restart (s)": round(ready, 1) if ready is not None else None,
            "waited (s)": round(time.monotonic() - began, 1),
        },
    )


def requests_broker_down(ctx) -> None:
    import requests
    from django.urls import reverse

    from notifications.models import Message
    from workshop.models import Attachment

    remark = draft_remark()
    token = remark.checkin.token
    port = free_port()
    dead = {**ctx.env, "CELERY_BROKER_URL": closed_port_url(), "ALLOWED_HOSTS": "127.0.0.1"}
    web = gunicorn(dead, port, ctx.scenario)
    base = f"http://127.0.0.1:{port}"
    try:
        began = time.monotonic()
        upload = requests.post(
            base + reverse("portal:upload", args=[token, remark.pk]),
            files={"files": ("IMG_0002.jpg", big_photo_small(), "image/jpeg")},
            allow_redirects=False,
            timeout=60,
        )
        upload_seconds = time.monotonic() - began
        began = time.monotonic()
        send = requests.post(
            base + reverse("portal:review", args=[token]), allow_redirects=False, timeout=60
        )
        send_seconds = time.monotonic() - began
    finally:
        stop_group(web)
    attachments = Attachment.objects.filter(item__checkin_id=remark.checkin_id)
    messages = Message.objects.filter(
        appointment_id=remark.checkin.appointment_id, purpose="confirmation"
    )
    figures: dict[str, object] = {
        "upload answer": f"{upload.status_code} in {upload_seconds:.1f} s",
        "send answer": f"{send.status_code} in {send_seconds:.1f} s",
        "attachments stored": attachments.count(),
        "confirmations written": messages.count(),
    }
    ctx.processes.start()
    done = wait_for_each(
        {
            "photo": lambda: not attachments.filter(state__in=["uploading", "checking"]).exists(),
            "confirmation": lambda: not messages.filter(status__in=["queued", "sending"]).exists(),
        },
        ctx.limit,
    )
    figures["photo checked after broker back (s)"] = done["photo"]
    figures["photo state"] = list(attachments.values_list("state", flat=True))
    figures["confirmation sent after broker back (s)"] = done["confirmation"]
    figures["confirmation state"] = list(messages.values_list("status", flat=True))
    report("requests-broker-down: upload and Send while the broker is down", figures)


def big_photo_small() -> bytes:
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.effect_noise((1200, 900), 40).convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue()


def db_drop(ctx) -> None:
    import requests
    from django.db import connection
    from django.urls import reverse

    from notifications import invitations
    from notifications.models import Message

    if connection.vendor != "postgresql":
        report("db-drop", {"skipped": "needs PostgreSQL (DATABASE_URL=postgres://...)"})
        return
    port = free_port()
    web = gunicorn(ctx.env, port, ctx.scenario)
    ctx.processes.start()
    page = f"http://127.0.0.1:{port}" + reverse(
        "portal:welcome", args=[due_appointments(1)[0].checkin.token]
    )
    invitations.dispatch_due_invitations()  # each worker process opens its connection
    wait_until(lambda: not Message.objects.filter(status="queued").exists(), 60, "warm-up")
    errors, unsent = [], []
    try:
        for _ in range(3):
            for _ in range(10):
                requests.get(page, timeout=30)  # each web process has its connection
            due_appointments(10)
            terminate_connections()
            connection.close()
            statuses = [requests.get(page, timeout=30).status_code for _ in range(10)]
            errors.append(sum(1 for status in statuses if status >= 500))
            ids = [m.pk for m in invitations.dispatch_due_invitations()]
            waiting = Message.objects.filter(pk__in=ids, status__in=["queued", "sending"])
            wait_until(lambda waiting=waiting: not waiting.exists(), 30, "the sends")
            unsent.append(waiting.count())
    finally:
        stop_group(web)
    task_errors = sum(
        ctx.processes.log(name).count("OperationalError")
        + ctx.processes.log(name).count("InterfaceError")
        for name in ctx.processes.workers()
    )
    report(
        "db-drop: PostgreSQL drops every connection, three times",
        {
            "HTTP 500s in the 10 requests after each drop": errors,
            "of 10 invitations after each drop, not sent within 30 s": unsent,
            "database errors in the worker logs": task_errors,
        },
    )


def terminate_connections() -> None:
    """From a connection of our own, end every other session on this database only."""
    import psycopg
    from django.db import connection

    params = connection.settings_dict
    with psycopg.connect(
        host=params["HOST"] or "127.0.0.1",
        port=params["PORT"] or 5432,
        user=params["USER"],
        password=params["PASSWORD"] or None,
        dbname=params["NAME"],
        autocommit=True,
    ) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def slow_provider(ctx) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import transaction

    from notifications import invitations
    from portal.uploads import storing
    from workshop.models import Attachment

    count = max(ctx.invitations // 4, 20)
    due_appointments(count)
    ctx.processes.start()
    hang = 60
    ctx.fake.lose_next(5)  # these never reach Twilio's application
    ctx.fake.hold()  # the rest are taken, but answered only after a minute
    threading.Timer(hang, ctx.fake.release).start()
    began = time.monotonic()
    invitations.dispatch_due_invitations()
    time.sleep(5)
    with transaction.atomic():
        attachment = storing.store_upload(
            draft_remark(),
            SimpleUploadedFile("IMG_0003.jpg", big_photo_small(), content_type="image/jpeg"),
        )
    photo = wait_until(
        lambda: Attachment.objects.get(pk=attachment.pk).state != "checking",
        ctx.limit,
        "the photo to be checked",
    )
    figures: dict[str, object] = {
        "photo checked after (s), uploaded 5 s into the hang": round(photo, 1)
        if photo is not None
        else None
    }
    figures |= message_figures(ctx.fake, began, ctx.limit, count)
    report(
        f"slow-provider: {count} invitations; Twilio hangs for {hang} s, 5 sends never reach it",
        figures,
    )


RUNNERS = {
    "broker-down": broker_down,
    "broker-restart": broker_restart,
    "photo-worker-killed": photo_worker_killed,
    "requests-broker-down": requests_broker_down,
    "db-drop": db_drop,
    "slow-provider": slow_provider,
}


class Context:
    def __init__(self, scenario: str, env: dict[str, str], fake, invitations: int, limit: float):
        self.scenario, self.env, self.fake = scenario, env, fake
        self.invitations, self.limit = invitations, limit
        self.processes = Processes(scenario, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenarios", nargs="*", help=", ".join(SCENARIOS))
    parser.add_argument("--invitations", type=int, default=400)
    parser.add_argument("--limit-minutes", type=float, default=25)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the processes on the way out
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"no such scenario: {', '.join(sorted(unknown))}")
    configure_environment()
    fresh_database()
    import django

    django.setup()
    from django.db import connection

    from config.celery import app
    from tests.notifications.conftest import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio

    load = os.getloadavg()
    print(
        f"Database: {connection.vendor} ({connection.settings_dict['NAME']}); "
        f"broker: {app.conf.broker_url}; load average {load[0]:.1f} on {os.cpu_count()} cores"
    )
    for scenario in args.scenarios or SCENARIOS:
        fake = FakeTwilio()
        fake.thread.start()
        env = {
            **os.environ,
            "SMS_TRANSPORT": "twilio",
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": FROM_NUMBER,
            "TWILIO_MESSAGING_SERVICE_SID": "",
            "TWILIO_API_URL": fake.url,
            "PITLANE_VAR_DIR": str(BENCH_DIR),
        }
        os.environ.update({k: v for k, v in env.items() if k.startswith(("SMS_", "TWILIO_"))})
        from django.conf import settings

        for key in ("SMS_TRANSPORT", "TWILIO_API_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
            setattr(settings, key, env[key])
        settings.TWILIO_FROM_NUMBER = FROM_NUMBER
        for log in BENCH_DIR.glob(f"{scenario}-*.log"):
            log.unlink()
        clear_data()
        purge()
        ctx = Context(scenario, env, fake, args.invitations, args.limit_minutes * 60)
        try:
            RUNNERS[scenario](ctx)
        finally:
            ctx.processes.stop()
            fake.release()
            fake.server.shutdown()
            fake.server.server_close()
            purge()
            print(f"  (load average now {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
