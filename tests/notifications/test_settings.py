import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def test_the_notification_settings_are_in_effect():
    assert settings.MESSAGE_RETRY_SECONDS == 30
    assert settings.MESSAGE_MAX_ATTEMPTS == 5
    assert settings.MESSAGE_SENDING_TIMEOUT_MINUTES == 10
    assert settings.SMS_TRANSPORT == "record"
    assert "notifications.dispatch" in [
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    ]
    if not settings.CELERY_BROKER_URL.startswith("filesystem"):
        assert "visibility_timeout" in settings.CELERY_BROKER_TRANSPORT_OPTIONS


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
