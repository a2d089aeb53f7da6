import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from config import demo_env, env

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


def _manage(
    *args: str, without: tuple[str, ...] = (), **env_vars: str
) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(
            ("SECURE_", "SESSION_", "CSRF_", "DEBUG", "HTTPS", "STATIC_MANIFEST", "DJANGO_ALLOW")
        )
        and key not in ("PORT", "SITE_URL", *without)
    }
    environment["PITLANE_ENV_FILE"] = ""  # no developer's .env
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


def _settings(*names: str, without: tuple[str, ...] = (), **env_vars: str) -> dict:
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n, None) for n in {list(names)!r}}}, default=str))"
    )
    result = _manage("shell", "-c", code, without=without, **env_vars)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_sites_own_url_follows_the_port_it_serves_on():
    found = _settings("SITE_URL", "CSRF_TRUSTED_ORIGINS", PORT="8110")
    assert found == {
        "SITE_URL": "http://127.0.0.1:8110",
        "CSRF_TRUSTED_ORIGINS": ["http://127.0.0.1:8110"],
    }
    named = _settings("SITE_URL", PORT="8110", SITE_URL="https://checkin.example.com/")
    assert named["SITE_URL"] == "https://checkin.example.com"


SECURITY = (
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_PROXY_SSL_HEADER",
)


def test_production_security_is_switched_by_https_not_by_debug():
    with_debug = _settings(*SECURITY, DEBUG="true")
    assert with_debug == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }
    plain_http = _settings(*SECURITY, HTTPS="false")
    assert plain_http == {
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_PROXY_SSL_HEADER": None,
    }


def test_the_demos_env_file_runs_it_like_production_over_plain_http(tmp_path):
    env_file = tmp_path / ".env"
    written = demo_env.write_demo_env(env_file, port=8123)
    found = _settings(
        "DEBUG",
        "DEMO_MODE",
        "SECRET_KEY",
        "SITE_URL",
        "ALLOWED_HOSTS",
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "STORAGES",
        without=("SECRET_KEY", "ALLOWED_HOSTS", "DEMO_MODE"),
        PITLANE_ENV_FILE=str(env_file),
    )
    assert found["DEBUG"] is False
    assert found["DEMO_MODE"] is True
    assert found["SECRET_KEY"] == written["SECRET_KEY"]
    assert len(found["SECRET_KEY"]) >= 50
    assert found["SITE_URL"] == "http://127.0.0.1:8123"
    assert found["ALLOWED_HOSTS"] == ["*"]  # a phone on the same network may open it
    assert found["SECURE_SSL_REDIRECT"] is False
    assert found["SESSION_COOKIE_SECURE"] is False
    assert found["STORAGES"]["staticfiles"]["BACKEND"] == (
        "whitenoise.storage.CompressedManifestStaticFilesStorage"
    )


def test_each_make_run_records_its_port_and_keeps_the_secret_key_and_other_lines(tmp_path):
    env_file = tmp_path / ".env"
    first = demo_env.write_demo_env(env_file, port=8000)
    with env_file.open("a") as extra:
        extra.write("LOG_LEVEL=DEBUG\n")
    second = demo_env.write_demo_env(env_file, port=8110, site_url="http://192.0.2.2:8110")
    assert second["SECRET_KEY"] == first["SECRET_KEY"]
    assert (second["PORT"], second["SITE_URL"], second["LOG_LEVEL"]) == (
        "8110",
        "http://192.0.2.2:8110",
        "DEBUG",
    )
    third = demo_env.write_demo_env(env_file, port=8123)
    assert third["PORT"] == "8123"
    assert "SITE_URL" not in third  # the port decides the links again
    assert env_file.stat().st_mode & 0o777 == 0o600


def test_env_example_lists_every_variable_the_settings_read_in_their_order():
    read = re.findall(
        r'env_(?:str|int|bool|list|url|choice)\(\s*"([A-Z0-9_]+)"',
        (ROOT / "config" / "settings.py").read_text(),
    )
    listed = re.findall(r"^([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE)
    assert len(read) > 60
    assert listed == read


def test_the_lists_poll_answers_from_the_cache_only_when_every_process_shares_it():
    shared = _settings("DAYLIST_POLL_CACHE", CACHE_URL="redis://127.0.0.1:6379/2")
    assert shared == {"DAYLIST_POLL_CACHE": True}
    assert _settings("DAYLIST_POLL_CACHE", without=("CACHE_URL",)) == {"DAYLIST_POLL_CACHE": False}
