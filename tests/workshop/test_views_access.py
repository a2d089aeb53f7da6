"""Who sees what on the staff pages: a login, one's own dealerships, one's role; else 404."""

from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    AppointmentFactory,
    DealershipFactory,
    MembershipFactory,
    UserFactory,
    WorkItemFactory,
)
from tests.workshop.staffdata import (
    answered,
    appointment_today,
    media_root_fixture,  # noqa: F401 - the media_root fixture
    open_remark,
    photo,
)
from workshop import checkin as flow
from workshop.models import Appointment, Attachment, CheckInItem, Role, WorkItem

pytestmark = pytest.mark.django_db


def appointment_urls(appointment, item, work_item) -> list[str]:
    pk = appointment.pk
    return [
        reverse("workshop:appointment", args=[pk]),
        reverse("workshop:convert_item", args=[pk, item.pk]),
        reverse("workshop:handle_item", args=[pk, item.pk]),
        reverse("workshop:share_item", args=[pk, item.pk]),
        reverse("workshop:add_work_item", args=[pk]),
        reverse("workshop:edit_work_item", args=[pk, work_item.pk]),
        reverse("workshop:remove_work_item", args=[pk, work_item.pk]),
        reverse("workshop:rotate_link", args=[pk]),
    ]


@pytest.fixture
def scene(dealership, media_root):
    appointment = appointment_today(dealership)
    remark = open_remark(appointment)
    work_item = WorkItemFactory(appointment=appointment, origin=WorkItem.Origin.STAFF)
    attachment = photo(remark)
    return appointment, remark, work_item, attachment


def test_every_staff_page_needs_a_login(client, scene):
    appointment, remark, work_item, attachment = scene
    urls = [
        reverse("workshop:appointments"),
        reverse("workshop:workshop_day"),
        reverse("workshop:job_card", args=[appointment.pk]),
        reverse("workshop:attachment", args=[attachment.pk, "file"]),
        *appointment_urls(appointment, remark, work_item),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_another_dealerships_appointment_is_a_404_for_every_page_and_action(client, scene):
    appointment, remark, work_item, attachment = scene
    outsider = MembershipFactory(dealership=DealershipFactory(), role=Role.MANAGER).user
    client.force_login(outsider)
    for url in appointment_urls(appointment, remark, work_item):
        assert client.get(url).status_code == 404, url
    for url in appointment_urls(appointment, remark, work_item)[1:]:  # the actions
        assert client.post(url, {"price": "1", "description": "x"}).status_code == 404, url
    assert client.get(reverse("workshop:job_card", args=[appointment.pk])).status_code == 404
    assert (
        client.get(reverse("workshop:attachment", args=[attachment.pk, "file"])).status_code == 404
    )
    remark.refresh_from_db()
    assert remark.state == CheckInItem.State.OPEN
    assert WorkItem.objects.filter(appointment=appointment).count() == 1


def test_an_item_of_another_appointment_is_a_404(staff_client, dealership):
    mine = appointment_today(dealership)
    other = appointment_today(dealership, hour=11)
    remark = open_remark(other)
    url = reverse("workshop:convert_item", args=[mine.pk, remark.pk])
    assert staff_client.get(url).status_code == 404


def test_a_mechanic_never_gets_the_receptionists_pages(client, mechanic, scene):
    appointment, remark, work_item, _attachment = scene
    client.force_login(mechanic)
    # A link to the appointment page (from reception, say) opens the workshop's view of it.
    page = client.get(reverse("workshop:appointment", args=[appointment.pk]))
    assert page.status_code == 302
    assert page["Location"] == reverse("workshop:workshop_appointment", args=[appointment.pk])
    for url in appointment_urls(appointment, remark, work_item)[1:]:  # prices, contact, actions
        assert client.get(url).status_code == 404, url
        assert client.post(url).status_code == 404, url
    response = client.get(reverse("workshop:appointments"))
    assert response.status_code == 302
    assert response["Location"] == reverse("workshop:workshop_day")


def test_the_workshop_page_shows_mechanics_no_prices_no_contact_details_no_unshared_remarks(
    client, mechanic, dealership, media_root
):
    appointment = appointment_today(dealership)
    WorkItemFactory(appointment=appointment, description="Replace brake pads", price="245.50")
    WorkItemFactory(
        appointment=appointment, description="Internal note line", visible_to_mechanics=False
    )
    shared = open_remark(appointment, subject="Rattle in the dashboard")
    flow.share_item(shared, UserFactory(), visible=True)
    shared_photo = photo(shared)
    hidden = open_remark(appointment, subject="Please call me about the price")
    hidden_photo = photo(hidden)
    client.force_login(mechanic)
    body = client.get(reverse("workshop:workshop_day")).content.decode()
    assert "Replace brake pads" in body
    assert appointment.vehicle.plate in body
    assert "Rattle in the dashboard" in body
    assert reverse("workshop:attachment", args=[shared_photo.pk, "thumbnail"]) in body
    assert "245" not in body
    assert "€" not in body
    assert "Internal note line" not in body
    assert "Please call me about the price" not in body
    assert reverse("workshop:attachment", args=[hidden_photo.pk, "thumbnail"]) not in body
    customer = appointment.customer
    assert str(customer.phone) not in body
    assert customer.phone.as_international not in body
    assert customer.email not in body
    assert customer.last_name not in body


def test_mechanics_get_shared_media_and_nothing_else(client, mechanic, dealership, media_root):
    appointment = appointment_today(dealership)
    shared = open_remark(appointment)
    flow.share_item(shared, UserFactory(), visible=True)
    shown = photo(shared)
    not_shared = photo(open_remark(appointment, subject="Other"))
    rejected = photo(shared, state=Attachment.State.REJECTED)
    client.force_login(mechanic)
    assert client.get(reverse("workshop:attachment", args=[shown.pk, "file"])).status_code == 200
    for attachment in (not_shared, rejected):
        url = reverse("workshop:attachment", args=[attachment.pk, "file"])
        assert client.get(url).status_code == 404


def test_mechanics_move_between_days_and_open_any_days_job(
    client, mechanic, dealership, media_root
):
    # Ten o'clock tomorrow in the dealership's time zone, whatever the hour of the run.
    day_after = timezone.localdate(timezone=dealership.tz) + timedelta(days=1)
    tomorrow = AppointmentFactory(
        dealership=dealership, starts_at=datetime.combine(day_after, time(10), dealership.tz)
    )
    remark = open_remark(tomorrow, subject="Rattle in the dashboard")
    flow.share_item(remark, UserFactory(), visible=True)
    attachment = photo(remark)
    client.force_login(mechanic)
    today = client.get(reverse("workshop:workshop_day")).content.decode()
    day = (timezone.localdate(timezone=dealership.tz) + timedelta(days=1)).isoformat()
    assert f'href="?day={day}"' in today  # the next day is a link away
    body = client.get(reverse("workshop:workshop_day"), {"day": day}).content.decode()
    assert tomorrow.vehicle.plate in body
    assert reverse("workshop:workshop_appointment", args=[tomorrow.pk]) in body
    assert client.get(reverse("workshop:job_card", args=[tomorrow.pk])).status_code == 200
    assert (
        client.get(reverse("workshop:attachment", args=[attachment.pk, "file"])).status_code == 200
    )


def test_the_workshop_view_of_one_appointment_shows_no_prices_no_contact_details(
    client, mechanic, dealership, media_root
):
    appointment = appointment_today(dealership)
    WorkItemFactory(appointment=appointment, description="Replace brake pads", price="245.50")
    WorkItemFactory(
        appointment=appointment, description="Internal note line", visible_to_mechanics=False
    )
    shared = open_remark(appointment, subject="Rattle in the dashboard")
    flow.share_item(shared, UserFactory(), visible=True)
    shared_photo = photo(shared)
    hidden = open_remark(appointment, subject="Please call me about the price")
    client.force_login(mechanic)
    response = client.get(reverse("workshop:workshop_appointment", args=[appointment.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Replace brake pads" in body
    assert "Rattle in the dashboard" in body
    assert reverse("workshop:attachment", args=[shared_photo.pk, "thumbnail"]) in body
    assert reverse("workshop:job_card", args=[appointment.pk]) in body
    for secret in ("245", "€", "Internal note line", hidden.subject):
        assert secret not in body, secret
    customer = appointment.customer
    for contact in (customer.phone.as_international, customer.email, customer.last_name):
        assert contact not in body, contact


def test_the_workshop_view_is_a_404_for_another_dealership_and_a_cancelled_appointment(
    client, mechanic, dealership
):
    elsewhere = AppointmentFactory(dealership=DealershipFactory())
    cancelled = appointment_today(dealership)
    cancelled.status = Appointment.Status.CANCELLED
    cancelled.save(update_fields=["status"])
    client.force_login(mechanic)
    for appointment in (elsewhere, cancelled):
        url = reverse("workshop:workshop_appointment", args=[appointment.pk])
        assert client.get(url).status_code == 404, url


def test_staff_never_see_what_the_customer_has_not_sent(staff_client, dealership, media_root):
    appointment = appointment_today(dealership)
    draft = CheckInItem.objects.create(
        checkin=appointment.checkin, kind=CheckInItem.Kind.REMARK, subject="Still typing this"
    )
    draft_photo = photo(draft)
    body = staff_client.get(reverse("workshop:appointment", args=[appointment.pk])).content
    assert b"Still typing this" not in body
    url = reverse("workshop:attachment", args=[draft_photo.pk, "file"])
    assert staff_client.get(url).status_code == 404
    assert (
        staff_client.get(
            reverse("workshop:convert_item", args=[appointment.pk, draft.pk])
        ).status_code
        == 404
    )


def test_a_user_in_two_dealerships_opens_an_appointment_of_either(staff_client, receptionist):
    second = MembershipFactory(user=receptionist, dealership=DealershipFactory())
    there = AppointmentFactory(dealership=second.dealership)
    response = staff_client.get(reverse("workshop:appointment", args=[there.pk]))
    assert response.status_code == 200
    assert there.customer.full_name in response.content.decode()


def test_a_mechanic_here_is_not_a_mechanic_there(client, dealership):
    """Roles are per dealership: receptionist in one, mechanic in the other."""
    user = MembershipFactory(dealership=dealership, role=Role.RECEPTIONIST).user
    elsewhere = MembershipFactory(user=user, dealership=DealershipFactory(), role=Role.MECHANIC)
    there = AppointmentFactory(dealership=elsewhere.dealership)
    client.force_login(user)
    page = client.get(reverse("workshop:appointment", args=[there.pk]))
    assert page["Location"] == reverse("workshop:workshop_appointment", args=[there.pk])
    assert client.get(reverse("workshop:add_work_item", args=[there.pk])).status_code == 404


def test_after_five_failed_logins_the_sixth_attempt_is_locked_out(client):
    UserFactory(username="rita", password="the-right-password-1")
    statuses = []
    for _ in range(5):
        response = client.post(reverse("login"), {"username": "rita", "password": "wrong"})
        statuses.append(response.status_code)
    assert statuses == [200, 200, 200, 200, 429]  # the fifth failure locks
    sixth_wrong = client.post(reverse("login"), {"username": "rita", "password": "wrong"})
    assert sixth_wrong.status_code == 429
    sixth_right = client.post(
        reverse("login"), {"username": "rita", "password": "the-right-password-1"}
    )
    assert sixth_right.status_code == 429
    assert "Too many failed log-ins" in sixth_right.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_guessed_attachment_id_is_a_404_not_a_403(staff_client, dealership, media_root):
    elsewhere = AppointmentFactory(dealership=DealershipFactory())
    attachment = photo(open_remark(elsewhere))
    response = staff_client.get(reverse("workshop:attachment", args=[attachment.pk, "file"]))
    assert response.status_code == 404
    assert (
        staff_client.get(reverse("workshop:attachment", args=[999999, "file"])).status_code == 404
    )


def test_handled_answers_stay_visible_to_receptionists(staff_client, dealership):
    appointment = appointment_today(dealership)
    made = answered(appointment)
    flow.handle_item(made["remarks"][0], UserFactory(), note="Called back")
    body = staff_client.get(reverse("workshop:appointment", args=[appointment.pk])).content
    assert b"Squeaky brakes" in body
    assert b"Called back" in body


def test_the_workshop_page_runs_the_same_queries_for_20_vehicles_as_for_2(
    client, mechanic, dealership, media_root, django_assert_num_queries
):
    rita = UserFactory()

    def vehicles(count):
        for n in range(count):
            appointment = appointment_today(dealership, hour=7 + n % 12)
            WorkItemFactory(appointment=appointment)
            remark = open_remark(appointment)
            flow.share_item(remark, rita, visible=True)
            photo(remark)

    client.force_login(mechanic)
    vehicles(2)
    client.get(reverse("workshop:workshop_day"))
    # session, user, memberships, appointments, work items, check-ins, remarks, files
    with django_assert_num_queries(8):
        client.get(reverse("workshop:workshop_day"))
    vehicles(18)
    with django_assert_num_queries(8):
        body = client.get(reverse("workshop:workshop_day")).content.decode()
    assert body.count('class="job card"') == 20


def test_managers_do_everything_receptionists_do(client, dealership):
    manager = MembershipFactory(dealership=dealership, role=Role.MANAGER).user
    appointment = appointment_today(dealership)
    remark = open_remark(appointment)
    client.force_login(manager)
    assert client.get(reverse("workshop:appointments")).status_code == 200
    response = client.post(
        reverse("workshop:convert_item", args=[appointment.pk, remark.pk]),
        {"action": "convert", "description": "Check it", "price": "10"},
    )
    assert response.status_code == 302
    assert WorkItem.objects.get(description="Check it").created_by == manager
