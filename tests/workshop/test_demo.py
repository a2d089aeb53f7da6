import io
import re
from datetime import date

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from workshop.demo import DEMO_USERS, Seeder, tour
from workshop.models import (
    Appointment,
    Attachment,
    CheckInItem,
    Dealership,
    Offer,
    OnlineCheckIn,
    Role,
)

User = get_user_model()

pytestmark = pytest.mark.django_db


def snapshot():
    return {
        "dealerships": list(Dealership.objects.values_list("slug", "country")),
        "appointments": list(
            Appointment.objects.order_by("dealership", "external_ref").values_list(
                "external_ref", "starts_at", "status", "customer__last_name", "vehicle__plate"
            )
        ),
        "items": list(CheckInItem.objects.order_by("pk").values_list("kind", "state")),
        "checkins": list(
            OnlineCheckIn.objects.order_by("pk").values_list(
                "invitation_status", "opened_at", "answered_at", "handled_at"
            )
        ),
    }


@time_machine.travel("2026-11-25 10:00 +01:00", tick=False)
def test_seeding_twice_gives_the_same_data():
    call_command("seed_demo")
    first = snapshot()
    call_command("seed_demo")
    assert snapshot() == first
    assert 130 <= len(first["appointments"]) <= 170


@time_machine.travel("2026-11-25 10:00 +01:00", tick=False)
def test_the_demo_holds_every_checkin_state():
    Seeder().run()
    assert Dealership.objects.filter(country="BE").exists()
    assert Dealership.objects.filter(country="NL").exists()
    checkins = OnlineCheckIn.objects.select_related("appointment")
    not_invited = checkins.filter(invited_at__isnull=True)
    invited = checkins.filter(invited_at__isnull=False, opened_at__isnull=True)
    opened = checkins.filter(opened_at__isnull=False, answered_at__isnull=True)
    pinned = Appointment.objects.pinned()
    all_handled = checkins.filter(answered_at__isnull=False, handled_at__isnull=False)
    closed = checkins.filter(appointment__starts_at__lt="2026-11-25 09:00Z")
    for state in (not_invited, invited, opened, pinned, all_handled, closed):
        assert state.exists()
    # Some appointments are due and not yet invited: beat sends them on the first run.
    assert (
        not_invited.filter(appointment__starts_at__lt="2026-11-28 09:00Z")
        .filter(appointment__starts_at__gt="2026-11-25 09:00Z")
        .exists()
    )
    assert Attachment.objects.filter(state=Attachment.State.READY).exclude(thumbnail="").exists()


@time_machine.travel("2026-11-25 10:00 +01:00", tick=False)
def test_the_demo_mixes_languages_channels_and_offers():
    Seeder().run()
    be = Dealership.objects.get(country="BE")
    languages = set(be.customers.values_list("language", flat=True))
    assert {"nl", "fr"} <= languages
    channels = set(be.customers.values_list("preferred_channel", flat=True))
    assert channels == {"sms", "email"}
    for dealership in Dealership.objects.all():
        assert Offer.objects.filter(dealership=dealership, active=True).count() >= 6
    assert set(DEMO_USERS) <= set(
        Dealership.objects.values_list("memberships__user__username", flat=True)
    )


def test_a_later_day_gets_appointments_of_its_own():
    with time_machine.travel("2026-11-25 10:00 +01:00", tick=False):
        Seeder().run()
    saturday = date(2026, 12, 12)  # past the seeded three weeks, and a weekend day
    with time_machine.travel("2026-12-12 08:00 +01:00", tick=False):
        Seeder().run()
        for dealership in Dealership.objects.all():
            assert Appointment.objects.for_day(dealership, saturday).count() == 3


@time_machine.travel("2026-11-25 10:00 +01:00", tick=False)
def test_the_demo_mechanic_has_shared_remarks_with_photos_to_look_at():
    Seeder().run()
    shared = CheckInItem.objects.visible_to_mechanics()
    assert shared.exists()
    assert Attachment.objects.filter(item__in=shared, state=Attachment.State.READY).exists()


@time_machine.travel("2026-11-25 10:00 +01:00", tick=False)
def test_the_demo_mechanic_opens_on_the_dealership_reception_opens_on(client):
    Seeder().run()
    opened_on = {}
    for username in ("reception", "mechanic"):
        client.force_login(User.objects.get(username=username))
        response = client.get(reverse("workshop:workshop_day"))
        opened_on[username] = response.context["dealership"]
    assert opened_on["mechanic"] == opened_on["reception"]
    mechanic = User.objects.get(username="mechanic")
    assert set(mechanic.memberships.values_list("role", flat=True)) == {Role.MECHANIC}
    assert mechanic.memberships.count() == Dealership.objects.count()


@time_machine.travel("2026-11-25 10:00 +01:00", tick=False)
def test_the_banner_lists_dealerships_and_open_customer_links_on_the_demos_port(settings):
    settings.DEMO_MODE = True
    settings.SITE_URL = "http://127.0.0.1:8110"
    settings.PORT = 8110
    call_command("seed_demo", stdout=io.StringIO())
    out = io.StringIO()
    call_command("demo_banner", stdout=out)
    banner = out.getvalue()
    assert "http://127.0.0.1:8110/staff/" in banner
    assert "reception, mechanic, manager - password pitlane-demo" in banner
    for dealership in Dealership.objects.all():
        assert f"{dealership.name} ({dealership.slug})" in banner
    links = re.findall(r"http://127\.0\.0\.1:8110/c/([\w-]+)", banner)
    assert len(links) == 5
    for described in (
        "Dutch, not opened yet",
        "French, opened, answers not sent yet",
        "English, sent, waiting for reception",
        "German, not opened yet",
        "Dutch, sent, waiting for reception",
    ):
        assert described in banner, described
    for token in links:  # each link is the check-in's own, and still open
        checkin = next(c for c in OnlineCheckIn.objects.all() if c.token == token)
        assert not checkin.is_closed
    # The `make link` example names a real appointment whose link is one of those above.
    slug, ref = re.search(r"make link DEALERSHIP=(\S+) REF=(\S+)", banner).groups()
    out = io.StringIO()
    call_command("checkin_link", slug, ref, stdout=out)
    assert out.getvalue().strip().removeprefix("http://127.0.0.1:8110/c/") in links


def test_the_showcase_links_are_booked_anew_once_they_closed(settings):
    with time_machine.travel("2026-11-25 10:00 +01:00", tick=False):
        Seeder().run()
        first = {stop.dealership.slug: stop.links for stop in tour()}
    with time_machine.travel("2026-11-30 10:00 +01:00", tick=False):  # the next Monday
        Seeder().run()
        again = {stop.dealership.slug: stop.links for stop in tour()}
        for slug, links in again.items():
            assert len(links) == len(first[slug])
            for link in links:
                assert not link.appointment.checkin.is_closed
                assert link.appointment.starts_at.date() == date(2026, 12, 1)


@time_machine.travel("2026-11-25 10:00 +01:00", tick=False)
def test_the_demo_login_page_says_what_to_try(client, settings):
    Seeder().run()
    settings.DEMO_MODE = True
    body = client.get(reverse("login")).content.decode()
    assert "What to try in this demo" in body
    for stop in tour():
        assert stop.dealership.name in body
        for link in stop.links:
            # A path, so it opens on whatever address the page was opened at.
            assert f'href="/c/{link.appointment.checkin.token}"' in body
    settings.DEMO_MODE = False
    body = client.get(reverse("login")).content.decode()
    assert "What to try in this demo" not in body
    assert "/c/" not in body
    assert "pitlane-demo" not in body


@time_machine.travel("2026-11-25 14:00 +01:00", tick=False)
def test_the_demo_holds_every_visit_state():
    Seeder().run()
    Status = Appointment.Status
    states = set(Appointment.objects.values_list("status", flat=True))
    assert {Status.SCHEDULED, Status.ARRIVED, Status.READY, Status.DONE, Status.NO_SHOW} <= states
    assert states >= {Status.CANCELLED}  # a customer cancelled from the check-in page
    # What the customer did about the visit waits for reception, pinned.
    kinds = set(CheckInItem.objects.open().values_list("kind", flat=True))
    assert {
        CheckInItem.Kind.CANCELLED,
        CheckInItem.Kind.DATE_REQUEST,
        CheckInItem.Kind.LOW_RATING,
    } <= kinds
    # Every car in the workshop was promised for the end of its appointment.
    arrived = Appointment.objects.filter(status=Status.ARRIVED)
    assert all(a.promised_ready_at == a.ends_at for a in arrived)
    assert not Appointment.objects.filter(status=Status.DONE, collected_at__isnull=True).exists()
