import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def test_the_notification_settings_are_in_effect():
    assert settings.MESSAGE_RETRY_SECONDS == 30
    assert settings.MESSAGE_MAX_ATTEMPTS == 5
    assert settings.MESSAGE_SENDING_TIMEOUT_MINUTES == 2
    assert settings.SMS_TRANSPORT == "record"
    if not settings.CELERY_BROKER_URL.startswith("filesystem"):
        assert "visibility_timeout" in settings.CELERY_BROKER_TRANSPORT_OPTIONS


def test_lost_work_is_swept_up_every_half_minute_and_requeued_after_one():
    from config.celery import app

    schedule = {entry["task"]: entry for entry in app.conf.beat_schedule.values()}
    assert schedule["notifications.dispatch"]["schedule"] == timedelta(minutes=5)
    for sweep in ("notifications.sweep", "portal.sweep_attachments"):
        assert schedule[sweep]["schedule"] == timedelta(seconds=30)
        assert schedule[sweep]["options"] == {"expires": 30}
    assert settings.REQUEUE_AFTER_SECONDS == 60


def test_sending_has_a_queue_of_its_own_and_everything_else_the_default():
    from config.celery import app
    from notifications.tasks import dispatch, send_message, send_messages, sweep
    from portal.tasks import process_attachment, sweep_attachments

    router = app.amqp.router
    for task in (send_message, send_messages):
        assert router.route({}, task.name)["queue"].name == "send"
    for task in (dispatch, sweep, process_attachment, sweep_attachments):
        assert router.route({}, task.name)["queue"].name == "celery"
    assert {queue.name for queue in app.conf.task_queues} == {"celery", "send"}
    procfile = (ROOT / "Procfile.demo").read_text()
    assert "--queues send " in procfile
    assert "--queues celery " in procfile


def test_publishing_to_a_dead_broker_gives_up_within_seconds():
    from config.celery import app

    assert app.conf.broker_connection_timeout == 3
    assert app.conf.task_publish_retry_policy["max_retries"] == 1
    if not settings.CELERY_BROKER_URL.startswith("filesystem"):
        assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["socket_connect_timeout"] == 3
        assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["socket_timeout"] == 3


def test_database_connections_are_checked_before_reuse():
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True


def test_twilio_without_a_sender_stops_start_up_naming_what_is_missing():
    env = {
        **os.environ,
        "SMS_TRANSPORT": "twilio",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 30,
        "TWILIO_AUTH_TOKEN": "token",
        "TWILIO_FROM_NUMBER": "",
        "TWILIO_MESSAGING_SERVICE_SID": "",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM_NUMBER" in result.stderr


def test_beat_starts_on_a_fresh_machine_whatever_the_broker(tmp_path):
    """Beat keeps its schedule in a file under PITLANE_VAR_DIR/celery; on Redis nothing
    else makes that folder, and without it beat cannot start (no sweeps, no dispatch)."""
    env = {**os.environ, "PITLANE_VAR_DIR": str(tmp_path / "var")}
    schedule_folder = tmp_path / "var" / "celery"
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(schedule_folder.glob("beat-schedule*")):
            assert beat.poll() is None, beat.communicate()[0]
            assert time.monotonic() < deadline, "beat wrote no schedule"
            time.sleep(0.2)
    finally:
        beat.terminate()
        output = beat.communicate(timeout=30)[0]
    assert "corrupted schedule" not in output
