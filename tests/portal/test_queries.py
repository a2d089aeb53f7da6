"""Each page runs the same number of queries whatever the number of work items, offers
or remarks."""

import uuid

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from notifications import conversation
from tests.factories import OfferFactory, RemarkFactory, WorkItemFactory
from tests.portal.conftest import url
from workshop import checkin as flow
from workshop.models import Attachment, CheckInItem, OfferTranslation

pytestmark = pytest.mark.django_db

# Page: queries. The check-in with its appointment, dealership, customer and car, and
# whether anything is unsent, is one; then what the page lists (offers come with their
# translations, remarks with their files).
EXPECTED = {
    "welcome": 1,
    "contact": 1,
    "details": 1,
    "work": 2,
    "services": 4,
    "remarks": 3,
    "review": 5,
    "done": 5,
    "calendar": 1,
    "messages": 2,  # the check-in, then the conversation
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
        conversation.write_from_portal(checkin, f"Vraag {n}", key=str(uuid.uuid4()))
        conversation.send_reply(checkin.appointment, user=None, channel="sms", body=f"Ok {n}")
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
    client.get(url(checkin, "welcome"))
    client.post(url(checkin, "seen"))  # the page's script: the visit is recorded
    with django_assert_num_queries(EXPECTED[name]):
        response = client.get(url(checkin, name))
    assert response.status_code == 200


# --- Form posts ----------------------------------------------------------------------
# Each post runs the same number of queries whatever the number of offers it answers,
# the remarks the check-in has, or the answers it sends.


def offers_of(checkin, size: int) -> list:
    dealership = checkin.appointment.dealership
    offers = []
    for n in range(size):
        offer = OfferFactory(dealership=dealership, name=f"Offer {n}", position=n)
        OfferTranslation.objects.create(offer=offer, language="nl", name=f"nl {n}")
        offers.append(offer)
    return offers


def remarks_of(checkin, size: int, state=CheckInItem.State.DRAFT) -> list:
    remarks = []
    for n in range(size):
        remark = RemarkFactory(checkin=checkin, state=state, subject=f"R{n}")
        Attachment.objects.create(
            item=remark, kind="photo", content_type="image/jpeg", original_name="x.jpg"
        )
        remarks.append(remark)
    return remarks


CHOICES = [flow.OfferChoice.ACCEPT, flow.OfferChoice.CONTACT, flow.OfferChoice.NONE]


def services_post(checkin, size):
    """Every offer answered, and changed from what was sent before: `size` offers for
    each way an answer can change."""
    offers = offers_of(checkin, 3 * size)
    for n, offer in enumerate(offers):
        flow.set_offer_choice(checkin, offer, CHOICES[n % 3])
    flow.submit_checkin(checkin)
    data = {f"offer-{offer.pk}": CHOICES[(n + 1) % 3] for n, offer in enumerate(offers)}
    return url(checkin, "services"), data, {}


def services_autosave(checkin, size):
    """With htmx: one changed answer among many, its card rendered back."""
    offers = offers_of(checkin, size)
    data = {f"offer-{offer.pk}": flow.OfferChoice.NONE for offer in offers}
    data[f"offer-{offers[0].pk}"] = flow.OfferChoice.ACCEPT
    data["autosave"] = str(offers[0].pk)
    return url(checkin, "services"), data, {"HTTP_HX_REQUEST": "true"}


def review_post(checkin, size):
    """Sending: answers changed after a first send (`size` offers for each way an answer
    can change; some withdraw what was sent), and new remarks."""
    offers = offers_of(checkin, 3 * size)
    for n, offer in enumerate(offers):
        flow.set_offer_choice(checkin, offer, CHOICES[n % 3])
    remarks_of(checkin, size)
    flow.submit_checkin(checkin)
    for n, offer in enumerate(offers):
        flow.set_offer_choice(checkin, offer, CHOICES[(n + 1) % 3])
    remarks_of(checkin, size)
    return url(checkin, "review"), {}, {}


def contact_post(checkin, size):
    offers_of(checkin, size)
    remarks_of(checkin, size)
    data = {"preferred_channel": "email", "phone": "+32470999999", "email": "new@example.com"}
    return url(checkin, "contact"), data, {}


def remark_add(checkin, size):
    remarks_of(checkin, size)
    data = {"new-subject": "Rattle", "new-description": "left rear", "new-key": str(uuid.uuid4())}
    return url(checkin, "remarks"), data, {}


def remark_edit(checkin, size):
    remark = remarks_of(checkin, size)[0]
    data = {"subject": "Rattle", "description": "left rear"}
    return url(checkin, "remark_edit", remark.pk), data, {}


def remark_delete(checkin, size):
    remark = remarks_of(checkin, size)[0]
    for _ in range(size):
        Attachment.objects.create(
            item=remark, kind="photo", content_type="image/jpeg", original_name="y.jpg"
        )
    return url(checkin, "remark_delete", remark.pk), {}, {}


def language_post(checkin, size):
    offers_of(checkin, size)
    return url(checkin, "language"), {"language": "fr", "next": url(checkin, "services")}, {}


# Post: queries, savepoints included. The answers post: the check-in, then one
# transaction that locks it, drops the drafts it replaces and writes the new ones
# (`set_offer_choices`). Sending: `submit_checkin` with its `checkin.sent` event (five:
# `integrations.events.emit` reads the appointment, its work items and answers, writes
# the event and finds the endpoints listening) and the confirmation
# (`queue_confirmation`, which reads the answers as `workshop.answers` has them), and
# the follow-up for offers the customer asked about (`followups.opening.contact_requested`).
POSTS = {
    services_post: 10,
    services_autosave: 13,
    review_post: 32,
    contact_post: 15,
    remark_add: 7,
    remark_edit: 3,
    remark_delete: 8,
    language_post: 5,
}


@pytest.mark.parametrize("size", [1, 10])
@pytest.mark.parametrize("post", list(POSTS), ids=lambda post: post.__name__)
def test_a_form_post_runs_a_fixed_number_of_queries(
    checkin, django_assert_num_queries, settings, post, size
):
    settings.CHECKIN_MAX_REMARKS = 3 * size
    path, data, headers = post(checkin, size)
    flow.record_opened(checkin)  # a visit before: the post is not the first sign of life
    client = Client()
    with django_assert_num_queries(POSTS[post]):
        response = client.post(path, data, **headers)
    assert response.status_code in (200, 302), response.content


@pytest.mark.parametrize("name", ["welcome", "details", "work", "services", "review"])
def test_a_page_shown_writes_no_session(checkin, settings, name):
    """A GET reads at most (a language chosen on this link); it never saves a session."""
    fill(checkin, 2)
    response = Client().get(url(checkin, name))
    assert response.status_code == 200
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert not Session.objects.exists()
