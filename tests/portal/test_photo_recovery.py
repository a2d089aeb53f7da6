"""Every photo and video ends ready or rejected without a person: checks whose task was
lost, or whose worker died, are found by the sweep and checked again."""

import io
import signal
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from PIL import Image

from portal.uploads import processing, storing
from tests.conftest import start_celery_worker, stop_celery_worker, wait_until
from tests.portal import media
from tests.portal.uploads_support import new_draft_remark, stored_files, uploaded
from workshop.models import Attachment

State = Attachment.State


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def checking(db, media_root):
    """A photo stored and waiting for its check, whose task never ran."""
    return storing.store_upload(new_draft_remark(), uploaded("IMG_2041.jpg", media.jpeg_with_gps()))


def state(attachment: Attachment) -> str:
    attachment.refresh_from_db()
    return attachment.state


@pytest.mark.django_db
def test_a_photo_whose_check_task_was_lost_is_checked_after_a_minute(
    checking, eager_tasks, django_capture_on_commit_callbacks
):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        traveller.shift(timedelta(seconds=50))
        assert processing.sweep() == (0, 0, 0)  # its task may still be on its way
        traveller.shift(timedelta(seconds=15))
        assert processing.sweep() == (1, 0, 0)

    checking.refresh_from_db()
    assert checking.state == State.READY
    assert checking.check_started_at is None
    assert checking.checks_interrupted == 0


@pytest.mark.django_db
def test_a_photo_whose_worker_died_mid_check_is_checked_again(checking, eager_tasks, settings):
    # A worker claimed the check a while ago, and never finished it.
    started = timezone.now() - timedelta(seconds=settings.ATTACHMENT_CHECK_SECONDS + 11)
    Attachment.objects.filter(pk=checking.pk).update(check_started_at=started)
    assert processing.process_attachment(checking.pk) == ""  # a second task: not while it runs

    assert processing.sweep() == (1, 1, 0)

    checking.refresh_from_db()
    assert checking.state == State.READY
    assert checking.checks_interrupted == 1


@pytest.mark.django_db
def test_a_check_that_is_running_is_left_alone(checking, settings):
    started = timezone.now() - timedelta(seconds=settings.ATTACHMENT_CHECK_SECONDS - 5)
    Attachment.objects.filter(pk=checking.pk).update(check_started_at=started)

    assert processing.process_attachment(checking.pk) == ""
    assert processing.sweep(timezone.now() + timedelta(seconds=5)) == (0, 0, 0)
    assert state(checking) == State.CHECKING


@pytest.mark.django_db
def test_a_file_that_keeps_killing_its_workers_is_rejected_after_three_tries(
    checking, media_root, settings
):
    assert settings.ATTACHMENT_CHECK_MAX_INTERRUPTIONS == 3
    started = timezone.now() - timedelta(minutes=5)
    Attachment.objects.filter(pk=checking.pk).update(check_started_at=started, checks_interrupted=2)

    assert processing.sweep() == (0, 1, 1)

    checking.refresh_from_db()
    assert checking.state == State.REJECTED
    assert checking.rejection_reason == "This file could not be checked."
    assert checking.checks_interrupted == 3
    assert stored_files(media_root) == []


def slow_photo() -> bytes:
    """A 24-megapixel JPEG of noise: seconds to check, long enough to kill the worker."""
    out = io.BytesIO()
    Image.effect_noise((6000, 4000), 40).convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_a_photo_whose_worker_is_killed_mid_check_ends_ready_without_a_person(
    celery_worker_process,
):
    remark = new_draft_remark()
    attachment = storing.store_upload(remark, uploaded("IMG_0001.jpg", slow_photo()))
    wait_until(
        lambda: Attachment.objects.filter(
            pk=attachment.pk, check_started_at__isnull=False
        ).exists(),
        what="a worker to start the check",
    )

    celery_worker_process.send_signal(signal.SIGKILL)  # mid-check, no goodbye
    celery_worker_process.wait(10)
    assert state(attachment) == State.CHECKING

    restarted = start_celery_worker()
    try:
        # A minute later, the sweep (beat runs it every SWEEP_SECONDS).
        assert processing.sweep(timezone.now() + timedelta(minutes=2)) == (1, 1, 0)
        wait_until(lambda: state(attachment) != State.CHECKING, what="the check to end")
    finally:
        stop_celery_worker(restarted)
    attachment.refresh_from_db()
    assert attachment.state == State.READY
    assert attachment.checks_interrupted == 1
    for name in (attachment.file.name, attachment.thumbnail.name):
        attachment.file.storage.delete(name)  # the media folder the worker shares
