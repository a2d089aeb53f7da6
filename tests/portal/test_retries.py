"""A retried post (a double tap, a network retry) adds nothing the first did not."""

import re
import uuid

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from portal.uploads import processing, storing
from tests.factories import AppointmentFactory
from tests.locks import postgresql_only, while_held
from tests.portal import media
from tests.portal.conftest import url
from tests.portal.uploads_support import new_draft_remark, stored_files, uploaded
from workshop import checkin as flow
from workshop.models import Attachment, CheckInItem


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def form_key(client, checkin) -> str:
    """The hidden key of the "Add a remark" form, as the page renders it."""
    html = client.get(url(checkin, "remarks")).content.decode()
    found = re.search(r'name="new-key" value="([0-9a-f-]{36})"', html)
    assert found, "the form carries a key"
    return found.group(1)


def remark_form(key: str, subject: str = "Noise when braking", description: str = "Since Monday"):
    return {"new-key": key, "new-subject": subject, "new-description": description}


def remarks(checkin) -> list[CheckInItem]:
    return list(checkin.items.filter(kind=CheckInItem.Kind.REMARK))


# --- Remarks -----------------------------------------------------------------------


def test_a_remark_posted_twice_is_added_once(client, checkin):
    key = form_key(client, checkin)

    first = client.post(url(checkin, "remarks"), remark_form(key))
    again = client.post(url(checkin, "remarks"), remark_form(key))

    (remark,) = remarks(checkin)
    assert first.status_code == again.status_code == 302
    assert first["Location"] == again["Location"] == f"{url(checkin, 'remarks')}#remark-{remark.pk}"


def test_each_form_shown_is_a_new_remark_even_with_the_same_words(client, checkin):
    first, second = form_key(client, checkin), form_key(client, checkin)
    assert first != second

    client.post(url(checkin, "remarks"), remark_form(first))
    client.post(url(checkin, "remarks"), remark_form(second))

    assert [r.subject for r in remarks(checkin)] == ["Noise when braking"] * 2


def test_a_form_refused_for_its_input_keeps_its_key_so_the_corrected_post_adds_one(client, checkin):
    key = form_key(client, checkin)
    refused = client.post(url(checkin, "remarks"), remark_form(key, subject=""))
    assert refused.status_code == 400
    assert f'name="new-key" value="{key}"' in refused.content.decode()

    client.post(url(checkin, "remarks"), remark_form(key))
    client.post(url(checkin, "remarks"), remark_form(key))
    assert len(remarks(checkin)) == 1


def test_a_post_without_a_key_still_adds_its_remark(client, checkin):
    """A page cached from before the key existed."""
    response = client.post(url(checkin, "remarks"), remark_form(""))
    assert response.status_code == 302
    assert len(remarks(checkin)) == 1


@pytest.mark.django_db
def test_the_database_holds_one_remark_per_form_key_and_check_in():
    checkin, other = AppointmentFactory().checkin, AppointmentFactory().checkin
    key = uuid.uuid4()
    CheckInItem.objects.create(checkin=checkin, kind="remark", subject="a", idempotency_key=key)
    with pytest.raises(IntegrityError), transaction.atomic():
        CheckInItem.objects.create(checkin=checkin, kind="remark", subject="b", idempotency_key=key)
    CheckInItem.objects.create(checkin=other, kind="remark", subject="c", idempotency_key=key)
    CheckInItem.objects.create(checkin=checkin, kind="remark", subject="d")
    CheckInItem.objects.create(checkin=checkin, kind="remark", subject="e")


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_remark_posted_twice_at_once_is_added_once():
    """The second post arrives while the first has added the remark but not committed:
    it waits for the first, then finds the remark its key names."""
    checkin = AppointmentFactory().checkin
    key = uuid.uuid4()

    first, second, waited = while_held(
        lambda: flow.add_remark(checkin, "Noise when braking", "", key=key),
        lambda: Client().post(url(checkin, "remarks"), remark_form(str(key))),
    )

    assert waited, "the second post waited for the first"
    assert [r.pk for r in remarks(checkin)] == [first.pk]
    assert second.status_code == 302
    assert second["Location"].endswith(f"#remark-{first.pk}")


# --- Files -------------------------------------------------------------------------


def _upload(client, remark, data: bytes, name: str = "IMG_2041.jpg"):
    return client.post(
        reverse("portal:upload", args=[remark.checkin.token, remark.pk]),
        {"files": uploaded(name, data)},
        HTTP_ACCEPT="application/json",
    )


@pytest.mark.django_db
def test_a_photo_sent_again_after_it_was_checked_is_kept_once(client, media_root):
    remark = new_draft_remark()
    data = media.jpeg_with_gps()
    first = _upload(client, remark, data).json()["attachment"]
    assert processing.process_attachment(first["id"]) == Attachment.State.READY
    checked = Attachment.objects.get()
    assert checked.size != len(data), "rewritten without its metadata, so a new size"

    again = _upload(client, remark, data)

    assert again.status_code == 200
    assert again.json()["attachment"]["id"] == first["id"]
    assert Attachment.objects.count() == 1
    assert len(stored_files(media_root)) == 2  # the photo and its thumbnail


@pytest.mark.django_db
def test_a_photo_sent_twice_before_it_was_checked_is_kept_once(client, media_root):
    remark = new_draft_remark()
    data = media.jpeg_with_gps()
    first = _upload(client, remark, data).json()["attachment"]
    again = _upload(client, remark, data).json()["attachment"]
    assert again["id"] == first["id"]
    assert len(stored_files(media_root)) == 1


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_photo_posted_twice_at_once_is_kept_once(media_root):
    remark = new_draft_remark()
    data = media.jpeg_with_gps()

    first, second, waited = while_held(
        lambda: storing.store_upload(remark, uploaded("IMG_2041.jpg", data)),
        lambda: _upload(Client(), remark, data),
    )

    assert waited, "the second upload waited for the first"
    assert second.status_code == 200
    assert second.json()["attachment"]["id"] == first.pk
    assert Attachment.objects.count() == 1
    assert len(stored_files(media_root)) == 1
