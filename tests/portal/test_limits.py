"""Limits on what one customer link can make us store, check and send."""

import re
import uuid

import pytest
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape
from PIL import Image

from portal.uploads import storing
from tests.factories import AppointmentFactory, RemarkFactory
from tests.locks import postgresql_only, while_held
from tests.portal import media
from tests.portal.conftest import nl, nl_plural, url
from tests.portal.uploads_support import new_draft_remark, stored_files, uploaded
from workshop import checkin as flow
from workshop.models import Attachment, CheckInItem

State = Attachment.State
JSON = "application/json"
TOO_MANY_REMARKS = (
    "A check-in can have at most %(limit)d remark. Please add this to it, "
    "or tell us when you bring the car in.",
    "A check-in can have at most %(limit)d remarks. Please add this to one "
    "of them, or tell us when you bring the car in.",
)
TOO_MANY_FILES = (
    "Your check-in can have at most %(limit)d photo or video in all. Remove it to add “%(name)s”.",
    "Your check-in can have at most %(limit)d photos and videos in all. "
    "Remove one to add “%(name)s”.",
)
TOO_MANY_BYTES = (
    "With “%(name)s” your photos and videos would come to more than %(limit)s "
    "in all, the most we accept for one check-in. Remove a file to make room."
)


def test_the_limits_on_what_customers_send_are_in_effect():
    from config.celery import app

    assert settings.CHECKIN_MAX_PHOTO_MEGAPIXELS == 50
    assert settings.CHECKIN_MAX_REMARKS == 20
    assert settings.CHECKIN_MAX_FILES == 30
    assert settings.CHECKIN_MAX_TOTAL_BYTES == 1000 * 1024 * 1024
    assert settings.CHECKIN_MAX_CONFIRMATIONS == 5
    assert Image.MAX_IMAGE_PIXELS == 50_000_000
    # A worker child that grew past 512 MB (a large photo) is replaced after its task.
    assert app.conf.worker_max_memory_per_child == 512 * 1024


# --- Remarks per check-in -------------------------------------------------------------


def remark_form(subject: str, description: str = "") -> dict[str, str]:
    return {"new-key": str(uuid.uuid4()), "new-subject": subject, "new-description": description}


def test_past_the_remark_limit_a_remark_is_refused_keeping_what_was_typed(
    client, checkin, settings
):
    settings.CHECKIN_MAX_REMARKS = 2
    for subject in ("Noise when braking", "Warning light"):
        assert client.post(url(checkin, "remarks"), remark_form(subject)).status_code == 302

    response = client.post(
        url(checkin, "remarks"),
        remark_form("Scratch on the bonnet", "Left side, since the car wash"),
    )

    assert response.status_code == 400
    html = response.content.decode()
    form = html[html.index('id="new-remark"') :]
    error = re.search(r'<div class="form-error" role="alert">(.*?)</div>', form, re.S)
    assert error is not None
    assert escape(nl_plural(*TOO_MANY_REMARKS, 2) % {"limit": 2}) in error.group(1)
    assert 'value="Scratch on the bonnet"' in form
    assert "Left side, since the car wash</textarea>" in form
    assert checkin.items.filter(kind="remark").count() == 2


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_two_remarks_posted_at_once_for_the_last_place_add_one(settings):
    settings.CHECKIN_MAX_REMARKS = 1
    checkin = AppointmentFactory().checkin

    _first, second, waited = while_held(
        lambda: flow.add_remark(checkin, "Noise when braking", ""),
        lambda: Client().post(url(checkin, "remarks"), remark_form("Warning light")),
    )

    assert waited, "the second post waited for the first to be counted"
    assert second.status_code == 400
    assert list(checkin.items.values_list("subject", flat=True)) == ["Noise when braking"]


# --- Files and bytes per check-in ----------------------------------------------------


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def _upload(client, remark, name: str, data: bytes, **extra):
    return client.post(
        reverse("portal:upload", args=[remark.checkin.token, remark.pk]),
        {"files": uploaded(name, data, "video/mp4")},
        **extra,
    )


def _errors_next_to_the_file_field(response, remark) -> str:
    found = re.search(
        rf'<div class="errorlist" id="upload-errors-{remark.pk}">(.*?)</div>',
        response.content.decode(),
        re.S,
    )
    assert found is not None
    return found.group(1)


@pytest.mark.django_db
def test_past_the_file_limit_per_check_in_a_file_is_refused_next_to_the_file_field(
    client, media_root, settings
):
    settings.CHECKIN_MAX_FILES = 3
    brakes = new_draft_remark()
    light = RemarkFactory(checkin=brakes.checkin, state=CheckInItem.State.DRAFT)
    for n in range(2):
        _upload(client, brakes, f"brakes-{n}.mp4", media.mp4(payload_bytes=n))
    _upload(client, light, "light-0.mp4", media.mp4(payload_bytes=10))

    response = _upload(client, light, "light-1.mp4", media.mp4(payload_bytes=11), follow=True)

    expected = nl_plural(*TOO_MANY_FILES, 3) % {"limit": 3, "name": "light-1.mp4"}
    assert escape(expected) in _errors_next_to_the_file_field(response, light)
    assert Attachment.objects.count() == 3
    assert len(stored_files(media_root)) == 3

    # A rejected file does not count; a removed one frees its place.
    Attachment.objects.filter(original_name="brakes-0.mp4").update(state=State.REJECTED)
    retried = _upload(client, light, "light-1.mp4", media.mp4(payload_bytes=11), HTTP_ACCEPT=JSON)
    assert retried.status_code == 200


@pytest.mark.django_db
def test_past_the_bytes_limit_per_check_in_a_file_is_refused(client, media_root, settings):
    clip = media.mp4(payload_bytes=100_000)
    settings.CHECKIN_MAX_TOTAL_BYTES = 2 * len(clip) + 10
    brakes = new_draft_remark()
    light = RemarkFactory(checkin=brakes.checkin, state=CheckInItem.State.DRAFT)
    assert _upload(client, brakes, "brakes.mp4", clip, HTTP_ACCEPT=JSON).status_code == 200
    assert _upload(client, light, "light.mp4", clip, HTTP_ACCEPT=JSON).status_code == 200

    response = _upload(client, light, "more.mp4", media.mp4(payload_bytes=10), HTTP_ACCEPT=JSON)

    assert response.status_code == 422
    with translation.override("nl"):
        limit = filesizeformat(settings.CHECKIN_MAX_TOTAL_BYTES)
    assert response.json()["error"] == nl(TOO_MANY_BYTES) % {"name": "more.mp4", "limit": limit}
    assert Attachment.objects.count() == 2
    assert len(stored_files(media_root)) == 2


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_two_files_sent_at_once_to_two_remarks_for_the_last_place_keep_one(media_root, settings):
    """Each remark has its own lock; the limit is per check-in, so the check-in is locked."""
    settings.CHECKIN_MAX_FILES = 1
    brakes = new_draft_remark()
    light = RemarkFactory(checkin=brakes.checkin, state=CheckInItem.State.DRAFT)

    _first, second, waited = while_held(
        lambda: storing.store_upload(brakes, uploaded("brakes.mp4", media.mp4(), "video/mp4")),
        lambda: _upload(Client(), light, "light.mp4", media.mp4(payload_bytes=9), HTTP_ACCEPT=JSON),
    )

    assert waited, "the second upload waited for the first to be counted"
    assert second.status_code == 422
    assert list(Attachment.objects.values_list("original_name", flat=True)) == ["brakes.mp4"]
