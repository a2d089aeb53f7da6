"""The appointment page: what the customer sent, turned into work, each step on the timeline."""

import json
import re
import time
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from notifications import conversation
from notifications.models import Message, QuickReply
from tests.factories import AppointmentFactory, OfferFactory, UserFactory, WorkItemFactory
from tests.workshop.staffdata import (
    answered,
    appointment_today,
    converting_offer,
    media_root_fixture,  # noqa: F401 - the media_root fixture
    open_remark,
    photo,
    video,
)
from workshop import checkin as flow
from workshop.models import AppointmentEvent, CheckInItem, WorkItem

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}
Event = AppointmentEvent.Kind


def page(client, appointment) -> str:
    response = client.get(reverse("workshop:appointment", args=[appointment.pk]))
    assert response.status_code == 200
    return response.content.decode()


def staff_events(appointment, kind):
    return list(AppointmentEvent.objects.filter(appointment=appointment, kind=kind))


@pytest.fixture
def visit(dealership):
    """An answered appointment: a remark, an accepted offer that converts, a contact request."""
    appointment = appointment_today(dealership)
    wash = converting_offer(dealership, name="Car wash", price=Decimal("19.95"))
    courtesy = OfferFactory(dealership=dealership, name="Courtesy car", converts_to_work_item=False)
    made = answered(
        appointment,
        remarks=(("Squeaky brakes", "A high squeak when braking, mostly in the morning."),),
        accept=[wash],
        contact=[courtesy],
    )
    WorkItemFactory(appointment=appointment, description="Major service", price=Decimal("389.00"))
    return appointment, made


def test_the_header_shows_the_customer_vehicle_time_advisor_and_progress(staff_client, visit):
    appointment, _made = visit
    appointment.advisor = UserFactory(first_name="Rita", last_name="Receptie")
    appointment.save()
    appointment.checkin.invited_at = appointment.checkin.opened_at
    appointment.checkin.save()
    body = page(staff_client, appointment)
    customer = appointment.customer
    assert customer.full_name in body
    assert customer.phone.as_international in body
    assert customer.email in body
    assert "SMS" in body  # preferred channel
    assert appointment.vehicle.plate in body
    assert "Rita Receptie" in body
    assert appointment.local_start.strftime("%H:%M") in body
    steps = re.findall(r'<li class="step([^"]*)"', body)
    assert steps == [" is-done", " is-done", " is-done is-current", ""]
    assert 'aria-current="step"' in body


def test_an_sms_opt_out_shows_in_the_header(staff_client, visit):
    from django.utils import timezone

    appointment, _made = visit
    appointment.customer.sms_opted_out_at = timezone.now()
    appointment.customer.save()
    assert "Opted out of SMS" in page(staff_client, appointment)


def test_the_checkin_section_stands_above_the_work_items(staff_client, visit):
    appointment, _made = visit
    body = page(staff_client, appointment)
    assert body.index('id="checkin-heading"') < body.index('id="work-heading"')
    checkin = body[body.index('id="checkin"') : body.index('id="work"')]
    for text in ("Squeaky brakes", "Car wash", "Courtesy car", "3 open"):
        assert text in checkin


def test_the_convert_dialog_is_prefilled_from_the_remark(staff_client, visit):
    appointment, made = visit
    remark = made["remarks"][0]
    url = reverse("workshop:convert_item", args=[appointment.pk, remark.pk])
    dialog = staff_client.get(url, headers=HTMX).content.decode()
    assert dialog.lstrip().startswith("<dialog")
    assert 'value="Squeaky brakes: A high squeak when braking, mostly in the morning."' in dialog
    assert 'name="price"' in dialog
    # Without JavaScript the same form is a page of its own.
    full = staff_client.get(url).content.decode()
    assert "<html" in full
    assert 'value="Squeaky brakes: A high squeak' in full


def test_confirming_the_dialog_adds_the_work_item_at_the_typed_price_and_handles_the_remark(
    staff_client, receptionist, visit
):
    appointment, made = visit
    remark = made["remarks"][0]
    response = staff_client.post(
        reverse("workshop:convert_item", args=[appointment.pk, remark.pk]),
        {
            "action": "convert",
            "description": "Check brakes",
            "notes": "Squeak mornings",
            "price": "89,50",
        },
        headers=HTMX,
    )
    assert response.status_code == 204
    assert response.content == b""
    assert json.loads(response["HX-Trigger"]) == {"appointmentChanged": {}}
    remark.refresh_from_db()
    assert remark.state == CheckInItem.State.HANDLED
    assert remark.handled_by == receptionist
    work_item = remark.work_item
    assert (work_item.description, work_item.notes, work_item.price) == (
        "Check brakes",
        "Squeak mornings",
        Decimal("89.50"),
    )
    assert work_item.origin == WorkItem.Origin.REMARK
    [event] = staff_events(appointment, Event.ITEM_CONVERTED)
    assert event.user == receptionist
    body = page(staff_client, appointment)
    assert "Check brakes" in body[body.index('id="work"') :]
    assert "Converted a check-in item to a work item" in body


def test_cancelling_the_dialog_adds_nothing_but_handles_the_remark(
    staff_client, receptionist, visit
):
    appointment, made = visit
    remark = made["remarks"][0]
    before = WorkItem.objects.count()
    response = staff_client.post(
        reverse("workshop:convert_item", args=[appointment.pk, remark.pk]),
        {"action": "cancel", "description": "", "price": ""},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("workshop:appointment", args=[appointment.pk])
    remark.refresh_from_db()
    assert remark.state == CheckInItem.State.HANDLED
    assert remark.work_item is None
    assert WorkItem.objects.count() == before
    [event] = staff_events(appointment, Event.ITEM_HANDLED)
    assert event.user == receptionist


def test_a_bad_price_is_explained_next_to_the_field_and_nothing_typed_is_lost(staff_client, visit):
    appointment, made = visit
    remark = made["remarks"][0]
    response = staff_client.post(
        reverse("workshop:convert_item", args=[appointment.pk, remark.pk]),
        {
            "action": "convert",
            "description": "Check brakes",
            "notes": "Mornings",
            "price": "12,3,4",
        },
        headers=HTMX,
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith("<form")  # swapped into the open dialog
    assert 'id="id_price_error"' in body
    assert "Enter an amount, like 19.95." in body
    assert 'aria-invalid="true"' in body
    assert 'value="Check brakes"' in body
    assert "Mornings" in body
    assert 'value="12,3,4"' in body
    remark.refresh_from_db()
    assert remark.state == CheckInItem.State.OPEN


def test_an_accepted_offer_converts_at_its_price_and_leaves_the_checkin_section(
    staff_client, receptionist, visit
):
    appointment, made = visit
    offer_item = made["accepted"][0]
    response = staff_client.post(
        reverse("workshop:convert_offer", args=[appointment.pk, offer_item.pk]), headers=HTMX
    )
    assert response.status_code == 204
    offer_item.refresh_from_db()
    assert offer_item.state == CheckInItem.State.HANDLED
    assert offer_item.work_item.price == Decimal("19.95")
    assert offer_item.work_item.description == "Car wash"
    body = page(staff_client, appointment)
    checkin = body[body.index('id="checkin"') : body.index('id="work"')]
    assert "Car wash" not in checkin
    assert "Car wash" in body[body.index('id="work"') :]
    assert staff_events(appointment, Event.ITEM_CONVERTED)[0].user == receptionist


def test_an_offer_that_does_not_convert_can_only_be_marked_handled(staff_client, visit):
    appointment, made = visit
    contact = made["contact"][0]
    url = reverse("workshop:convert_offer", args=[appointment.pk, contact.pk])
    assert staff_client.post(url).status_code == 404
    body = page(staff_client, appointment)
    card = body[body.index(f'id="item-{contact.pk}"') :]
    card = card[: card.index("</article>")]
    assert "Mark handled" in card
    assert "Add as work item" not in card


def test_a_contact_request_is_marked_handled_with_a_note(staff_client, receptionist, visit):
    appointment, made = visit
    contact = made["contact"][0]
    url = reverse("workshop:handle_item", args=[appointment.pk, contact.pk])
    assert "Note (optional)" in staff_client.get(url, headers=HTMX).content.decode()
    response = staff_client.post(url, {"note": "Called: wants it on Friday"}, headers=HTMX)
    assert response.status_code == 204
    contact.refresh_from_db()
    assert contact.state == CheckInItem.State.HANDLED
    assert contact.handling_note == "Called: wants it on Friday"
    [event] = staff_events(appointment, Event.ITEM_HANDLED)
    assert (event.user, event.new_value) == (receptionist, "Called: wants it on Friday")
    assert "Called: wants it on Friday" in page(staff_client, appointment)


def test_an_item_someone_else_handled_is_not_handled_twice(staff_client, visit):
    appointment, made = visit
    remark = made["remarks"][0]
    flow.convert_item(remark, UserFactory(), description="First", price=Decimal("10"))
    response = staff_client.post(
        reverse("workshop:convert_item", args=[appointment.pk, remark.pk]),
        {"action": "convert", "description": "Second", "price": "10"},
        follow=True,
    )
    assert "Someone else handled this item first" in response.content.decode()
    assert not WorkItem.objects.filter(description="Second").exists()


def test_the_share_switch_shows_a_remark_to_mechanics_and_back(staff_client, receptionist, visit):
    appointment, made = visit
    remark = made["remarks"][0]
    url = reverse("workshop:share_item", args=[appointment.pk, remark.pk])
    dialog = staff_client.get(url, headers=HTMX).content.decode()
    assert 'role="switch"' in dialog
    assert "Visible to mechanics" in dialog
    assert staff_client.post(url, {"visible_to_mechanics": "on"}, headers=HTMX).status_code == 204
    remark.refresh_from_db()
    assert remark.visible_to_mechanics
    assert remark.state == CheckInItem.State.OPEN  # sharing does not handle it
    staff_client.post(url, {}, headers=HTMX)
    remark.refresh_from_db()
    assert not remark.visible_to_mechanics
    events = staff_events(appointment, Event.ITEM_SHARED)
    assert [(e.old_value, e.new_value, e.user) for e in events] == [
        ("no", "yes", receptionist),
        ("yes", "no", receptionist),
    ]


def test_staff_add_change_and_remove_their_own_work_items(staff_client, receptionist, visit):
    appointment, _made = visit
    add = reverse("workshop:add_work_item", args=[appointment.pk])
    response = staff_client.post(
        add, {"description": "Wiper blades", "notes": "", "price": "39.50"}, headers=HTMX
    )
    assert response.status_code == 204
    work_item = WorkItem.objects.get(description="Wiper blades")
    assert (work_item.origin, work_item.price) == (WorkItem.Origin.STAFF, Decimal("39.50"))
    body = page(staff_client, appointment)
    assert "428,50" in body or "428.50" in body  # 389.00 + 39.50, the total incl. VAT

    edit = reverse("workshop:edit_work_item", args=[appointment.pk, work_item.pk])
    assert 'value="39.50"' in staff_client.get(edit).content.decode()
    staff_client.post(edit, {"description": "Wiper blades front", "notes": "", "price": "42"})
    work_item.refresh_from_db()
    assert (work_item.description, work_item.price) == ("Wiper blades front", Decimal("42.00"))

    remove = reverse("workshop:remove_work_item", args=[appointment.pk, work_item.pk])
    assert "Remove “Wiper blades front”" in staff_client.get(remove).content.decode()
    assert WorkItem.objects.filter(pk=work_item.pk).exists()  # a GET only asks
    staff_client.post(remove, headers=HTMX)
    assert not WorkItem.objects.filter(pk=work_item.pk).exists()

    kinds = AppointmentEvent.objects.filter(appointment=appointment, user=receptionist)
    assert [e.kind for e in kinds] == [
        Event.WORK_ITEM_ADDED,
        Event.WORK_ITEM_CHANGED,
        Event.WORK_ITEM_CHANGED,
        Event.WORK_ITEM_REMOVED,
    ]
    changed = kinds.filter(kind=Event.WORK_ITEM_CHANGED, field="price").get()
    assert (changed.old_value, changed.new_value) == ("39.50", "42.00")


def test_planned_work_from_the_dms_cannot_be_changed_or_removed(staff_client, visit):
    appointment, _made = visit
    planned = appointment.work_items.get(description="Major service")
    for name in ("workshop:edit_work_item", "workshop:remove_work_item"):
        url = reverse(name, args=[appointment.pk, planned.pk])
        assert staff_client.post(url, {"description": "x", "price": "1"}).status_code == 404
    assert WorkItem.objects.filter(pk=planned.pk, description="Major service").exists()
    body = page(staff_client, appointment)
    assert f'id="edit-work-item-{planned.pk}"' not in body


def test_rotating_the_link_asks_first_then_replaces_it_and_records_it(
    staff_client, receptionist, visit
):
    appointment, _made = visit
    old_link = appointment.checkin.link
    url = reverse("workshop:rotate_link", args=[appointment.pk])
    assert "stops working" in staff_client.get(url).content.decode()
    appointment.checkin.refresh_from_db()
    assert appointment.checkin.link == old_link
    staff_client.post(url)
    appointment.checkin.refresh_from_db()
    assert appointment.checkin.link != old_link
    [event] = staff_events(appointment, Event.LINK_ROTATED)
    assert event.user == receptionist
    body = page(staff_client, appointment)
    assert appointment.checkin.link in body
    assert old_link not in body


def test_the_customer_link_is_on_the_page_with_a_copy_button(staff_client, visit):
    appointment, _made = visit
    body = page(staff_client, appointment)
    assert f'value="{appointment.checkin.link}" readonly' in body
    assert 'data-copy="customer-link"' in body


def test_the_timeline_shows_messages_with_status_and_customer_and_staff_actions(
    staff_client, receptionist, visit
):
    appointment, made = visit
    from django.utils import timezone

    Message.objects.create(
        appointment=appointment,
        customer=appointment.customer,
        channel="sms",
        direction="out",
        purpose="invitation",
        recipient="+32470123456",
        body="Check in for your visit",
        status="delivered",
        sent_at=timezone.now(),
        delivered_at=timezone.now(),
    )
    Message.objects.create(
        appointment=appointment,
        channel="email",
        direction="out",
        purpose="reminder",
        recipient="jan@example.com",
        body="Reminder",
        status="failed",
        failed_at=timezone.now(),
        error="Mailbox full",
    )
    flow.update_contact(appointment, appointment.customer, {"email": "new@example.com"})
    flow.handle_item(made["contact"][0], receptionist, note="Called")
    body = page(staff_client, appointment)
    timeline = body[body.index('id="timeline-heading"') :]
    for text in (
        "Invitation by SMS",
        "Delivered",
        "Reminder by e-mail",
        "Failed",
        "Mailbox full",
        "Opened the check-in page",
        "Sent the check-in",
        "Changed contact details",
        "new@example.com",
        "Handled a check-in item",
        "Rita Receptie",
        "Called",
    ):
        assert text in timeline, text
    old_email = re.search(r"<del>([^<]+)</del>", timeline)
    assert old_email
    assert "@example.com" in old_email.group(1)


def test_photos_open_large_and_videos_play_with_a_poster(staff_client, visit, media_root):
    appointment, made = visit
    remark = made["remarks"][0]
    picture = photo(remark)
    clip = video(remark)
    body = page(staff_client, appointment)
    large = reverse("workshop:attachment", args=[picture.pk, "display"])
    thumb = reverse("workshop:attachment", args=[picture.pk, "thumbnail"])
    assert f'href="{large}" data-lightbox' in body
    assert f'src="{thumb}"' in body
    assert re.search(
        rf'<video controls[^>]*poster="{reverse("workshop:attachment", args=[clip.pk, "thumbnail"])}"',
        body,
    )
    response = staff_client.get(large)
    assert response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content)[:3] == b"\xff\xd8\xff"
    # A workshop PC is shared: a customer's photo is not kept in its browser cache.
    assert response["Cache-Control"] == "private, no-store"
    clip_response = staff_client.get(reverse("workshop:attachment", args=[clip.pk, "file"]))
    assert clip_response["Content-Type"] == "video/mp4"


def test_the_page_body_refreshes_as_a_partial_after_a_change(staff_client, visit):
    appointment, _made = visit
    response = staff_client.get(
        reverse("workshop:appointment", args=[appointment.pk]),
        headers={**HTMX, "HX-Target": "appointment-body"},
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="appointment-body"')
    assert "<html" not in body


def test_the_appointment_page_runs_a_fixed_number_of_queries(
    staff_client, visit, media_root, django_assert_num_queries
):
    appointment, made = visit
    for _ in range(3):
        photo(made["remarks"][0])
    QuickReply.objects.create(
        dealership=appointment.dealership, name="Ready", language="nl", body="Klaar, {first_name}"
    )
    url = reverse("workshop:appointment", args=[appointment.pk])
    # session, user, memberships, appointment, work items, items, attachments, events,
    # messages (the timeline's and the conversation's), quick replies, follow-ups and
    # their attempts (the customer asked about an offer), the customer's earlier
    # no-shows and late cancellations (one aggregate)
    for size in (1, 5):
        for n in range(size):
            open_remark(appointment, subject=f"Remark {size}.{n}")
            WorkItemFactory(appointment=appointment)
            conversation.send_reply(
                appointment, user=UserFactory(username=f"u{size}{n}"), channel="sms", body="Hoi"
            )
            Message.objects.create(
                appointment=appointment,
                channel="sms",
                direction="in",
                purpose="reply",
                recipient="+3225550100",
                sender="+32470123456",
                body=f"Vraag {n}",
                status="received",
            )
        staff_client.get(url)
        with django_assert_num_queries(13):
            response = staff_client.get(url)
        assert "Klaar, Jan" in response.content.decode()


def test_videos_are_served_in_byte_ranges_for_seeking(staff_client, visit, media_root):
    _appointment, made = visit
    clip = video(made["remarks"][0])
    url = reverse("workshop:attachment", args=[clip.pk, "file"])
    whole = b"".join(staff_client.get(url).streaming_content)
    assert whole == b"\x00\x00\x00\x18ftypmp42"
    part = staff_client.get(url, headers={"Range": "bytes=4-7"})
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 4-7/{len(whole)}"
    assert b"".join(part.streaming_content) == b"ftyp"
    tail = staff_client.get(url, headers={"Range": "bytes=-4"})
    assert b"".join(tail.streaming_content) == b"mp42"
    beyond = staff_client.get(url, headers={"Range": "bytes=99-"})
    assert beyond.status_code == 416
    assert beyond["Content-Range"] == f"bytes */{len(whole)}"


def test_on_s3_media_are_a_redirect_to_a_short_lived_signed_url(staff_client, visit, settings):
    """The bucket is private: staff get a presigned GET that expires in minutes.

    Presigning is computed locally by boto3, so no S3 server is needed to check it.
    """
    from workshop.models import Attachment

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "pitlane-media",
                "endpoint_url": "http://127.0.0.1:9",
                "access_key": "test",
                "secret_key": "test-secret",
                "region_name": "us-east-1",
                "querystring_auth": True,
            },
        },
    }
    _appointment, made = visit
    attachment = Attachment.objects.create(
        item=made["remarks"][0],
        file="checkins/1/0123abcd",
        kind=Attachment.Kind.PHOTO,
        state=Attachment.State.READY,
        content_type="image/jpeg",
        original_name="IMG_1.jpg",
    )
    response = staff_client.get(reverse("workshop:attachment", args=[attachment.pk, "file"]))
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    location = response["Location"]
    assert location.startswith("http://127.0.0.1:9/pitlane-media/checkins/1/0123abcd?")
    query = parse_qs(urlsplit(location).query)
    assert "Signature" in query or "X-Amz-Signature" in query
    # The store answers the signed URL with the same caching rule.
    assert query["response-cache-control"] == ["private, no-store"]
    if "Expires" in query:  # signature version 2: an instant
        assert 0 < int(query["Expires"][0]) - time.time() <= 301
    else:
        assert query["X-Amz-Expires"] == ["300"]


def test_a_withdrawn_answer_shows_as_withdrawn_next_to_the_new_one(staff_client, dealership):
    appointment = appointment_today(dealership)
    wash = converting_offer(dealership, name="Car wash")
    answered(appointment, remarks=(), accept=[wash])
    flow.set_offer_choice(appointment.checkin, wash, flow.OfferChoice.CONTACT)
    flow.submit_checkin(appointment.checkin)
    body = page(staff_client, appointment)
    withdrawn = body[body.index("state-withdrawn") :]
    withdrawn = withdrawn[: withdrawn.index("</article>")]
    assert "Accepted offer" in withdrawn
    assert "Withdrawn" in withdrawn
    assert "Convert" not in withdrawn
    assert "Mark handled" not in withdrawn
    assert "Wants to be contacted about an offer" in body
    assert "1 open" in body


def test_resending_the_invitation_asks_first_then_queues_it_once_and_records_it(
    staff_client, receptionist, dealership, django_capture_on_commit_callbacks
):
    appointment = AppointmentFactory(dealership=dealership)  # two days ahead
    url = reverse("workshop:resend_invitation", args=[appointment.pk])
    assert "gets the check-in link again" in staff_client.get(url).content.decode()
    assert not Message.objects.exists()

    with django_capture_on_commit_callbacks():
        response = staff_client.post(url, headers=HTMX)
    assert response.status_code == 204
    assert response["HX-Trigger"]
    [message] = Message.objects.all()
    assert message.purpose == Message.Purpose.INVITATION
    assert message.recipient == str(appointment.customer.phone)
    assert appointment.checkin.link in message.body
    [event] = staff_events(appointment, Event.INVITATION_RESENT)
    assert event.user == receptionist

    # A second click within ten minutes is refused, in the dialog, and sends nothing.
    again = staff_client.post(url, headers=HTMX)
    assert again.status_code == 200
    assert "less than 10 minutes ago" in again.content.decode()
    assert Message.objects.count() == 1
    assert "Resend invitation" in page(staff_client, appointment)


def test_mechanics_cannot_resend_invitations(client, mechanic, dealership):
    appointment = AppointmentFactory(dealership=dealership)
    client.force_login(mechanic)
    url = reverse("workshop:resend_invitation", args=[appointment.pk])
    assert client.post(url).status_code == 404
    assert not Message.objects.exists()


def test_every_signed_media_url_expires_within_minutes():
    """Any signed URL of the store, not only the staff view's (the portal's thumbnails)."""
    from storages.backends.s3 import S3Storage

    storage = S3Storage(
        bucket_name="pitlane-media",
        endpoint_url="http://127.0.0.1:9",
        access_key="test",
        secret_key="test-secret",
        region_name="us-east-1",
        signature_version="s3v4",
    )
    query = parse_qs(urlsplit(storage.url("checkins/1/thumb.jpg")).query)
    assert query["X-Amz-Expires"] == ["300"]
