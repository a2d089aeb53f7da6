"""Staff's side of the conversation: the thread and the reply form on the appointment
page, reading, a decline handled, the list's state and filter, and the inbox of
messages that matched nothing."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from notifications import conversation
from notifications.answers_words import Answer
from notifications.models import Message, QuickReply
from tests.factories import AppointmentFactory, DealershipFactory, UserFactory
from tests.workshop.staffdata import appointment_today
from workshop.models import Appointment, AppointmentEvent, Customer

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
LIST = reverse("workshop:appointments")


def written(appointment, body="Kan ik om 9u komen?", channel="sms") -> Message:
    message = Message.objects.create(
        appointment=appointment,
        customer=appointment.customer,
        dealership=appointment.dealership,
        channel=channel,
        direction="in",
        purpose="reply",
        recipient="+3225550100",
        sender="+32470123456",
        body=body,
        status="received",
    )
    conversation.received(message)
    return message


def loaded(appointment) -> Appointment:
    return Appointment.objects.select_related("dealership", "customer", "vehicle", "checkin").get(
        pk=appointment.pk
    )


# --- The appointment page ------------------------------------------------------------------


def test_the_thread_shows_both_directions_and_the_reply_goes_by_the_customers_last_channel(
    staff_client, receptionist, dealership
):
    appointment = AppointmentFactory(dealership=dealership)
    written(appointment, "Mag ik de auto vroeger brengen?", channel="email")
    conversation.send_reply(appointment, user=receptionist, channel="sms", body="Ja, vanaf 7u.")

    body = staff_client.get(reverse("workshop:appointment", args=[appointment.pk])).content
    page = body.decode()
    assert "Mag ik de auto vroeger brengen?" in page
    assert "Ja, vanaf 7u." in page
    assert 'id="conversation"' in page
    # The customer last wrote by e-mail: the answer goes back that way unless changed.
    assert re.search(r'<input[^>]*value="email"[^>]*checked', page)
    assert not re.search(r'<input[^>]*value="sms"[^>]*checked', page)


@pytest.mark.parametrize(
    ("status", "answers"),
    [
        (Appointment.Status.SCHEDULED, True),
        (Appointment.Status.ARRIVED, True),
        (Appointment.Status.DONE, True),
        (Appointment.Status.CANCELLED, False),
        (Appointment.Status.NO_SHOW, False),
    ],
)
def test_staff_answer_before_during_and_after_the_visit_not_once_it_is_off(
    staff_client, dealership, status, answers
):
    appointment = AppointmentFactory(dealership=dealership, status=status)
    page = staff_client.get(reverse("workshop:appointment", args=[appointment.pk])).content
    assert ('id="reply-body"' in page.decode()) is answers
    # Only a customer who wrote gets "Needs a call" next to their messages.
    assert 'id="needs-call"' not in page.decode()
    written(appointment)
    page = staff_client.get(reverse("workshop:appointment", args=[appointment.pk])).content
    assert 'id="needs-call"' in page.decode()


def test_a_reply_is_queued_once_and_reads_the_conversation(staff_client, dealership):
    appointment = AppointmentFactory(dealership=dealership)
    written(appointment)
    url = reverse("workshop:reply", args=[appointment.pk])

    response = staff_client.post(url, {"channel": "sms", "body": "Ja, 9u is goed."}, headers=HTMX)

    assert response.status_code == 204
    assert response["HX-Trigger"] == "appointmentChanged"
    reply = Message.objects.get(direction="out", purpose="reply")
    assert (reply.channel, reply.body, reply.status) == ("sms", "Ja, 9u is goed.", "queued")
    assert reply.author is not None
    assert not Message.objects.unread().exists()
    assert not loaded(appointment).is_pinned


def test_an_empty_reply_is_refused_next_to_the_field_keeping_the_channel(staff_client, dealership):
    appointment = AppointmentFactory(dealership=dealership)
    url = reverse("workshop:reply", args=[appointment.pk])

    response = staff_client.post(url, {"channel": "email", "body": "   "})

    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="reply-body-error"' in page
    assert not Message.objects.filter(direction="out").exists()


def test_an_sms_to_a_customer_who_opted_out_is_refused_with_the_reason(staff_client, dealership):
    appointment = AppointmentFactory(dealership=dealership)
    Customer.objects.filter(pk=appointment.customer_id).update(sms_opted_out_at=timezone.now())
    url = reverse("workshop:reply", args=[appointment.pk])

    response = staff_client.post(url, {"channel": "sms", "body": "Hallo"}, headers=HTMX)

    assert response.status_code == 400
    assert "cannot get an SMS" in response.content.decode()
    assert "Hallo" in response.content.decode()  # nothing typed is lost


def test_a_quick_reply_prefills_the_answer_in_the_customers_language(staff_client, dealership):
    appointment = AppointmentFactory(dealership=dealership)  # the customer reads Dutch
    nl = QuickReply.objects.create(
        dealership=dealership,
        name="Klaar",
        language="nl",
        body="Dag {first_name}, uw {vehicle} is klaar.",
    )
    QuickReply.objects.create(dealership=dealership, name="Ready", language="en", body="Ready")
    page_url = reverse("workshop:appointment", args=[appointment.pk])

    page = staff_client.get(page_url, {"quick": nl.pk}).content.decode()

    assert "Dag Jan, uw Volkswagen Golf is klaar.</textarea>" in page
    assert ">Ready<" not in page


def test_reading_the_messages_unpins_the_appointment(staff_client, dealership):
    appointment = AppointmentFactory(dealership=dealership)
    written(appointment)
    assert loaded(appointment).is_pinned

    staff_client.post(reverse("workshop:mark_read", args=[appointment.pk]))

    assert not loaded(appointment).is_pinned
    assert appointment.events.filter(kind=AppointmentEvent.Kind.MESSAGES_READ).exists()


def test_a_decline_shows_on_the_page_and_pins_until_marked_handled(staff_client, dealership):
    appointment = AppointmentFactory(dealership=dealership)
    conversation.answer(loaded(appointment), Answer.NO, channel="sms")
    page = staff_client.get(reverse("workshop:appointment", args=[appointment.pk])).content
    assert b"Decline handled" in page
    assert loaded(appointment).is_pinned

    staff_client.post(reverse("workshop:decline_handled", args=[appointment.pk]))

    assert not loaded(appointment).is_pinned
    assert loaded(appointment).confirmation == "declined"  # still declined, only handled


def test_a_mechanic_never_sees_or_writes_the_conversation(client, mechanic, dealership):
    appointment = AppointmentFactory(dealership=dealership)
    written(appointment, "Mijn pincode is 1234")
    client.force_login(mechanic)

    workshop_page = client.get(reverse("workshop:workshop_appointment", args=[appointment.pk]))
    assert b"Mijn pincode is 1234" not in workshop_page.content
    for name in ("reply", "mark_read", "decline_handled"):
        response = client.post(reverse(f"workshop:{name}", args=[appointment.pk]), {"body": "x"})
        assert response.status_code == 404
    assert client.get(reverse("workshop:inbox")).status_code == 404
    assert Message.objects.unread().count() == 1


def test_another_dealerships_staff_cannot_reply(client, dealership):
    appointment = AppointmentFactory(dealership=dealership)
    other = UserFactory(username="elsewhere")
    other.memberships.create(dealership=DealershipFactory(), role="receptionist")
    client.force_login(other)
    response = client.post(
        reverse("workshop:reply", args=[appointment.pk]), {"channel": "sms", "body": "x"}
    )
    assert response.status_code == 404
    assert not Message.objects.exists()


# --- The list --------------------------------------------------------------------------------


def test_the_list_shows_the_answer_and_filters_by_it(staff_client, dealership):
    yes = appointment_today(dealership, 9)
    no = appointment_today(dealership, 10)
    silent = appointment_today(dealership, 11)
    conversation.answer(loaded(yes), Answer.YES)
    conversation.answer(loaded(no), Answer.NO)

    page = staff_client.get(LIST).content.decode()
    assert "class=cf-confirmed>Confirmed<" in page
    assert "class=cf-declined>Declined<" in page

    def refs(filter_value):
        body = staff_client.get(LIST, {"filter": filter_value}).content.decode()
        return {a.external_ref for a in (yes, no, silent) if a.external_ref in body}

    assert refs("confirmed") == {yes.external_ref}
    assert refs("declined") == {no.external_ref}
    assert refs("no_reply") == {silent.external_ref}


def test_an_unread_message_pins_with_an_icon_and_the_poll_brings_the_nav_count(
    staff_client, dealership
):
    later = AppointmentFactory(dealership=dealership)  # another day: shown only when pinned
    first = staff_client.get(LIST, headers=HTMX)
    assert later.external_ref not in first.content.decode()
    fingerprint = first.context["fingerprint"]

    written(later)

    poll = staff_client.get(LIST, {"known": fingerprint}, headers=HTMX)
    assert poll.status_code == 200  # changed: rendered again
    body = poll.content.decode()
    assert later.external_ref in body
    assert "class=flag-message" in body
    assert 'id="nav-waiting" class="nav-count" hx-swap-oob="true"' in body
    assert "1 conversation waits for an answer" in body


def test_the_list_runs_the_same_queries_with_conversations_waiting(
    staff_client, dealership, django_assert_num_queries
):
    staff_client.get(LIST)
    for size in (2, 20):
        for n in range(size):
            appointment = appointment_today(dealership, 8 + n % 10)
            written(appointment, f"Vraag {n}")
            if n % 2:
                conversation.answer(loaded(appointment), Answer.NO)
        # session, user, memberships, the list's ids, its rows, the day's count per state
        with django_assert_num_queries(6):
            response = staff_client.get(LIST)
        assert response.context["conversations_waiting"] == Message.objects.unread().count()


# --- The inbox of messages that matched nothing ------------------------------------------------


def test_an_unmatched_message_is_put_with_its_appointment_by_reference(
    staff_client, receptionist, dealership
):
    appointment = AppointmentFactory(dealership=dealership, external_ref="DMS-4711")
    stray = Message.objects.create(
        dealership=dealership,
        channel="sms",
        direction="in",
        purpose="reply",
        recipient="+3225550100",
        sender="+32470999999",
        body="Ok",
        status="received",
    )
    elsewhere = DealershipFactory()
    Message.objects.create(
        dealership=elsewhere,
        channel="sms",
        direction="in",
        purpose="reply",
        recipient="+3225550100",
        sender="+32470888888",
        body="Not yours",
        status="received",
    )

    inbox = staff_client.get(reverse("workshop:inbox")).content.decode()
    assert "+32470999999" in inbox
    assert "Not yours" not in inbox

    url = reverse("workshop:attach_message", args=[stray.pk])
    wrong = staff_client.post(url, {f"m{stray.pk}-reference": "DMS-0000"})
    assert wrong.status_code == 400
    assert "No appointment here has this reference." in wrong.content.decode()
    assert 'value="DMS-0000"' in wrong.content.decode()

    right = staff_client.post(url, {f"m{stray.pk}-reference": "dms-4711"})
    assert right.status_code == 302
    stray.refresh_from_db()
    assert stray.appointment == appointment
    # A one-word answer counts once it is with its appointment.
    assert loaded(appointment).confirmation == "confirmed"


def test_another_dealerships_unmatched_message_cannot_be_attached(staff_client, dealership):
    stray = Message.objects.create(
        dealership=DealershipFactory(),
        channel="sms",
        direction="in",
        purpose="reply",
        recipient="+3225550100",
        sender="+32470999999",
        body="Hallo",
        status="received",
    )
    AppointmentFactory(dealership=dealership, external_ref="DMS-1")
    response = staff_client.post(
        reverse("workshop:attach_message", args=[stray.pk]), {f"m{stray.pk}-reference": "DMS-1"}
    )
    assert response.status_code == 404


def test_an_advisor_opts_in_to_an_email_when_their_customers_write(
    staff_client, receptionist, dealership
):
    url = reverse("workshop:message_alerts")
    staff_client.post(url, {"email_on_customer_message": "on"})
    membership = receptionist.memberships.get(dealership=dealership)
    assert membership.email_on_customer_message
    page = staff_client.get(reverse("workshop:inbox")).content.decode()
    assert re.search(r'<input[^>]*id="email-alerts"[^>]*checked', page)

    staff_client.post(url, {})
    membership.refresh_from_db()
    assert not membership.email_on_customer_message


def test_a_reply_and_the_inbox_run_a_fixed_number_of_queries(
    staff_client, dealership, django_assert_num_queries
):
    appointment = AppointmentFactory(dealership=dealership)
    reply_url = reverse("workshop:reply", args=[appointment.pk])
    staff_client.get(reverse("workshop:inbox"))
    for size in (1, 10):
        for n in range(size):
            written(appointment, f"Vraag {size}.{n}")
            Message.objects.create(
                dealership=dealership,
                channel="sms",
                direction="in",
                purpose="reply",
                recipient="+3225550100",
                sender=f"+3247000{size:02d}{n:02d}",
                body="Wie ben ik?",
                status="received",
            )
        # session, user, memberships, the appointment; then the reply written and the
        # conversation read, in one transaction
        with django_assert_num_queries(8):
            response = staff_client.post(reply_url, {"channel": "sms", "body": "Ja."}, headers=HTMX)
        assert response.status_code == 204
        # session, user, memberships, the unmatched messages with their customers
        with django_assert_num_queries(4):
            staff_client.get(reverse("workshop:inbox"))
