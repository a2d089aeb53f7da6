"""`manage.py check --deploy` names what is not fit for production in our own settings."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "SECRET_KEY": "a-long-and-random-production-secret-key-0123456789-abcdefghijklmnop",
    "ALLOWED_HOSTS": "pitlane.example.com",
    "SITE_URL": "https://pitlane.example.com",
    "DATABASE_URL": "postgres://pitlane@db.example.com:5432/pitlane",
    "CACHE_URL": "redis://cache.example.com:6379/2",
    "DEMO_MODE": "false",
}


def manage(*args: str, **env_vars: str) -> subprocess.CompletedProcess:
    """manage.py in its own process, on the variables given and none from this run."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key in {"PATH", "HOME", "LANG", "PITLANE_VAR_DIR", "VIRTUAL_ENV"}
    }
    environment.update(env_vars)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_deploy_check_warns_about_the_demo_defaults():
    demo = {**PRODUCTION, "DEMO_MODE": "true", "SITE_URL": "http://pitlane.example.com"}
    del demo["DATABASE_URL"], demo["CACHE_URL"]  # the embedded SQLite and local memory
    result = manage("check", "--deploy", **demo)
    out = result.stdout + result.stderr
    assert "pitlane.W001" in out
    assert "DEMO_MODE is on" in out
    assert "pitlane.W002" in out
    assert "SQLite" in out
    assert "pitlane.W003" in out
    assert "SITE_URL" in out
    assert "pitlane.W004" in out
    assert "not shared" in out


def test_the_embedded_demo_passes_the_plain_check_quietly():
    result = manage("check", "--fail-level", "WARNING", DEBUG="true", DEMO_MODE="true")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_raise_none_of_our_warnings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pitlane." not in result.stdout + result.stderr
