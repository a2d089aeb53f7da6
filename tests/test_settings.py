import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from config import env

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("reader", "value", "message"),
    [
        (lambda: env.env_bool("PITLANE_FLAG"), "perhaps", "PITLANE_FLAG must be true or false"),
        (lambda: env.env_int("PITLANE_NUMBER", 1), "ten", "PITLANE_NUMBER must be a whole number"),
        (
            lambda: env.env_int("PITLANE_NUMBER", 1, minimum=5),
            "2",
            "PITLANE_NUMBER must be at least 5",
        ),
        (
            lambda: env.env_url("PITLANE_URL", schemes=("redis",)),
            "http://x",
            "PITLANE_URL must start with one of redis://",
        ),
        (
            lambda: env.env_url("PITLANE_URL", schemes=("redis",)),
            "redis://",
            "PITLANE_URL has no host",
        ),
        (
            lambda: env.env_choice("PITLANE_CHOICE", "a", ("a", "b")),
            "c",
            "PITLANE_CHOICE must be one of a, b",
        ),
    ],
)
def test_a_malformed_variable_fails_naming_it(monkeypatch, reader, value, message):
    name = message.split()[0]
    monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=message):
        reader()


def test_well_formed_variables_are_read(monkeypatch):
    monkeypatch.setenv("PITLANE_FLAG", "Yes")
    monkeypatch.setenv("PITLANE_LIST", "a.example, b.example,")
    assert env.env_bool("PITLANE_FLAG") is True
    assert env.env_list("PITLANE_LIST", []) == ["a.example", "b.example"]
    assert env.env_int("PITLANE_UNSET_NUMBER", 7) == 7


def test_the_settings_that_matter_are_in_effect():
    assert settings.TIME_ZONE == "Europe/Brussels"
    assert settings.USE_TZ is True
    assert [code for code, _ in settings.LANGUAGES] == ["en", "nl", "fr", "de"]
    assert settings.PHONENUMBER_DB_FORMAT == "E164"
    # Uploads past 256 KB are streamed to a temporary file, not held in memory.
    assert settings.FILE_UPLOAD_MAX_MEMORY_SIZE == 256 * 1024
    assert settings.CHECKIN_MAX_FILES_PER_REMARK == 10
    assert settings.CHECKIN_MAX_PHOTO_BYTES == 25 * 1024 * 1024
    assert settings.CHECKIN_MAX_VIDEO_BYTES == 200 * 1024 * 1024
    # Exactly-once delivery relies on late acknowledgement.
    from config.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    assert "axes.backends.AxesStandaloneBackend" in settings.AUTHENTICATION_BACKENDS
    assert settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["script-src"] == ["'self'"]


def test_the_broker_and_database_come_from_the_environment():
    from config.celery import app

    broker = os.environ.get("CELERY_BROKER_URL", "filesystem://")
    assert app.conf.broker_url == broker
    expected_engine = (
        "django.db.backends.postgresql"
        if os.environ.get("DATABASE_URL", "").startswith("postgres")
        else "django.db.backends.sqlite3"
    )
    assert settings.DATABASES["default"]["ENGINE"] == expected_engine


def _manage(*args: str, **env_vars: str) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            ("SECURE_", "SESSION_", "CSRF_", "DEBUG", "STATIC_MANIFEST", "DJANGO_ALLOW")
        )
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


def test_production_settings_pass_the_deploy_check():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY="a-long-and-random-production-secret-key-0123456789-abcdefghijklmnop",
        ALLOWED_HOSTS="pitlane.example.com",
        SITE_URL="https://pitlane.example.com",
        DATABASE_URL="postgres://pitlane@db.example.com:5432/pitlane",
        CACHE_URL="redis://cache.example.com:6379/2",
        DEMO_MODE="false",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage("check", SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr


def test_a_malformed_database_url_stops_start_up_naming_it():
    result = _manage("check", DATABASE_URL="mysql://db.example/pitlane")
    assert result.returncode != 0
    assert "DATABASE_URL must start with one of" in result.stderr
