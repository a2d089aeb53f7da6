"""DMS import benchmark: 100,000 CSV rows (20,000 appointments of five work lines each).

    uv run python -m benchmarks.import                        # SQLite under var/bench/
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pitlane_bench \\
        uv run python -m benchmarks.import

The database named is dropped and created afresh. Writes the CSV under var/bench/, then
imports it three times, each in a process of its own so its peak memory is its own:
a fifth of the file (to compare memory with), the whole file, and the whole file again.
Prints rows per second and the peak resident memory of each run, and the number of SQL
statements that wrote anything during the re-import (none is the aim).
"""

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from benchmarks.database import fresh_database

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = ROOT / "var" / "bench"
SLUG = "benchmark-motors"
LINES_PER_APPOINTMENT = 5


def configure_environment() -> None:
    os.environ.setdefault("PITLANE_VAR_DIR", str(BENCH_DIR))
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-" + "x" * 40)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{BENCH_DIR / 'import.sqlite3'}")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["LOG_LEVEL"] = "WARNING"
    BENCH_DIR.mkdir(parents=True, exist_ok=True)


def write_csv(path: Path, appointments: int, first_day: date) -> int:
    """Appointments over 60 days from `first_day`; 3 in 4 customers come once, the rest
    have two cars' worth of visits; every car has a VIN."""
    from integrations.imports import COLUMNS

    rows = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(COLUMNS)
        for n in range(appointments):
            day = first_day + timedelta(days=n % 60)
            hour = 7 + (n // 60) % 10
            customer = n if n % 4 else n // 4
            values = {
                "reference": f"WO-{n:06d}",
                "starts_at": f"{day.isoformat()}T{hour:02d}:00",
                "ends_at": f"{day.isoformat()}T{hour:02d}:45",
                "status": "scheduled",
                "customer_number": f"C-{customer:06d}",
                "customer_name": f"Klant{customer} Achternaam{customer}",
                "phone": f"0470 {customer % 1000000:06d}",
                "email": f"klant{customer}@example.com",
                "language": ("nl", "fr", "en")[customer % 3],
                "preferred_channel": "sms",
                "plate": f"1-{n % 1000:03d}-{n // 1000:03d}",
                "vin": f"WVWZZZ1KZA{n:07d}",
                "make": "Volkswagen",
                "model": "Golf",
                "year": str(2010 + n % 15),
                "mileage": str(10000 + n),
                "advisor": "",
                "work_notes": "",
            }
            for line in range(LINES_PER_APPOINTMENT):
                values["work_description"] = f"Werk {line + 1}"
                values["work_price"] = f"{40 + line},{n % 100:02d}"
                writer.writerow([values[name] for name in COLUMNS])
                rows += 1
    return rows


def run_import(path: str) -> None:
    """One import, in this process: prints a JSON line with the figures."""
    import django

    django.setup()
    from django.db import connection

    from integrations.csvfile import CsvReader
    from integrations.imports import Outcome, import_appointments
    from workshop.models import Dealership

    writes = 0

    def count_writes(execute, sql, params, many, context):
        nonlocal writes
        if sql.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes += 1
        return execute(sql, params, many, context)

    dealership = Dealership.objects.get(slug=SLUG)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with connection.execute_wrapper(count_writes), open(path, "rb") as stream:
        outcome = Outcome()
        outcome = import_appointments(dealership, CsvReader(stream, outcome), outcome=outcome)
    seconds = time.perf_counter() - started
    assert outcome.applied, [str(p) for p in outcome.problems[:5]]
    print(
        json.dumps(
            {
                "appointments": outcome.total,
                "counts": outcome.counts,
                "seconds": seconds,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "rss_before_mb": before / 1024,
                "writes": writes,
            }
        )
    )


def setup_database() -> None:
    import django

    django.setup()
    from django.core.management import call_command

    from workshop.models import Dealership

    call_command("migrate", verbosity=0)
    Dealership.objects.create(
        name="Benchmark Motors",
        slug=SLUG,
        street="Kortrijksesteenweg 1",
        postal_code="9000",
        city="Gent",
        country="BE",
        phone="+3292101010",
        email="service@benchmark.example",
    )


def child(*args: str) -> dict:
    """Runs this module with `args` in a process of its own; its JSON line, if any."""
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.import", *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    lines = result.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def report(label: str, rows: int, figures: dict) -> None:
    print(
        f"{label:<34} {rows:>7} rows in {figures['seconds']:6.1f} s = "
        f"{rows / figures['seconds']:7.0f} rows/s; peak memory {figures['peak_rss_mb']:5.0f} MB "
        f"(at start {figures['rss_before_mb']:4.0f} MB); {figures['writes']} writing statements; "
        f"{figures['counts']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--appointments", type=int, default=20_000)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--setup", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    configure_environment()
    if options.run:
        return run_import(options.run)
    if options.setup:
        return setup_database()

    import django

    django.setup()  # for the column names; the database is used by the runs only
    first_day = date.today() + timedelta(days=30)
    small, large = BENCH_DIR / "import-small.csv", BENCH_DIR / "import.csv"
    small_rows = write_csv(small, options.appointments // 5, first_day)
    rows = write_csv(large, options.appointments, first_day)
    print(f"Database: {os.environ['DATABASE_URL'].split('@')[-1]}")
    print(
        f"File: {rows} rows, {options.appointments} appointments, {large.stat().st_size >> 20} MB"
    )

    fresh_database()
    child("--setup")
    report("a fifth of the file, new", small_rows, child("--run", str(small)))
    fresh_database()
    child("--setup")
    report("the whole file, new", rows, child("--run", str(large)))
    report("the whole file again (no changes)", rows, child("--run", str(large)))


if __name__ == "__main__":
    main()
