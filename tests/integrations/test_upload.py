"""The manager's import page: upload, preview, confirm."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import MembershipFactory
from tests.integrations.support import csv_text, row
from workshop.models import Appointment, Role

pytestmark = pytest.mark.django_db

UPLOAD = reverse("integrations:import")
CONFIRM = reverse("integrations:import_confirm")


@pytest.fixture(autouse=True)
def december():
    with time_machine.travel(datetime(2026, 12, 1, 10, tzinfo=ZoneInfo("Europe/Brussels"))):
        yield


@pytest.fixture
def manager_client(client, dealership, settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    manager = MembershipFactory(dealership=dealership, role=Role.MANAGER).user
    client.force_login(manager)
    return client


def upload(client, text: str, name: str = "dms.csv"):
    return client.post(UPLOAD, {"file": SimpleUploadedFile(name, text.encode(), "text/csv")})


def rows(count: int) -> str:
    return csv_text([row(reference=f"WO-{n}", customer_number=f"C-{n}") for n in range(count)])


def test_preview_shows_what_would_change_and_imports_nothing(manager_client, dealership):
    response = upload(manager_client, rows(3))

    assert response.status_code == 200
    assert response.context["outcome"].counts["new"] == 3
    assert "Confirm the import" in response.content.decode()
    assert not Appointment.objects.exists()


def test_confirm_imports_the_previewed_file_and_opens_its_day(manager_client, dealership, tmp_path):
    upload(manager_client, rows(2))

    response = manager_client.post(CONFIRM)

    assert response.status_code == 302
    assert response["Location"].endswith("?day=2027-01-12")
    assert Appointment.objects.filter(dealership=dealership).count() == 2
    assert not any(tmp_path.rglob("*.csv"))  # the stored file is gone
    assert manager_client.post(CONFIRM).status_code == 302  # confirming twice: nothing more
    assert Appointment.objects.count() == 2


def test_confirm_checks_the_file_again(manager_client, dealership):
    """What changed between preview and confirm is seen: here, the advisor left."""
    advisor = MembershipFactory(dealership=dealership, user__username="piet")
    upload(manager_client, csv_text([row(advisor="piet")]))
    advisor.delete()

    response = manager_client.post(CONFIRM)

    assert response.status_code == 200
    problems = response.context["outcome"].problems
    assert [(p.line, p.column) for p in problems] == [(2, "advisor")]
    assert not Appointment.objects.exists()


def test_errors_are_listed_by_line_and_column_in_the_managers_language(manager_client):
    response = manager_client.post(
        UPLOAD,
        {"file": SimpleUploadedFile("x.csv", csv_text([row(email="jan@")]).encode())},
        HTTP_ACCEPT_LANGUAGE="nl",
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "<code>email</code>" in page
    assert "e-mailadres" in page  # Django's Dutch for "Enter a valid email address."
    assert 'action="/staff/import/confirm/"' not in page


def test_an_empty_upload_is_refused_next_to_the_field(manager_client):
    response = manager_client.post(UPLOAD, {"file": SimpleUploadedFile("x.csv", b"")})
    assert response.status_code == 200
    assert response.context["form"].errors["file"]
    assert 'aria-invalid="true"' in response.content.decode()


def test_receptionists_do_not_see_the_import(staff_client):
    assert staff_client.get(UPLOAD).status_code == 404
    assert staff_client.post(CONFIRM).status_code == 404


@pytest.mark.parametrize("count", [1, 5])
def test_the_preview_costs_the_same_whatever_the_files_size(
    manager_client, count, django_assert_num_queries
):
    manager_client.get(UPLOAD)
    with django_assert_num_queries(14):
        upload(manager_client, rows(count))


def test_the_upload_page_costs_a_fixed_number_of_queries(manager_client, django_assert_num_queries):
    with django_assert_num_queries(3):
        assert manager_client.get(UPLOAD).status_code == 200


@pytest.mark.parametrize("count", [1, 5])
def test_the_confirmation_costs_the_same_whatever_the_files_size(
    manager_client, count, django_assert_num_queries
):
    upload(manager_client, rows(count))
    # 3 of them the booking confirmations: the appointments, the own texts, one INSERT.
    with django_assert_num_queries(24):
        assert manager_client.post(CONFIRM).status_code == 302
    assert Appointment.objects.count() == count
