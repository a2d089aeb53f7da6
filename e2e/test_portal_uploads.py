"""Photos and videos on a remark, in Chromium with a phone's viewport and touch.

Two pages show the upload form: the portal's remarks step (`portal:remarks`) and the
remark's own files page
(`portal:remark_files`, where a plain form post without a `next` returns to). The same
partial and script run on both.
"""

import io
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from PIL import ExifTags, Image
from playwright.sync_api import Browser, Page, expect

from e2e.conftest import PHONE
from portal.uploads import removing
from tests.conftest import celery_worker_process  # noqa: F401 - fixture: a real Celery worker
from tests.portal import media
from tests.portal.uploads_support import new_draft_remark
from workshop.models import Attachment, Customer

pytestmark = pytest.mark.django_db(transaction=True)

REJECTED_TEXT = "“brakes.jpg” is not a photo or video we can accept"


@pytest.fixture
def phone(browser: Browser):
    """The phone of conftest.PHONE, in English so the labels below stay put."""
    context = browser.new_context(**PHONE, locale="en-GB")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def phone_without_javascript(browser: Browser):
    context = browser.new_context(**PHONE, locale="en-GB", java_script_enabled=False)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def files(tmp_path):
    paths = {
        # Incompressible, so it takes a moment on a throttled connection.
        "IMG_2041.jpg": media.jpeg_with_gps(size=(800, 800), noise=True),
        "brakes.jpg": media.TEXT,
        "IMG_0002.MOV": media.mov(),
    }
    for name, data in paths.items():
        (tmp_path / name).write_bytes(data)
    return {name: str(tmp_path / name) for name in paths}


@pytest.fixture
def remark(transactional_db):
    remark = new_draft_remark()
    # An English-speaking customer, so the page reads like the labels below.
    Customer.objects.filter(pk=remark.checkin.appointment.customer_id).update(language="en")
    yield remark
    for attachment in Attachment.objects.filter(item=remark):
        removing.remove_attachment(attachment)  # the shared media folder of the test run


def _files_page(live_server, remark) -> str:
    return live_server.url + reverse("portal:remark_files", args=[remark.checkin.token, remark.pk])


def _remarks_step(live_server, remark) -> str:
    return live_server.url + reverse("portal:remarks", args=[remark.checkin.token])


def _slow_uploads(page: Page, bytes_per_second: int) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 20,
            "downloadThroughput": -1,
            "uploadThroughput": bytes_per_second,
        },
    )


def _assert_accessible(page: Page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def _assert_no_gps_left(remark) -> None:
    attachment = remark.attachments.get(original_name="IMG_2041.jpg")
    assert attachment.state == Attachment.State.READY
    with attachment.file.open("rb") as stored:
        photo = Image.open(io.BytesIO(stored.read()))
    assert not photo.getexif().get_ifd(ExifTags.IFD.GPSInfo)


def _upload_a_photo_and_see_it_ready(page: Page, files) -> None:
    _slow_uploads(page, 150_000)
    page.get_by_label("Add photos or videos").set_input_files(files["IMG_2041.jpg"])

    progress = page.get_by_role("progressbar", name="IMG_2041.jpg")
    expect(progress).to_be_visible()
    page.wait_for_function(
        "() => { const bar = document.querySelector('.upload-progress'); "
        "return bar && bar.value > 0 && bar.value < 100; }"
    )
    photo = page.get_by_role("listitem").filter(has_text="IMG_2041.jpg")
    expect(photo.filter(has_text="Being checked")).to_be_visible(timeout=30_000)
    expect(progress).to_have_count(0)  # the row gives way to the file in the list
    # Checked by the worker; the list polls until it is ready.
    expect(photo.filter(has_text="Ready")).to_be_visible(timeout=30_000)
    thumbnail = photo.locator("img")
    expect(thumbnail).to_be_visible()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle()
    )


@pytest.mark.usefixtures("celery_worker_process")
def test_a_phone_photo_with_gps_uploads_with_a_progress_bar_and_ends_ready(
    live_server, phone: Page, remark, files
):
    phone.goto(_files_page(live_server, remark))
    _upload_a_photo_and_see_it_ready(phone, files)

    _assert_no_gps_left(remark)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    _assert_accessible(phone)


def test_a_renamed_text_file_gets_a_clear_message_and_no_retry(
    live_server, phone: Page, remark, files
):
    phone.goto(_files_page(live_server, remark))
    phone.get_by_label("Add photos or videos").set_input_files(
        [files["brakes.jpg"], files["IMG_0002.MOV"]]
    )

    failed = phone.get_by_role("listitem").filter(has_text=REJECTED_TEXT)
    expect(failed).to_be_visible()
    # Sent again it would be refused again: no Retry.
    expect(failed.get_by_role("button", name="Retry brakes.jpg")).to_have_count(0)
    expect(phone.get_by_role("listitem").filter(has_text="IMG_0002.MOV")).to_contain_text(
        "Being checked"
    )
    assert [a.original_name for a in remark.attachments.all()] == ["IMG_0002.MOV"]
    _assert_accessible(phone)


def test_retry_sends_the_same_file_again_after_the_connection_dropped(
    live_server, phone: Page, remark, files
):
    dropped = []

    def drop_the_first_upload(route):
        if not dropped:
            dropped.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    phone.route(re.compile(r".*/files/upload/$"), drop_the_first_upload)
    phone.goto(_files_page(live_server, remark))
    phone.get_by_label("Add photos or videos").set_input_files(files["IMG_2041.jpg"])

    row = phone.get_by_role("listitem").filter(has_text="The connection dropped")
    expect(row).to_be_visible()
    assert not remark.attachments.exists()
    expect(phone.get_by_label("Add photos or videos")).to_have_value("")

    row.get_by_role("button", name="Retry IMG_2041.jpg").click()

    expect(
        phone.get_by_role("listitem")
        .filter(has_text="IMG_2041.jpg")
        .filter(has_text="Being checked")
    ).to_be_visible()
    expect(phone.get_by_role("button", name=re.compile("^Retry"))).to_have_count(0)
    assert len(dropped) == 1
    assert [a.original_name for a in remark.attachments.all()] == ["IMG_2041.jpg"]


def test_retry_after_the_file_limit_once_a_file_is_removed(live_server, phone: Page, remark, files):
    for n in range(10):
        Attachment.objects.create(
            item=remark,
            file=f"checkins/{remark.checkin_id}/clip-{n}",
            kind=Attachment.Kind.VIDEO,
            state=Attachment.State.READY,
            content_type="video/mp4",
            size=1000 + n,
            original_name=f"clip-{n}.mp4",
        )
    phone.goto(_files_page(live_server, remark))
    phone.get_by_label("Add photos or videos").set_input_files(files["IMG_0002.MOV"])
    refused = phone.get_by_role("listitem").filter(has_text="at most 10 photos or videos")
    expect(refused).to_be_visible()

    phone.get_by_role("button", name="Remove clip-3.mp4").click()
    expect(phone.get_by_text("9 of 10 files added")).to_be_visible()
    refused.get_by_role("button", name="Retry IMG_0002.MOV").click()

    expect(phone.get_by_text("10 of 10 files added")).to_be_visible()
    expect(phone.get_by_role("listitem").filter(has_text="IMG_0002.MOV")).to_contain_text(
        "Being checked"
    )
    assert remark.attachments.filter(original_name="IMG_0002.MOV").exists()


@pytest.mark.usefixtures("celery_worker_process")
def test_without_javascript_the_form_posts_and_comes_back_with_errors_next_to_the_field(
    live_server, phone_without_javascript: Page, remark, files
):
    page = phone_without_javascript
    page.goto(_files_page(live_server, remark))
    page.get_by_label("Add photos or videos").set_input_files(
        [files["IMG_2041.jpg"], files["brakes.jpg"]]
    )
    page.get_by_role("button", name="Upload").click()

    assert page.url.endswith(f"/files/#attachments-{remark.pk}")
    field = page.get_by_label("Add photos or videos")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator(f"#upload-errors-{remark.pk}")).to_contain_text(REJECTED_TEXT)
    expect(page.get_by_role("listitem").filter(has_text="IMG_2041.jpg")).to_be_visible()

    # No polling without JavaScript: a reload shows the checked photo.
    for _ in range(60):
        page.reload()
        if (
            page.get_by_role("listitem")
            .filter(has_text="IMG_2041.jpg")
            .filter(has_text="Ready")
            .count()
        ):
            break
        page.wait_for_timeout(500)
    expect(page.get_by_role("listitem").filter(has_text="IMG_2041.jpg")).to_contain_text("Ready")
    expect(page.locator(f"#upload-errors-{remark.pk}")).to_have_count(0)
    _assert_no_gps_left(remark)


def test_the_error_next_to_the_field_passes_an_accessibility_scan(
    live_server, phone: Page, remark, files
):
    # axe needs JavaScript, so here only upload.js is kept away: the form posts plainly.
    phone.route(re.compile(r".*/upload\.js$"), lambda route: route.abort())
    phone.goto(_files_page(live_server, remark))
    phone.get_by_label("Add photos or videos").set_input_files(files["brakes.jpg"])
    phone.get_by_role("button", name="Upload").click()

    expect(phone.locator(f"#upload-errors-{remark.pk}")).to_contain_text(REJECTED_TEXT)
    _assert_accessible(phone)


# --- On the portal's remarks step ---------------------------------------------------


@pytest.mark.usefixtures("celery_worker_process")
def test_on_the_remarks_step_a_photo_uploads_and_a_text_file_is_refused(
    live_server, phone: Page, remark, files
):
    phone.goto(_remarks_step(live_server, remark))
    card = phone.locator(f"#attachments-{remark.pk}")
    expect(card).to_be_visible()
    _upload_a_photo_and_see_it_ready(phone, files)
    _assert_no_gps_left(remark)

    card.get_by_label("Add photos or videos").set_input_files(files["brakes.jpg"])
    expect(card.get_by_role("listitem").filter(has_text=REJECTED_TEXT)).to_be_visible()


def test_on_the_remarks_step_without_javascript_the_form_comes_back_to_the_step(
    live_server, phone_without_javascript: Page, remark, files
):
    page = phone_without_javascript
    step = _remarks_step(live_server, remark)
    page.goto(step)
    card = page.locator(f"#attachments-{remark.pk}")
    card.get_by_label("Add photos or videos").set_input_files(files["brakes.jpg"])
    card.get_by_role("button", name="Upload").click()

    assert page.url.split("#")[0] == step
    expect(page.locator(f"#upload-errors-{remark.pk}")).to_contain_text(REJECTED_TEXT)
