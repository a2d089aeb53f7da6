"""Follow-ups open by themselves where their reason arises, once per appointment and
reason, also when two events arrive at the same moment."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from followups import opening
from followups.models import FollowUp, FollowUpSettings, Reason
from notifications import conversation, delivery
from notifications.answers_words import Answer
from notifications.models import Message
from tests.factories import AppointmentFactory, CustomerFactory, OfferFactory
from workshop import checkin as flow
from workshop.answers import OfferChoice
from workshop.models import AppointmentEvent


@pytest.mark.django_db
def test_opening_twice_gives_the_same_follow_up_and_a_closed_one_allows_a_new_one():
    appointment = AppointmentFactory()
    first = opening.open_follow_up(appointment, Reason.MANUAL)
    assert opening.open_follow_up(appointment, Reason.MANUAL) == first
    assert opening.open_follow_up(appointment, Reason.DECLINED) != first
    assert FollowUp.objects.count() == 2
    assert appointment.events.filter(kind=AppointmentEvent.Kind.FOLLOW_UP_OPENED).count() == 2

    FollowUp.objects.filter(pk=first.pk).update(
        status="closed", outcome="resolved", closed_at=timezone.now()
    )
    assert opening.open_follow_up(appointment, Reason.MANUAL) != first


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent inserts; CI runs it")
@pytest.mark.django_db(transaction=True)
def test_concurrent_events_open_one_follow_up():
    appointment = AppointmentFactory()
    start = threading.Barrier(6)
    found: list[int] = []
    errors: list[BaseException] = []

    def event() -> None:
        try:
            start.wait(timeout=10)
            found.append(opening.open_follow_up(appointment, Reason.NOT_REACHABLE).pk)
        except BaseException as error:  # re-raised below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=event) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert not errors, errors
    assert len(found) == 6
    assert len(set(found)) == 1
    assert FollowUp.objects.filter(appointment=appointment).count() == 1


@pytest.mark.django_db
def test_asking_about_an_offer_opens_one_follow_up_naming_it():
    appointment = AppointmentFactory()
    wash = OfferFactory(dealership=appointment.dealership, name="Car wash")
    flow.set_offer_choice(appointment.checkin, wash, OfferChoice.CONTACT)
    flow.submit_checkin(appointment.checkin)
    flow.submit_checkin(appointment.checkin)  # a double tap

    follow_up = FollowUp.objects.get()
    assert (follow_up.reason, follow_up.about) == (Reason.OFFER_CONTACT, "Car wash")


@pytest.mark.django_db
def test_a_checkin_without_questions_opens_none():
    appointment = AppointmentFactory()
    wash = OfferFactory(dealership=appointment.dealership)
    flow.set_offer_choice(appointment.checkin, wash, OfferChoice.ACCEPT)
    flow.submit_checkin(appointment.checkin)
    assert not FollowUp.objects.exists()


@pytest.mark.django_db
def test_a_decline_opens_a_high_priority_follow_up():
    appointment = AppointmentFactory()
    conversation.answer(appointment, Answer.NO)
    follow_up = FollowUp.objects.get()
    assert (follow_up.reason, follow_up.priority) == (Reason.DECLINED, FollowUp.Priority.HIGH)


@pytest.mark.django_db
def test_a_customer_no_channel_reaches_gets_a_follow_up():
    customer = CustomerFactory(email="")
    appointment = AppointmentFactory(customer=customer, dealership=customer.dealership)
    message = Message.objects.create(
        appointment=appointment,
        customer=customer,
        channel="sms",
        direction="out",
        purpose="invitation",
        recipient="+32470123456",
        body="…",
        status="sending",
    )
    delivery.fail(message, "invalid number", from_statuses=["sending"])
    assert FollowUp.objects.get().reason == Reason.NOT_REACHABLE


@pytest.mark.django_db
def test_the_sweep_opens_a_follow_up_for_an_unopened_invitation_days_before_once():
    now = timezone.now()
    soon = AppointmentFactory(starts_at=now + timedelta(days=1))
    later = AppointmentFactory(starts_at=now + timedelta(days=6))
    opened = AppointmentFactory(starts_at=now + timedelta(days=1))
    for appointment in (soon, later, opened):
        appointment.checkin.invited_at = now - timedelta(days=2)
        appointment.checkin.save()
    opened.checkin.opened_at = now
    opened.checkin.save()
    FollowUpSettings.objects.create(dealership=soon.dealership, not_opened_days_before=2)

    assert opening.open_not_opened(now) == 1
    assert opening.open_not_opened(now) == 0
    follow_up = FollowUp.objects.get()
    assert (follow_up.appointment, follow_up.reason) == (soon, Reason.NOT_OPENED)
    follow_up.status, follow_up.outcome, follow_up.closed_at = "closed", "resolved", now
    follow_up.save()
    assert opening.open_not_opened(now) == 0  # handled is handled
