"""What the customer answered reads the same everywhere: their done page, their
confirmation, the staff appointment page and the work item an offer becomes, whatever
the catalogue does after they answered."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from notifications import texts
from tests.factories import AppointmentFactory, CustomerFactory, OfferFactory
from workshop import checkin as flow
from workshop.answers import OfferChoice, read_answers
from workshop.models import CheckInItem, Offer, OfferTranslation, WorkItem
from workshop.money import format_money

pytestmark = pytest.mark.django_db


def portal(checkin, name: str) -> str:
    return reverse(f"portal:{name}", args=[checkin.token])


def money(amount: str, language: str, dealership) -> str:
    return format_money(Decimal(amount), dealership.currency, language, dealership.country)


def offer(dealership, name: str, dutch: str, price: str, position: int) -> Offer:
    made = OfferFactory(dealership=dealership, name=name, price=Decimal(price), position=position)
    OfferTranslation.objects.create(offer=made, language="nl", name=dutch)
    return made


@pytest.fixture
def sent(dealership):
    """A Dutch-speaking customer accepted two offers and asked about a third, and sent."""
    dealership.country, dealership.language = "BE", "nl"
    dealership.save()
    customer = CustomerFactory(dealership=dealership, language="nl", preferred_channel="sms")
    appointment = AppointmentFactory(dealership=dealership, customer=customer)
    wash = offer(dealership, "Car wash", "Wasbeurt", "19.95", 1)
    wipers = offer(dealership, "Wipers", "Ruitenwissers", "34.50", 2)
    tyres = offer(dealership, "Winter tyres", "Winterbanden", "69.00", 3)
    customer_browser = Client()
    checkin = appointment.checkin
    customer_browser.post(
        portal(checkin, "services"),
        {
            f"offer-{wash.pk}": "accept",
            f"offer-{wipers.pk}": "accept",
            f"offer-{tyres.pk}": "contact",
        },
    )
    customer_browser.post(portal(checkin, "review"))
    return customer_browser, checkin, wash, wipers, tyres


def test_all_four_agree_after_the_catalogue_changes(sent, staff_client, dealership):
    customer_browser, checkin, wash, wipers, tyres = sent
    # After the customer sent: the car wash costs more, wipers and tyres are no longer offered.
    Offer.objects.filter(pk=wash.pk).update(price=Decimal("25.00"))
    Offer.objects.filter(pk__in=[wipers.pk, tyres.pk]).update(active=False)

    # 1. The customer's done page: what they sent, at the prices they saw.
    done = customer_browser.get(portal(checkin, "done")).content.decode()
    for text in ("Wasbeurt", "Ruitenwissers", "Winterbanden"):
        assert text in done
    nl = {amount: money(amount, "nl", dealership) for amount in ("19.95", "34.50", "54.45")}
    for amount in nl.values():
        assert amount in done
    assert money("25.00", "nl", dealership) not in done

    # 2. Their confirmation, rendered now (as a retry or a fallback renders it).
    confirmation = texts.confirmation_for(checkin, "nl")
    assert confirmation.accepted == [("Wasbeurt", nl["19.95"]), ("Ruitenwissers", nl["34.50"])]
    assert confirmation.total == nl["54.45"]
    assert confirmation.contact == ["Winterbanden"]

    # 3. The staff page: the same offers, prices and total, by their catalogue names.
    staff = staff_client.get(reverse("workshop:appointment", args=[checkin.appointment_id]))
    html = staff.content.decode()
    for text in ("Car wash", "Wipers", "Winter tyres"):
        assert text in html
    for amount in ("19.95", "34.50", "54.45"):
        assert money(amount, "en", dealership) in html
    assert money("25.00", "en", dealership) not in html

    # 4. The work items the accepted offers become.
    for accepted in CheckInItem.objects.filter(kind=CheckInItem.Kind.OFFER_ACCEPTED):
        staff_client.post(
            reverse("workshop:convert_offer", args=[checkin.appointment_id, accepted.pk])
        )
    converted = WorkItem.objects.filter(origin=WorkItem.Origin.OFFER).order_by("position")
    assert [(w.description, w.price) for w in converted] == [
        ("Car wash", Decimal("19.95")),
        ("Wipers", Decimal("34.50")),
    ]


def test_an_answer_to_an_offer_no_longer_offered_can_be_taken_back(sent):
    customer_browser, checkin, _wash, wipers, tyres = sent
    Offer.objects.filter(pk__in=[wipers.pk, tyres.pk]).update(active=False)

    services = customer_browser.get(portal(checkin, "services")).content.decode()
    assert "Ruitenwissers" in services
    assert f'name="offer-{wipers.pk}" value="none"' in services
    # Not offered any more: asked about it, the customer cannot accept it now.
    assert f'name="offer-{tyres.pk}" value="accept"' not in services
    refused = customer_browser.post(
        portal(checkin, "services"), {f"offer-{tyres.pk}": OfferChoice.ACCEPT}
    )
    assert refused.status_code == 200  # the form again, with the error
    assert not checkin.items.filter(state=CheckInItem.State.DRAFT).exists()

    customer_browser.post(portal(checkin, "services"), {f"offer-{wipers.pk}": OfferChoice.NONE})
    customer_browser.post(portal(checkin, "review"))

    answers = read_answers(checkin, "nl")
    assert [chosen.name for chosen in answers.sent.accepted] == ["Wasbeurt"]
    assert answers.sent.services_total == Decimal("19.95")
    assert not checkin.items.filter(offer=wipers, state=CheckInItem.State.OPEN).exists()


def test_a_draft_keeps_the_price_the_customer_saw_when_they_answered(dealership):
    appointment = AppointmentFactory(dealership=dealership)
    wash = OfferFactory(dealership=dealership, name="Car wash", price=Decimal("19.95"))
    flow.set_offer_choice(appointment.checkin, wash, OfferChoice.ACCEPT)
    Offer.objects.filter(pk=wash.pk).update(price=Decimal("25.00"))

    answers = read_answers(appointment.checkin)
    (accepted,) = answers.current.accepted
    assert accepted.price == Decimal("19.95")
    assert answers.sent.accepted == []
    flow.submit_checkin(appointment.checkin)
    (accepted,) = read_answers(appointment.checkin).sent.accepted
    assert accepted.price == Decimal("19.95")


def test_the_answers_are_read_in_a_fixed_number_of_queries(dealership, django_assert_num_queries):
    counts = []
    for size in (1, 10):
        appointment = AppointmentFactory(dealership=dealership)
        for n in range(size):
            made = offer(dealership, f"Offer {size}-{n}", f"Aanbod {n}", "10.00", n)
            flow.set_offer_choice(appointment.checkin, made, OfferChoice.ACCEPT)
            CheckInItem.objects.create(
                checkin=appointment.checkin, kind=CheckInItem.Kind.REMARK, subject=f"R{n}"
            )
        flow.submit_checkin(appointment.checkin)
        with django_assert_num_queries(4) as captured:
            answers = read_answers(appointment.checkin, "nl", files=True)
            assert len(answers.offers) >= size  # the catalogue too: read first
            assert len(answers.sent.accepted) == size
            assert len(answers.remarks) == size
            assert len(answers.staff_items) == 2 * size
        counts.append(len(captured))
    assert counts[0] == counts[1]
