"""htmx in both apps: page or partial decided in one place, redirects and reloads as htmx
understands them (`config.htmx`, `config.middleware`)."""

import json

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse
from django_htmx.middleware import HtmxMiddleware

from config.htmx import HtmxHttpRequest, page_or_partial
from tests.factories import AppointmentFactory, RemarkFactory
from tests.portal.conftest import nl
from workshop.models import CheckInItem

PAGE = "workshop/appointment.html"


def _request(**headers: str) -> HtmxHttpRequest:
    request = RequestFactory().get("/", headers=headers)
    HtmxMiddleware(lambda request: HttpResponse())(request)
    return request  # HtmxMiddleware has just set `htmx`


def test_htmx_gets_the_partial_and_a_browser_the_whole_page():
    assert page_or_partial(_request(), PAGE, "#body") == PAGE
    assert page_or_partial(_request(HX_Request="true"), PAGE, "#body") == f"{PAGE}#body"
    assert (
        page_or_partial(_request(HX_Request="true"), "workshop/dialog_page.html", f"{PAGE}#dialog")
        == f"{PAGE}#dialog"
    )


def test_with_a_target_only_htmx_aimed_at_it_gets_the_partial():
    aimed = _request(HX_Request="true", HX_Target="appointment-body")
    elsewhere = _request(HX_Request="true", HX_Target="dialog-host")
    assert page_or_partial(aimed, PAGE, "#body", target="appointment-body") == f"{PAGE}#body"
    assert page_or_partial(elsewhere, PAGE, "#body", target="appointment-body") == PAGE


@pytest.mark.django_db
def test_a_redirect_answering_htmx_becomes_hx_location_and_keeps_the_message(client):
    remark = RemarkFactory(checkin=AppointmentFactory().checkin, state=CheckInItem.State.DRAFT)
    token = remark.checkin.token
    remarks = reverse("portal:remarks", args=[token])

    # A boosted form post: htmx loads the next page itself, rather than swapping the
    # redirect's target into the form.
    response = client.post(
        reverse("portal:remark_delete", args=[token, remark.pk]), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "Location" not in response
    assert json.loads(response["HX-Location"]) == {"path": remarks}
    assert "HX-Request" in response["Vary"]
    assert response.content == b""

    # The flash message waits for the page htmx loads next.
    assert (
        nl("Remark deleted.")
        in client.get(remarks, headers={"HX-Request": "true"}).content.decode()
    )


@pytest.mark.django_db
def test_an_upload_refused_to_htmx_reloads_the_page_to_show_why(client):
    sent = RemarkFactory(checkin=AppointmentFactory().checkin, state=CheckInItem.State.OPEN)
    url = reverse("portal:upload", args=[sent.checkin.token, sent.pk])
    response = client.post(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Refresh"] == "true"
    assert response.content == b""


@pytest.mark.django_db
def test_a_remarks_files_are_a_page_of_their_own_and_the_list_alone_for_htmx(client):
    remark = RemarkFactory(checkin=AppointmentFactory().checkin, state=CheckInItem.State.DRAFT)
    url = reverse("portal:remark_files", args=[remark.checkin.token, remark.pk])
    remarks = reverse("portal:remarks", args=[remark.checkin.token])

    page = client.get(url).content.decode()
    assert page.lstrip().startswith("<!doctype html>")
    assert f"{remarks}#attachments-{remark.pk}" in page

    listing = client.get(f"{url}?next={remarks}", headers={"HX-Request": "true"})
    html = listing.content.decode()
    assert html.strip().startswith(
        f'<div class="attachment-files" id="attachment-list-{remark.pk}"'
    )
    assert "<html" not in html
