"""The check-in page's Messages: the conversation, writing with a photo, and the
confirm / decline buttons."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from notifications import conversation
from notifications.models import Message
from tests.portal.conftest import nl, url
from tests.portal.media import jpeg_with_gps
from tests.workshop.staffdata import media_root_fixture  # noqa: F401 - the media_root fixture
from workshop.models import Appointment, Attachment, CheckInItem

pytestmark = pytest.mark.django_db


def test_the_customer_writes_to_the_workshop_once_however_often_the_form_is_posted(client, checkin):
    page = client.get(url(checkin, "messages"))
    key = page.context["form"]["key"].value()
    for _attempt in range(2):
        response = client.post(url(checkin, "messages"), {"body": "Mag ik wachten?", "key": key})
        assert response.status_code == 302
    message = Message.objects.get(direction="in")
    assert (message.channel, message.body) == ("portal", "Mag ik wachten?")
    assert message.is_unread
    assert checkin.appointment.is_pinned
    shown = client.get(url(checkin, "messages")).content.decode()
    assert "Mag ik wachten?" in shown
    assert nl("Messages") in shown


def test_the_workshops_answer_shows_in_the_customers_thread_but_not_the_invitation(client, checkin):
    conversation.send_reply(checkin.appointment, user=None, channel="sms", body="Ja hoor.")
    Message.objects.create(
        appointment=checkin.appointment,
        channel="sms",
        direction="out",
        purpose="invitation",
        recipient="+32470123456",
        body="Uw uitnodiging",
        status="sent",
    )
    shown = client.get(url(checkin, "messages")).content.decode()
    assert "Ja hoor." in shown
    assert "Uw uitnodiging" not in shown


def test_a_photo_goes_through_the_upload_checks_and_shows_to_staff(
    client, checkin, eager_tasks, media_root, django_capture_on_commit_callbacks
):
    photo = SimpleUploadedFile("lamp.jpg", jpeg_with_gps(), content_type="image/jpeg")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url(checkin, "messages"), {"body": "Dit lampje", "photo": photo, "key": ""}
        )
    assert response.status_code == 302
    message = Message.objects.get(direction="in")
    remark = message.remark
    assert remark.state == CheckInItem.State.OPEN
    (attachment,) = remark.attachments.all()
    assert attachment.state == Attachment.State.READY


def test_a_file_that_is_no_photo_is_refused_next_to_the_field_keeping_the_text(client, checkin):
    fake = SimpleUploadedFile("lamp.jpg", b"MZ not a photo at all", content_type="image/jpeg")
    response = client.post(url(checkin, "messages"), {"body": "Dit lampje", "photo": fake})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="id_photo_error"' in page
    assert "Dit lampje</textarea>" in page
    assert not Message.objects.exists()


def test_an_empty_message_is_refused_in_the_customers_language(client, checkin):
    response = client.post(url(checkin, "messages"), {"body": "  "})
    assert response.status_code == 400
    assert 'id="id_body_error"' in response.content.decode()


def test_the_buttons_confirm_and_decline_like_a_one_word_reply(client, checkin):
    client.post(url(checkin, "answer"), {"answer": "yes"})
    client.post(url(checkin, "answer"), {"answer": "yes"})
    appointment = Appointment.objects.get(pk=checkin.appointment_id)
    assert appointment.confirmation == "confirmed"
    assert Message.objects.filter(purpose="ack_confirmed").count() == 1

    client.post(url(checkin, "answer"), {"answer": "no"})
    appointment.refresh_from_db()
    assert appointment.confirmation == "declined"
    assert appointment.is_pinned


def test_a_get_never_answers(client, checkin):
    assert client.get(url(checkin, "answer")).status_code == 405
    assert Appointment.objects.get(pk=checkin.appointment_id).confirmation == ""


def test_messages_stay_open_after_the_start_until_the_appointment_closes(client, checkin):
    Appointment.objects.filter(pk=checkin.appointment_id).update(
        starts_at=timezone.now() - timezone.timedelta(minutes=10)
    )
    closed = client.get(url(checkin, "review"))
    assert closed.status_code == 410  # the check-in closed, and says where to write
    assert url(checkin, "messages") in closed.content.decode()
    assert client.get(url(checkin, "messages")).status_code == 200
    client.post(url(checkin, "messages"), {"body": "Is hij klaar?", "key": ""})
    assert Message.objects.filter(body="Is hij klaar?").exists()

    Appointment.objects.filter(pk=checkin.appointment_id).update(status="done")
    assert client.get(url(checkin, "messages")).status_code == 410


def test_a_post_from_another_site_is_refused(client, checkin):
    response = client.post(
        url(checkin, "messages"), {"body": "x"}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert response.status_code == 403
    assert not Message.objects.exists()


def test_the_messages_page_stays_within_the_budget(client, checkin):
    for n in range(30):
        conversation.write_from_portal(checkin, "Een vraag " * 20, key=f"k{n}")
    response = client.get(url(checkin, "messages"))
    assert len(response.content) < 60_000


def test_writing_runs_a_fixed_number_of_queries(client, checkin, django_assert_num_queries):
    client.post(url(checkin, "seen"))  # the page's script: the visit is recorded
    for size in (1, 10):
        for n in range(size):
            conversation.write_from_portal(checkin, f"Vraag {size}.{n}", key=f"{size}-{n}")
            conversation.send_reply(checkin.appointment, user=None, channel="sms", body="Ok")
        # the check-in; the form's key looked up, the message written, in a transaction
        with django_assert_num_queries(5):
            response = client.post(url(checkin, "messages"), {"body": "Nog iets", "key": ""})
        assert response.status_code == 302
