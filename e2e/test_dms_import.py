"""Browser test: a manager imports the DMS's CSV: upload, preview, confirm, the list."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from e2e.conftest import log_in
from e2e.test_staff_flows import assert_accessible, switch_to_gent
from workshop.demo import DEMO_PASSWORD, Seeder
from workshop.models import Appointment

pytestmark = pytest.mark.django_db(transaction=True)

SAMPLE = Path(__file__).resolve().parents[1] / "docs" / "samples" / "dms-appointments.csv"


def test_a_manager_previews_and_imports_the_dms_file(live_server, page: Page):
    Seeder().run()
    log_in(page, live_server.url, "manager", DEMO_PASSWORD)
    switch_to_gent(page)

    page.get_by_role("link", name="Import").click()
    page.get_by_label("CSV file from your DMS").set_input_files(SAMPLE)
    page.get_by_role("button", name="Preview").click()

    counts = page.get_by_role("table", name="Appointments in the file")
    expect(counts.get_by_role("row", name="New")).to_contain_text("3")
    expect(counts.get_by_role("row", name="Cancelled")).to_contain_text("1")
    expect(counts.get_by_role("row", name="Errors")).to_contain_text("0")
    assert_accessible(page)
    assert not Appointment.objects.filter(external_ref__startswith="WO-2701").exists()

    page.get_by_role("button", name="Confirm the import").click()

    expect(page.get_by_role("status")).to_contain_text("3 new, 0 changed, 1 cancelled")
    rows = page.get_by_role("main")
    expect(rows).to_contain_text("Sofie Van den Broeck")
    expect(rows).to_contain_text("Benoît Lefèvre")
    expect(rows).to_contain_text("1-XYZ-123")


def test_a_file_with_errors_lists_them_and_imports_nothing(live_server, page: Page, tmp_path):
    Seeder().run()
    bad = tmp_path / "bad.csv"
    text = SAMPLE.read_text().replace("+32 470 12 34 56", "12345", 1)
    bad.write_text(text)
    log_in(page, live_server.url, "manager", DEMO_PASSWORD)
    switch_to_gent(page)

    page.get_by_role("link", name="Import").click()
    page.get_by_label("CSV file from your DMS").set_input_files(bad)
    page.get_by_role("button", name="Preview").click()

    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Nothing will be imported")
    expect(alert.get_by_role("row").nth(1)).to_contain_text("phone")
    expect(page.get_by_role("button", name="Confirm the import")).to_have_count(0)
    expect(page.get_by_label("CSV file from your DMS")).to_be_visible()
    assert not Appointment.objects.filter(external_ref__startswith="WO-2701").exists()
