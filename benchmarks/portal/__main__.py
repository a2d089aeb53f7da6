"""Customer page benchmark: the check-in welcome page against a bare view, under gunicorn.

    uv run python -m benchmarks.portal                        # SQLite, local-memory cache
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pitlane_bench \\
    CACHE_URL=redis://127.0.0.1:6379/5 uv run python -m benchmarks.portal

The database named is dropped and created afresh and the demo seeded into it. gunicorn
then serves the app as `make run` does (DEBUG off, plain http, hashed and compressed
static files, the Procfile's workers and threads), and ApacheBench (`ab`, Debian's
apache2-utils) sends a fixed number of requests from 127.0.0.1 to the welcome page of an
upcoming appointment's link and to a bare view (a benchmark-only URL that returns "ok"
through the same middleware), alternately, three runs each. Prints the median requests
per second of both and their ratio.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from benchmarks.database import fresh_database

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = ROOT / "var" / "bench" / "portal"
GOAL = 0.3


def configure_environment(port: int) -> None:
    os.environ.update(
        {
            "PITLANE_ENV_FILE": "",
            "PITLANE_VAR_DIR": str(BENCH_DIR),
            "DJANGO_SETTINGS_MODULE": "benchmarks.portal.settings",
            "SECRET_KEY": "benchmark-only-secret-key-" + "x" * 40,
            "DEBUG": "false",
            "HTTPS": "false",
            "DEMO_MODE": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SITE_URL": f"http://127.0.0.1:{port}",
            "LOG_LEVEL": "WARNING",
            # Every request from the one address still goes through the limit (and its
            # cache round trip); it is just never reached.
            "PORTAL_REQUESTS_PER_MINUTE": str(10**9),
        }
    )
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{BENCH_DIR / 'portal.sqlite3'}")
    BENCH_DIR.mkdir(parents=True, exist_ok=True)


def prepare() -> str:
    """Migrates, collects static files, seeds the demo; the path of an open link."""
    import django

    django.setup()
    from datetime import timedelta

    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from workshop.demo import Seeder
    from workshop.models import Appointment

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    Seeder().run()
    appointment = (
        Appointment.objects.upcoming()
        .filter(starts_at__gt=timezone.now() + timedelta(days=2), checkin__answered_at=None)
        .select_related("checkin")
        .order_by("starts_at")
        .first()
    )
    assert appointment is not None, "the demo has no upcoming appointment"
    print(f"Database: {connection.vendor} ({connection.settings_dict['NAME']})")
    connection.close()
    return f"/c/{appointment.checkin.token}"


def start_server(port: int, workers: int, threads: int) -> subprocess.Popen:
    log = (BENCH_DIR / "gunicorn.log").open("w")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def get(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200, (url, response.status)
        return response.read()


def wait_until_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            get(url)
            return
        except OSError as error:
            if time.monotonic() > deadline:
                log = BENCH_DIR / "gunicorn.log"
                raise SystemExit(f"gunicorn did not answer on {url}; see {log}") from error
            time.sleep(0.3)


def requests_per_second(url: str, count: int, concurrency: int) -> float:
    """ab's requests per second; every response must be a 200.

    Lengths differ by design: Django's GZipMiddleware pads each response at random
    (against BREACH), so ab's "length" failures are not counted as failures here.
    """
    result = subprocess.run(
        ["ab", "-q", "-n", str(count), "-c", str(concurrency), "-H", "Accept-Encoding: gzip", url],
        capture_output=True,
        text=True,
        check=True,
    )
    out = result.stdout
    failed = re.search(r"Connect: (\d+), Receive: (\d+), Length: \d+, Exceptions: (\d+)", out)
    assert failed is None or failed.groups() == ("0", "0", "0"), out
    assert "Non-2xx responses" not in out, out
    rate = re.search(r"^Requests per second:\s+([\d.]+)", out, re.M)
    assert rate, out
    return float(rate.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8151)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--page-requests", type=int, default=1000)
    parser.add_argument("--bare-requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=8)
    # As Procfile.demo runs the web process.
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    if not shutil.which("ab"):
        raise SystemExit("Needs ApacheBench: apt-get install apache2-utils")

    configure_environment(args.port)
    fresh_database()
    page_path = prepare()
    base = f"http://127.0.0.1:{args.port}"
    page, bare = base + page_path + "/", base + "/benchmark/bare/"
    load_before = os.getloadavg()
    server = start_server(args.port, args.workers, args.threads)
    try:
        wait_until_up(bare)
        # Rendered and kept (portal.kept_pages); the later ones are served from it.
        size = len(get(page))
        for _ in range(20):  # every thread's connections open, templates loaded
            get(page)
            get(bare)
        print(
            f"gunicorn: {args.workers} worker(s) x {args.threads} thread(s); "
            f"ab: -c {args.concurrency}, {args.page_requests} page / {args.bare_requests} bare "
            f"requests a run; welcome page {size / 1024:.1f} KB gzipped"
        )
        kept = os.environ.get("PORTAL_KEPT_PAGES", "1000")
        postgres = os.environ["DATABASE_URL"].startswith("postgres")
        print(
            f"Kept welcome pages (portal.kept_pages): {kept if postgres else 'none on SQLite'}"
            " (PORTAL_KEPT_PAGES=0 renders every request)"
        )
        pages, bares = [], []
        for run in range(args.runs):
            pages.append(requests_per_second(page, args.page_requests, args.concurrency))
            bares.append(requests_per_second(bare, args.bare_requests, args.concurrency))
            print(
                f"  run {run + 1}: welcome page {pages[-1]:7.1f} /s   bare view {bares[-1]:7.1f} /s"
                f"   ratio {pages[-1] / bares[-1]:.2f}"
            )
    finally:
        server.terminate()
        server.wait(30)
    load_after = os.getloadavg()
    page_rate, bare_rate = statistics.median(pages), statistics.median(bares)
    print(f"Welcome page: {page_rate:.1f} req/s (median of {args.runs})")
    print(f"Bare view:    {bare_rate:.1f} req/s (median of {args.runs})")
    print(f"Page / bare:  {page_rate / bare_rate:.2f} (goal {GOAL})")
    print(f"Load average: {load_before[0]:.2f} before, {load_after[0]:.2f} after (1 min)")


if __name__ == "__main__":
    main()
