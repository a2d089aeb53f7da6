"""Dispatch benchmark: 1,000,000 appointments of which 10,000 are due for their invitation.

    uv run python -m benchmarks.dispatch                      # SQLite under var/bench/
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pitlane_bench \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/9 uv run python -m benchmarks.dispatch

The database named is dropped and created afresh. Prints the time to seed, the time
and the SQL queries to scan and queue the due invitations, and the end-to-end send
rate (dispatch to the last message recorded as sent, by a real Celery worker with the
recording SMS transport) next to a no-op Celery task's rate on the same broker and
worker; each figure with its goal and the figure before batches (issue 10).
"""

import argparse
import os
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.database import fresh_database

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = ROOT / "var" / "bench"
# Issue 10: PostgreSQL + Redis, solo worker, before sending in batches (2026-11-25).
GOAL_DISPATCH_SECONDS, BEFORE_DISPATCH_SECONDS = 10.0, 59.7
GOAL_RATIO, BEFORE_RATIO = 0.5, 0.16


def configure_environment() -> None:
    os.environ.setdefault("PITLANE_VAR_DIR", str(BENCH_DIR))
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-" + "x" * 40)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{BENCH_DIR / 'dispatch.sqlite3'}")
    os.environ["SMS_TRANSPORT"] = "record"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["LOG_LEVEL"] = "WARNING"
    BENCH_DIR.mkdir(parents=True, exist_ok=True)


def seed(total: int, due: int, now: datetime) -> None:
    """`due` appointments in the next two days, not yet invited; half the rest in the
    past (done, invited), half from five days ahead on (not due yet)."""
    from datetime import time as clock

    from django.db import connection, transaction

    from workshop.models import Customer, Dealership, Vehicle

    dealership = Dealership.objects.create(
        name="Benchmark Motors",
        slug="benchmark-motors",
        street="Kortrijksesteenweg 1",
        postal_code="9000",
        city="Gent",
        country="BE",
        phone="+3292101010",
        email="service@benchmark.example",
        # Sends at any hour, so the benchmark runs whenever it is run.
        sending_starts=clock(0, 0),
        sending_ends=clock(23, 59, 59),
        sending_days="1234567",
    )
    people = 10_000
    languages = ["nl", "fr", "en", "de"]
    Customer.objects.bulk_create(
        (
            Customer(
                dealership=dealership,
                first_name=f"Klant{i}",
                last_name="Benchmark",
                email=f"klant{i}@example.com",
                phone=f"+3247{i:07d}",
                preferred_channel="sms",
                language=languages[i % 4],
            )
            for i in range(people)
        ),
        batch_size=2000,
    )
    Vehicle.objects.bulk_create(
        (
            Vehicle(dealership=dealership, plate=f"1-BEN-{i:04d}", make="Volkswagen", model="Golf")
            for i in range(people)
        ),
        batch_size=2000,
    )
    first_customer = Customer.objects.order_by("pk").values_list("pk", flat=True).first()
    first_vehicle = Vehicle.objects.order_by("pk").values_list("pk", flat=True).first()
    rest = total - due
    sqlite = connection.vendor == "sqlite"
    series = (
        "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < %s) "
        if sqlite
        else ""
    )
    source = "seq" if sqlite else "generate_series(1, %s) AS seq(n)"

    def at(seconds_sql: str) -> str:
        if sqlite:
            return f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', %s, ({seconds_sql}) || ' seconds')"
        return f"(%s::timestamptz + ({seconds_sql}) * interval '1 second')"

    # start offset in seconds from now, by row number n
    start = (
        f"CASE WHEN n <= {due} THEN 3600 + n * 15 "
        f"WHEN n <= {due + rest // 2} THEN -86400 - (n %% 400) * 86400 - (n %% 480) * 60 "
        f"ELSE 5 * 86400 + (n - {due + rest // 2}) * 30 END"
    )
    status = f"CASE WHEN n > {due} AND n <= {due + rest // 2} THEN 'done' ELSE 'scheduled' END"
    now_text = now.strftime("%Y-%m-%d %H:%M:%S") if sqlite else now.isoformat()
    insert = (
        series
        + "INSERT INTO workshop_appointment (dealership_id, customer_id, vehicle_id, starts_at, "
        "ends_at, status, external_ref, confirmation, cancelled_by, cancel_reason, moves, "
        "created_at, updated_at) "
        f"SELECT %s, %s + (n %% {people}), %s + (n %% {people}), {at(start)}, "
        f"{at(start + ' + 3600')}, {status}, 'B' || n, '', '', '', 0, %s, %s FROM {source}"
    )
    params = [total] if sqlite else []
    params += [dealership.pk, first_customer, first_vehicle, now_text, now_text, now, now]
    if not sqlite:
        params.append(total)
    selector = "printf('%%08d', id)" if sqlite else "lpad(id::text, 8, '0')"
    past = "(SELECT id FROM workshop_appointment WHERE status = 'done')"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(insert, params)
        cursor.execute(
            "INSERT INTO workshop_onlinecheckin (appointment_id, link_selector, link_verifier, "
            "invitation_status, invited_at) "
            f"SELECT id, {selector}, 'bench-verifier-0123', "
            f"CASE WHEN id IN {past} THEN 'delivered' ELSE 'not_due' END, "
            f"CASE WHEN id IN {past} THEN starts_at ELSE NULL END "
            "FROM workshop_appointment",
            [],
        )
    if not sqlite:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def start_worker(log: Path, pool: str, concurrency: int) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool",
        pool,
        "--loglevel",
        "WARNING",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    if pool == "prefork":
        command += ["--concurrency", str(concurrency)]
    return subprocess.Popen(
        command, cwd=ROOT, env=os.environ.copy(), stdout=log.open("w"), stderr=subprocess.STDOUT
    )


def round_trip() -> None:
    from config.celery import ping

    token = secrets.token_hex(4)
    assert ping.delay(token).get(timeout=300) == f"pong {token}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--appointments", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--pool", default="solo", choices=["solo", "prefork"])
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()

    configure_environment()
    fresh_database()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from config.celery import app
    from notifications import compose, invitations
    from notifications.models import Message
    from notifications.tasks import noop

    call_command("migrate", verbosity=0)
    app.control.purge()
    database = connection.vendor
    print(
        f"Database: {database} ({connection.settings_dict['NAME']}); broker: {app.conf.broker_url}"
    )

    now = datetime.now(UTC)
    began = time.perf_counter()
    seed(args.appointments, args.due, now)
    print(
        f"Seeded {args.appointments:,} appointments ({args.due:,} due) "
        f"in {time.perf_counter() - began:.1f} s"
    )

    log = BENCH_DIR / "worker.log"
    worker = start_worker(log, args.pool, args.concurrency)
    try:
        round_trip()  # the worker is up and listening
        print(
            f"Worker: --pool {args.pool}"
            + (f" --concurrency {args.concurrency}" if args.pool == "prefork" else "")
        )

        began = time.perf_counter()
        with CaptureQueriesContext(connection) as queries:
            queued = invitations.dispatch_due_invitations()
        dispatched = time.perf_counter() - began
        batches = -(-len(queued) // invitations.BATCH_SIZE)
        print(
            f"Dispatch: scanned and queued {len(queued):,} invitations in {dispatched:.2f} s "
            f"with {len(queries.captured_queries)} SQL queries "
            f"({batches} batches of up to {invitations.BATCH_SIZE}, "
            f"{-(-len(queued) // compose.SEND_BATCH)} send tasks) "
            f"[goal < {GOAL_DISPATCH_SECONDS:.0f} s; before {BEFORE_DISPATCH_SECONDS} s]"
        )
        assert len(queued) == args.due
        kinds: dict[str, int] = {}
        for query in queries.captured_queries:
            kind = query["sql"].split()[0].upper()
            kinds[kind] = kinds.get(kind, 0) + 1
        print("  queries by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))

        sent = Message.objects.filter(status=Message.Status.SENT)
        while sent.count() < args.due:
            time.sleep(0.25)
        end_to_end = time.perf_counter() - began
        assert Message.objects.count() == args.due
        assert Message.objects.values("appointment").distinct().count() == args.due
        send_rate = args.due / end_to_end
        print(
            f"Send: {args.due:,} messages dispatched and recorded as sent in {end_to_end:.1f} s "
            f"= {send_rate:,.0f} messages/s"
        )

        began = time.perf_counter()
        for number in range(args.due):
            noop.delay(number)
        round_trip()  # behind every no-op in the queue
        baseline = time.perf_counter() - began
        noop_rate = args.due / baseline
        print(
            f"No-op: {args.due:,} tasks through the same broker and worker in {baseline:.1f} s = {noop_rate:,.0f} tasks/s"
        )
        print(
            f"Send rate / no-op rate: {send_rate / noop_rate:.2f} "
            f"[goal >= {GOAL_RATIO}; before {BEFORE_RATIO}]"
        )
    finally:
        worker.terminate()
        worker.wait(30)


if __name__ == "__main__":
    main()
