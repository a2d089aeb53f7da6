"""Dates, numbers and phone numbers the reader's way; what the system writes, in the
reader's language; error pages that are not English only."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from notifications.models import Message
from tests.factories import (
    AppointmentFactory,
    CustomerFactory,
    RemarkFactory,
    WorkItemFactory,
)
from workshop.models import AppointmentEvent, Attachment, CheckInItem, WorkItem

pytestmark = pytest.mark.django_db

# Monday 30 November 2026, 08:30 in Brussels.
MONDAY = datetime(2026, 11, 30, 7, 30, tzinfo=UTC)
BEFORE = "2026-11-25 10:00 +01:00"


@pytest.fixture
def monday(dealership):
    customer = CustomerFactory(dealership=dealership, phone="+32470123456")
    appointment = AppointmentFactory(
        dealership=dealership, customer=customer, starts_at=MONDAY, vehicle__mileage_km=123456
    )
    return appointment


def staff_page(client, name: str, *args: object, language: str, query: str = "") -> str:
    url = reverse(f"workshop:{name}", args=args) + query
    response = client.get(url, headers={"Accept-Language": language})
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(
    ("language", "day", "mileage"),
    [
        ("de", "Montag, 30. November 2026", "123.456\xa0km"),
        ("fr", "lundi 30 novembre 2026", "123\xa0456\xa0km"),
        ("nl", "maandag 30 november 2026", "123.456\xa0km"),
    ],
)
def test_the_appointment_page_writes_the_date_and_mileage_in_the_staff_members_language(
    staff_client, monday, language, day, mileage
):
    html = staff_page(staff_client, "appointment", monday.pk, language=language)
    assert day in html
    assert mileage in html


def test_the_list_and_the_timeline_use_short_dates_of_the_language(staff_client, monday):
    html = staff_page(staff_client, "appointments", language="de", query="?day=2026-11-30")
    assert "Montag, 30. November 2026" in html
    AppointmentEvent.objects.create(
        appointment=monday,
        at=MONDAY,
        kind=AppointmentEvent.Kind.CHECKIN_OPENED,
        actor=AppointmentEvent.Actor.CUSTOMER,
    )
    html = staff_page(staff_client, "appointment", monday.pk, language="fr")
    assert "lun 30 nov., 08:30" in html


def test_a_phone_number_is_kept_on_one_line(staff_client, monday):
    html = staff_page(staff_client, "appointment", monday.pk, language="nl")
    assert '<a class="phone" href="tel:+32470123456">+32 470 12 34 56</a>' in html


def test_a_price_to_change_is_prefilled_the_way_the_language_writes_it(staff_client, monday):
    work_item = WorkItemFactory(
        appointment=monday, price=Decimal("1234.50"), origin=WorkItem.Origin.STAFF
    )
    url = reverse("workshop:edit_work_item", args=[monday.pk, work_item.pk])
    html = staff_client.get(url, headers={"Accept-Language": "nl"}).content.decode()
    assert 'value="1234,50"' in html
    staff_client.post(
        url,
        {"description": work_item.description, "notes": "", "price": "1234,50"},
        headers={"Accept-Language": "nl"},
    )
    work_item.refresh_from_db()
    assert work_item.price == Decimal("1234.50")


@time_machine.travel(BEFORE, tick=False)
@pytest.mark.parametrize(
    ("language", "day", "mileage", "footer"),
    [
        ("fr", "lundi 30 novembre 2026", "123\xa0456\xa0km", "Une question\u202f? Appelez-nous au"),
        ("de", "Montag, 30. November 2026", "123.456\xa0km", "Fragen? Rufen Sie uns an:"),
    ],
)
def test_the_customer_reads_the_date_and_mileage_their_way(
    client, monday, language, day, mileage, footer
):
    monday.customer.language = language
    monday.customer.save()
    html = client.get(reverse("portal:details", args=[monday.checkin.token])).content.decode()
    assert day in html
    assert mileage in html
    # One sentence with the number in it, the number a link that stays on one line.
    assert f'{footer} <a class="phone" href="tel:+3292101010">+32 9 210 10 10</a>.' in html


@time_machine.travel(BEFORE, tick=False)
def test_a_rejected_file_says_why_in_the_customers_language(client, monday):
    remark = RemarkFactory(checkin=monday.checkin, state=CheckInItem.State.DRAFT)
    Attachment.objects.create(
        item=remark,
        kind=Attachment.Kind.PHOTO,
        state=Attachment.State.REJECTED,
        content_type="image/jpeg",
        original_name="IMG_bad.jpg",
        rejection_reason="This photo could not be read; it may be damaged.",
    )
    html = client.get(reverse("portal:remarks", args=[monday.checkin.token])).content.decode()
    assert "Niet aanvaard: Deze foto kon niet gelezen worden; misschien is hij beschadigd." in html


def test_what_the_system_wrote_on_the_timeline_reads_in_the_staff_members_language(
    staff_client, monday
):
    AppointmentEvent.objects.create(
        appointment=monday,
        kind=AppointmentEvent.Kind.CUSTOMER_UNREACHABLE,
        actor=AppointmentEvent.Actor.SYSTEM,
        detail=AppointmentEvent.NO_USABLE_ADDRESS,
    )
    Message.objects.create(
        appointment=monday,
        customer=monday.customer,
        channel="sms",
        direction=Message.Direction.OUT,
        purpose=Message.Purpose.INVITATION,
        recipient="+32470123456",
        body="…",
        status=Message.Status.FAILED,
        failed_at=MONDAY,
        error="The customer opted out of SMS",
    )
    html = staff_page(staff_client, "appointment", monday.pk, language="de")
    assert "Einladung: keine Mobilnummer oder E-Mail-Adresse, die wir nutzen dürfen." in html
    assert "Der Kunde hat SMS abbestellt" in html
    assert "Fehlgeschlagen" in html


def test_what_a_customer_typed_is_never_run_through_the_catalogue(staff_client, monday):
    AppointmentEvent.objects.create(
        appointment=monday,
        kind=AppointmentEvent.Kind.CHECKIN_ANSWERED,
        actor=AppointmentEvent.Actor.CUSTOMER,
        detail="Open",
    )
    event = AppointmentEvent.objects.get()
    assert event.detail_text == "Open"


@pytest.mark.parametrize(
    ("path", "language", "text"),
    [
        ("/staff/appointments/999999/", "nl", "Pagina niet gevonden"),
        ("/nowhere/", "de", "Seite nicht gefunden"),
        ("/c/no/such/page/", "fr", "Page introuvable"),
    ],
)
def test_a_missing_page_says_so_in_the_readers_language(staff_client, path, language, text):
    response = staff_client.get(path, headers={"Accept-Language": language})
    assert response.status_code == 404
    html = response.content.decode()
    assert f'<html lang="{language}">' in html
    assert text in html


def test_behind_a_customer_link_a_missing_page_looks_like_the_portal(client, monday):
    with time_machine.travel(BEFORE, tick=False):
        url = reverse("portal:remark_edit", args=[monday.checkin.token, 999999])
        html = client.get(url).content.decode()
    assert "css/portal.css" in html
    assert monday.dealership.name in html
    assert "Deze pagina bestaat niet (meer)." in html
