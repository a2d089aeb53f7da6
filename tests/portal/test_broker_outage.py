"""A broker that is down costs the customer nothing: the row is the truth, publishing the
task is best effort, and the sweeps do the work once the broker is back."""

import socket
import time
from datetime import timedelta

import pytest
import requests
from django.urls import reverse
from django.utils import timezone

from notifications import delivery
from notifications.models import Message
from portal.uploads import processing
from tests.conftest import closed_port_url, wait_until
from tests.portal import media
from tests.portal.uploads_support import new_draft_remark
from workshop.models import Attachment

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_upload_and_send_with_the_broker_down_answer_as_usual_and_get_done_later(
    web_server, celery_worker_process
):
    remark = new_draft_remark()
    token = remark.checkin.token
    site = web_server({"CELERY_BROKER_URL": closed_port_url()})  # its broker is down

    upload = requests.post(
        site.url + reverse("portal:upload", args=[token, remark.pk]),
        files={"files": ("IMG_2041.jpg", media.jpeg_with_gps(), "image/jpeg")},
        allow_redirects=False,
        timeout=30,
    )
    send = requests.post(
        site.url + reverse("portal:review", args=[token]), allow_redirects=False, timeout=30
    )

    assert upload.status_code == 302, upload.text
    assert send.status_code == 302, send.text
    assert send.headers["Location"] == reverse("portal:done", args=[token])
    attachment = Attachment.objects.get(item=remark)
    confirmation = Message.objects.get(appointment=remark.checkin.appointment)
    assert (attachment.state, confirmation.status) == ("checking", "queued")
    assert any("Broker unavailable" in line for line in site.log_lines)

    # The broker is back (this process and the worker use a working one); a minute later
    # the sweeps run, as beat runs them every SWEEP_SECONDS.
    later = timezone.now() + timedelta(minutes=2)
    assert processing.sweep(later).requeued == 1
    assert delivery.sweep(later).requeued == 1
    wait_until(lambda: Attachment.objects.get(pk=attachment.pk).state == "ready", what="the photo")
    wait_until(lambda: Message.objects.get(pk=confirmation.pk).status == "sent", what="sent")
    attachment.refresh_from_db()
    for name in (attachment.file.name, attachment.thumbnail.name):
        attachment.file.storage.delete(name)  # the media folder the worker shares


def test_a_broker_that_takes_the_connection_but_never_answers_delays_an_upload_by_seconds(
    web_server,
):
    remark = new_draft_remark()
    with socket.socket() as silent:  # accepts connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        broker = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        site = web_server({"CELERY_BROKER_URL": broker})
        began = time.monotonic()
        upload = requests.post(
            site.url + reverse("portal:upload", args=[remark.checkin.token, remark.pk]),
            files={"files": ("IMG_2041.jpg", media.jpeg_with_gps(), "image/jpeg")},
            allow_redirects=False,
            timeout=120,
        )
        waited = time.monotonic() - began

    assert upload.status_code == 302
    # BROKER_TIMEOUT_SECONDS (3) and one retry, not gunicorn's 30 s worker timeout.
    assert waited < 25
    attachment = Attachment.objects.get(item=remark)
    assert attachment.state == "checking"  # for the sweep
    attachment.file.storage.delete(attachment.file.name)
