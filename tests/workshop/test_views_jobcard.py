"""The job card PDF: what the mechanic needs on paper, and nothing they should not see."""

import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse
from pypdf import PdfReader

from tests.factories import UserFactory, WorkItemFactory
from tests.workshop.staffdata import (
    appointment_today,
    media_root_fixture,  # noqa: F401 - the media_root fixture
    open_remark,
    photo,
)
from workshop import checkin as flow

pytestmark = pytest.mark.django_db


@pytest.fixture
def card_appointment(dealership, media_root):
    appointment = appointment_today(dealership)
    WorkItemFactory(
        appointment=appointment,
        description="Replace front brake pads",
        notes="Check the discs",
        price=Decimal("245.50"),
    )
    WorkItemFactory(appointment=appointment, description="Major service", price=Decimal("389.00"))
    shared = open_remark(appointment, subject="Rattle in the dashboard", description="On cobbles.")
    flow.share_item(shared, UserFactory(), visible=True)
    photo(shared)
    photo(shared)
    photo(open_remark(appointment, subject="Call me about the price"))
    return appointment


def pdf_of(response) -> PdfReader:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    return PdfReader(io.BytesIO(response.content))


def test_the_job_card_holds_the_work_and_shared_remarks_without_prices(
    client, mechanic, card_appointment
):
    client.force_login(mechanic)
    response = client.get(reverse("workshop:job_card", args=[card_appointment.pk]))
    assert response["Content-Disposition"].startswith('attachment; filename="job-card-')
    reader = pdf_of(response)
    text = "\n".join(page.extract_text() for page in reader.pages)
    for expected in (
        "Replace front brake pads",
        "Check the discs",
        "Major service",
        card_appointment.vehicle.plate,
        card_appointment.dealership.name,
        "Rattle in the dashboard",
    ):
        assert expected in text, expected
    assert "MECHANIC'S NOTES" in text  # the lines to write on
    for hidden in (  # prices in either notation (random plates and VINs may hold the digits)
        "245.50",
        "245,50",
        "389.00",
        "389,00",
        "€",
        "EUR",
        "Call me about the price",
        card_appointment.customer.email,
        card_appointment.customer.last_name,
    ):
        assert hidden not in text, hidden
    images = [image for page in reader.pages for image in page.images]
    assert len(images) == 2  # the shared remark's two photos, not the other one


def test_receptionists_print_the_job_card_too(staff_client, card_appointment):
    response = staff_client.get(reverse("workshop:job_card", args=[card_appointment.pk]))
    assert "Replace front brake pads" in pdf_of(response).pages[0].extract_text()


def test_the_card_fetches_nothing_but_its_own_photos():
    """Whatever the HTML holds, WeasyPrint's fetcher reads no file and no URL of its own."""
    from workshop.pdf import CardMediaFetcher

    fetcher = CardMediaFetcher({})
    for url in ("file:///etc/passwd", "http://127.0.0.1:1/x", "pitlane-media:1"):
        with pytest.raises(ValueError, match="not on this card"):
            fetcher.fetch(url)


def test_the_job_card_is_laid_out_in_blocks_and_its_styles_parsed_once():
    """WeasyPrint lays out flex and grid boxes and automatic tables several times over;
    block layout and a fixed table keep a typical card well under a third of a second."""
    from workshop.pdf import card_stylesheet

    css = (Path(__file__).resolve().parents[2] / "workshop" / "job_card.css").read_text()
    assert not re.search(r"display:\s*(inline-)?(flex|grid)", css)
    assert "table-layout: fixed" in css
    assert card_stylesheet() is card_stylesheet()
