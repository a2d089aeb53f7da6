"""The To-call page, the call dialog, adding by hand, the nav's count, the appointment page."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from followups import opening
from followups.models import Attempt, FollowUp, Priority, Reason, Tag
from notifications.models import Message
from tests.factories import AppointmentFactory, MembershipFactory
from workshop.models import Role

pytestmark = pytest.mark.django_db

CALLS = reverse("followups:calls")


def follow_ups(dealership, n: int, **fields) -> list[FollowUp]:
    made = []
    for i in range(n):
        appointment = AppointmentFactory(dealership=dealership)
        follow_up = opening.open_follow_up(appointment, Reason.MANUAL)
        for name, value in fields.items():
            setattr(follow_up, name, value(i) if callable(value) else value)
        follow_up.save()
        made.append(follow_up)
    return made


def test_mechanics_never_see_follow_ups(client, mechanic, dealership):
    [follow_up] = follow_ups(dealership, 1)
    client.force_login(mechanic)
    assert client.get(CALLS).status_code == 404
    assert client.get(reverse("followups:call", args=[follow_up.pk])).status_code == 404
    assert (
        client.post(
            reverse("followups:call", args=[follow_up.pk]), {"outcome": "agreed"}
        ).status_code
        == 404
    )
    assert (
        reverse("followups:calls")
        not in client.get(reverse("workshop:workshop_day")).content.decode()
    )


def test_another_dealerships_follow_up_is_not_found(staff_client):
    [elsewhere] = follow_ups(AppointmentFactory().dealership, 1)
    assert staff_client.get(reverse("followups:call", args=[elsewhere.pk])).status_code == 404
    assert elsewhere.appointment.customer.full_name not in staff_client.get(CALLS).content.decode()


def test_due_now_first_then_priority_then_due_time(staff_client, dealership):
    now = timezone.now()
    later_urgent, due_low, due_high_late, due_high_early = follow_ups(dealership, 4)
    FollowUp.objects.filter(pk=later_urgent.pk).update(
        due_at=now + timedelta(hours=3), priority=Priority.URGENT
    )
    FollowUp.objects.filter(pk=due_low.pk).update(
        due_at=now - timedelta(hours=3), priority=Priority.LOW
    )
    FollowUp.objects.filter(pk=due_high_late.pk).update(
        due_at=now - timedelta(hours=1), priority=Priority.HIGH
    )
    FollowUp.objects.filter(pk=due_high_early.pk).update(
        due_at=now - timedelta(hours=2), priority=Priority.HIGH
    )

    rows = staff_client.get(CALLS).context["rows"]

    assert [r.pk for r in rows] == [
        due_high_early.pk,
        due_high_late.pk,
        due_low.pk,
        later_urgent.pk,
    ]
    assert [r.due for r in rows] == [True, True, True, False]


def test_the_filters(staff_client, dealership, receptionist):
    declined, manual, tagged = follow_ups(dealership, 3)
    FollowUp.objects.filter(pk=declined.pk).update(
        reason=Reason.DECLINED, assigned_to=receptionist, priority=Priority.HIGH
    )
    tag = Tag.objects.create(dealership=dealership, name="VIP")
    tagged.tags.add(tag)

    def shown(**params):
        return {r.pk for r in staff_client.get(CALLS, params).context["rows"]}

    assert shown(reason="declined") == {declined.pk}
    assert shown(assignee=receptionist.pk) == {declined.pk}
    assert shown(assignee="none") == {manual.pk, tagged.pk}
    assert shown(tag=tag.pk) == {tagged.pk}
    assert shown(priority=Priority.MEDIUM) == {manual.pk, tagged.pk}
    assert shown(status="closed") == set()


def test_managers_see_what_is_escalated(client, dealership):
    manager = MembershipFactory(dealership=dealership, role=Role.MANAGER).user
    overdue, urgent, _fine = follow_ups(dealership, 3)
    FollowUp.objects.filter(pk=overdue.pk).update(due_at=timezone.now() - timedelta(hours=30))
    FollowUp.objects.filter(pk=urgent.pk).update(priority=Priority.URGENT)
    client.force_login(manager)

    response = client.get(CALLS, {"escalated": "1"})

    assert {r.pk for r in response.context["rows"]} == {overdue.pk, urgent.pk}
    assert "Escalated" in response.content.decode()
    assert response.context["escalated_count"] == 2
    assert client.get(CALLS).context["escalated_count"] == 2


@pytest.mark.parametrize("size", [20, 500])
def test_the_to_call_page_runs_a_fixed_number_of_queries(
    staff_client, dealership, size, django_assert_num_queries
):
    tag = Tag.objects.create(dealership=dealership, name="VIP")
    for follow_up in follow_ups(dealership, size):
        follow_up.tags.add(tag)
    staff_client.get(CALLS)
    # session, user, memberships, settings, rows, their tags, the filters' tags and users
    with django_assert_num_queries(8):
        response = staff_client.get(CALLS)
    assert len(response.context["rows"]) == min(size, 100)


def test_the_call_dialog_shows_the_phone_history_and_templates(staff_client, dealership):
    from followups.models import NoteTemplate

    [follow_up] = follow_ups(dealership, 1)
    Attempt.objects.create(follow_up=follow_up, number=1, outcome="no_answer", note="rang out")
    NoteTemplate.objects.create(
        dealership=dealership, language="nl", name="Voicemail", text="Ingesproken"
    )

    body = staff_client.get(
        reverse("followups:call", args=[follow_up.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()

    assert "<dialog" in body
    assert 'href="tel:+32470123456"' in body
    assert "rang out" in body
    assert "Ingesproken" in body


def test_logging_a_call_without_javascript_and_with_htmx(staff_client, dealership):
    first, second = follow_ups(dealership, 2)
    url = reverse("followups:call", args=[first.pk])

    response = staff_client.post(url, {"outcome": "agreed", "note": "booked the wash"})
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.outcome == FollowUp.Outcome.RESOLVED

    response = staff_client.post(
        reverse("followups:call", args=[second.pk]),
        {"outcome": "no_answer"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 204
    assert "callsChanged" in response["HX-Trigger"]


def test_a_call_back_needs_a_time_on_a_working_day(staff_client, dealership):
    [follow_up] = follow_ups(dealership, 1)
    url = reverse("followups:call", args=[follow_up.pk])

    response = staff_client.post(url, {"outcome": "call_back", "note": "kept"})
    assert response.status_code == 200
    assert "Say when to call back." in response.content.decode()
    assert "kept" in response.content.decode()  # nothing typed is lost

    response = staff_client.post(url, {"outcome": "call_back", "call_back_at": "2020-01-06T10:00"})
    assert "The call-back time has passed" in response.content.decode()
    assert not Attempt.objects.exists()


def test_add_a_follow_up_by_hand_and_see_it_on_the_appointment_page(
    staff_client, appointment, receptionist
):
    response = staff_client.post(
        reverse("followups:add", args=[appointment.pk]),
        {
            "reason": "manual",
            "about": "Ask about tyres",
            "priority": "3",
            "assigned_to": receptionist.pk,
        },
    )
    assert response.status_code == 302
    follow_up = FollowUp.objects.get()
    assert (follow_up.about, follow_up.priority, follow_up.assigned_to) == (
        "Ask about tyres",
        3,
        receptionist,
    )

    page = staff_client.get(reverse("workshop:appointment", args=[appointment.pk])).content.decode()
    assert "Ask about tyres" in page
    assert "Needs a call" in page  # on the timeline


def test_a_message_that_needs_a_call_opens_the_form_with_that_reason(staff_client, appointment):
    Message.objects.create(
        appointment=appointment,
        customer=appointment.customer,
        channel="sms",
        direction="in",
        purpose="reply",
        recipient="x",
        body="Can you call me about the brakes?",
        status="received",
    )
    page = staff_client.get(reverse("workshop:appointment", args=[appointment.pk]))
    link = reverse("followups:add", args=[appointment.pk]) + "?reason=customer_message"
    assert f'href="{link}"' in page.content.decode()

    form = staff_client.get(link).content.decode()

    assert '<option value="customer_message" selected>' in form


def test_the_nav_count_is_one_cheap_query(staff_client, dealership, django_assert_num_queries):
    follow_ups(dealership, 3)
    later = follow_ups(dealership, 1)[0]
    FollowUp.objects.filter(pk=later.pk).update(due_at=timezone.now() + timedelta(days=2))
    staff_client.get(reverse("followups:count"))
    with django_assert_num_queries(4):  # session, user, memberships, the count
        response = staff_client.get(reverse("followups:count"))
    assert ">3<" in response.content.decode()


def test_priority_assignee_and_tags_change_from_the_call_dialog(
    staff_client, dealership, receptionist
):
    [follow_up] = follow_ups(dealership, 1)
    vip = Tag.objects.create(dealership=dealership, name="VIP")
    elsewhere = Tag.objects.create(dealership=AppointmentFactory().dealership, name="Other")
    url = reverse("followups:details", args=[follow_up.pk])

    response = staff_client.post(
        url, {"priority": 4, "assigned_to": receptionist.pk, "tags": [vip.pk]}
    )
    assert response.status_code == 302
    follow_up.refresh_from_db()
    assert (follow_up.priority, follow_up.assigned_to) == (Priority.URGENT, receptionist)
    assert list(follow_up.tags.all()) == [vip]

    staff_client.post(url, {"priority": 1, "tags": [elsewhere.pk]})  # not this dealership's
    follow_up.refresh_from_db()
    assert follow_up.priority == Priority.URGENT
    assert list(follow_up.tags.all()) == [vip]


def test_the_sweep_is_a_registered_beat_task(settings):
    from config.celery import app

    assert "followups.sweep" in app.tasks
    tasks = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()]
    assert "followups.sweep" in tasks


def test_managers_set_only_their_own_closing_days_in_the_admin(client, dealership):
    from django.contrib.auth.models import Group, Permission

    from followups.models import ClosingDay

    manager = MembershipFactory(dealership=dealership, role=Role.MANAGER).user
    manager.is_staff = True
    manager.save()
    group, _ = Group.objects.get_or_create(name="Managers")
    group.permissions.set(Permission.objects.filter(codename__endswith="closingday"))
    manager.groups.add(group)
    other = AppointmentFactory().dealership
    ClosingDay.objects.create(dealership=other, date="2026-12-24", label="Not ours")
    client.force_login(manager)

    listing = client.get(reverse("admin:followups_closingday_changelist")).content.decode()
    assert "Not ours" not in listing
    response = client.post(
        reverse("admin:followups_closingday_add"),
        {"dealership": other.pk, "date": "2026-12-31", "label": "Sneaky"},
    )
    assert response.status_code == 200  # refused: not a dealership they manage
    assert not ClosingDay.objects.filter(label="Sneaky").exists()


def test_a_follow_up_no_longer_needed_is_closed_as_cancelled(staff_client, dealership):
    [follow_up] = follow_ups(dealership, 1)
    response = staff_client.post(reverse("followups:close", args=[follow_up.pk]))
    assert response.status_code == 302
    follow_up.refresh_from_db()
    assert (follow_up.status, follow_up.outcome) == ("closed", FollowUp.Outcome.CANCELLED)
    assert follow_up.closed_by is not None
