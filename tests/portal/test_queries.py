"""Each page runs the same number of queries whatever the number of work items, offers
or remarks."""

import pytest
from django.test import Client

from tests.factories import OfferFactory, RemarkFactory, WorkItemFactory
from tests.portal.conftest import url
from workshop import checkin as flow
from workshop.models import Attachment, CheckInItem, OfferTranslation

pytestmark = pytest.mark.django_db

# Page: queries. The check-in with its appointment, dealership, customer and car is one;
# "anything unsent?" is one; then what the page lists (offers come with their
# translations, remarks with their files).
EXPECTED = {
    "welcome": 2,
    "contact": 2,
    "details": 2,
    "work": 3,
    "services": 5,
    "remarks": 4,
    "review": 8,
    "done": 8,
    "calendar": 1,
}


def fill(checkin, size: int) -> None:
    dealership = checkin.appointment.dealership
    for n in range(size):
        WorkItemFactory(appointment=checkin.appointment)
        offer = OfferFactory(dealership=dealership, name=f"Offer {n}")
        for language in ("en", "fr", "de"):
            OfferTranslation.objects.create(offer=offer, language=language, name=f"{language} {n}")
        choice = [flow.OfferChoice.ACCEPT, flow.OfferChoice.CONTACT, flow.OfferChoice.NONE][n % 3]
        flow.set_offer_choice(checkin, offer, choice)
        remark = RemarkFactory(checkin=checkin, state=CheckInItem.State.DRAFT, subject=f"R{n}")
        for _ in range(2):
            Attachment.objects.create(
                item=remark, kind="photo", content_type="image/jpeg", original_name="x.jpg"
            )
    flow.submit_checkin(checkin)
    # Some answers changed after sending, so pages show sent and unsent side by side.
    for remark in CheckInItem.objects.filter(checkin=checkin, kind="remark")[: size // 2]:
        flow.add_remark(checkin, f"again {remark.subject}", "")


@pytest.mark.parametrize("size", [1, 20])
@pytest.mark.parametrize("name", list(EXPECTED))
def test_a_page_runs_a_fixed_number_of_queries(
    checkin, django_assert_num_queries, settings, name, size
):
    settings.CHECKIN_MAX_REMARKS = 2 * size  # room for every remark `fill` adds
    fill(checkin, size)
    client = Client()
    client.get(url(checkin, "welcome"))  # the first visit also records the opening
    with django_assert_num_queries(EXPECTED[name]):
        response = client.get(url(checkin, name))
    assert response.status_code == 200
