"""Lighthouse (mobile) against a seeded appointment's check-in link, on production-like settings.

Starts the app as production would run it (DEBUG off, collected and compressed static
files, gunicorn) on 127.0.0.1 with a throw-away var dir and SQLite, seeds the demo, runs
Lighthouse 12 from npm in Debian's Chromium, and prints the performance and
accessibility scores and the bytes transferred. See README.md.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUDGET_BYTES = 60 * 1024


def manage(env: dict, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def upcoming_reference(env: dict) -> tuple[str, str]:
    """A seeded appointment whose link is open: scheduled, a few days ahead."""
    code = (
        "from datetime import timedelta\n"
        "from django.utils import timezone\n"
        "from workshop.models import Appointment\n"
        "a = Appointment.objects.upcoming().filter(starts_at__gt=timezone.now() + timedelta(days=2))"
        ".select_related('dealership').order_by('starts_at').first()\n"
        "print(a.dealership.slug, a.external_ref)\n"
    )
    slug, ref = manage(env, "shell", "-c", code).split()[-2:]
    return slug, ref


def wait_until_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"The app did not answer on {url}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8101)))
    parser.add_argument("--chrome", default=os.environ.get("CHROME_PATH", "/usr/bin/chromium"))
    parser.add_argument("--keep", action="store_true", help="keep the report and var dir")
    args = parser.parse_args()

    var_dir = Path(tempfile.mkdtemp(prefix="pitlane-lighthouse-"))
    base = f"http://127.0.0.1:{args.port}"
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "CACHE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")
        },
        "DEBUG": "false",
        "DEMO_MODE": "true",
        "SECRET_KEY": "lighthouse-benchmark-only-secret-key-0123456789-abcdefghij",
        "PITLANE_VAR_DIR": str(var_dir),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SITE_URL": base,
        # Plain http on localhost; everything else as in production.
        "HTTPS": "false",
        "PITLANE_ENV_FILE": "",
    }
    print(f"Preparing the app in {var_dir} …", flush=True)
    manage(env, "migrate", "--noinput", "-v0")
    manage(env, "seed_demo")
    manage(env, "collectstatic", "--noinput", "-v0")
    slug, ref = upcoming_reference(env)
    link = manage(env, "checkin_link", slug, ref).strip()

    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{args.port}",
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    report = var_dir / "lighthouse.json"
    try:
        wait_until_up(f"{base}/login/")
        print(f"Lighthouse (mobile) on the check-in page of {slug} {ref} …", flush=True)
        subprocess.run(
            [
                "npx",
                "--yes",
                "lighthouse@12",
                link,
                "--form-factor=mobile",
                "--only-categories=performance,accessibility",
                "--output=json",
                f"--output-path={report}",
                "--quiet",
                "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
            ],
            env={**os.environ, "CHROME_PATH": args.chrome},
            check=True,
        )
    finally:
        server.terminate()
        server.wait(timeout=20)

    result = json.loads(report.read_text())
    categories = result["categories"]
    requests = result["audits"]["network-requests"]["details"]["items"]
    total = sum(item.get("transferSize", 0) for item in requests)
    audits = result["audits"]
    print()
    print(f"Performance:    {round(categories['performance']['score'] * 100)}")
    print(f"Accessibility:  {round(categories['accessibility']['score'] * 100)}")
    print(f"First Contentful Paint: {audits['first-contentful-paint']['displayValue']}")
    print(f"Largest Contentful Paint: {audits['largest-contentful-paint']['displayValue']}")
    print(f"Total Blocking Time: {audits['total-blocking-time']['displayValue']}")
    print(f"Cumulative Layout Shift: {audits['cumulative-layout-shift']['displayValue']}")
    print(
        f"Transferred:    {total} bytes ({total / 1024:.1f} KB) in {len(requests)} requests "
        f"(budget {BUDGET_BYTES // 1024} KB: {'within' if total <= BUDGET_BYTES else 'OVER'})"
    )
    for item in requests:
        path = (
            item["url"].split("/c/")[0] + "/c/…"
            if "/c/" in item["url"] and "theme" not in item["url"]
            else item["url"]
        )
        print(f"  {item.get('transferSize', 0):>7}  {item.get('mimeType', '')[:24]:<24} {path}")
    if args.keep:
        print(f"Report kept: {report}")
    else:
        import shutil

        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
