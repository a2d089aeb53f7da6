"""Photos and videos on a remark, through Django: the rules, the checking task, the views."""

import io
import os
import re
import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from PIL import ExifTags, Image, ImageFile

from portal.upload_views import UploadLimitHandler
from portal.uploads import processing, refusals, removing, storing
from portal.uploads.media import HEAD_BYTES
from tests.factories import AppointmentFactory, RemarkFactory
from tests.portal import media
from tests.portal.conftest import NOT_MEDIA, PHOTO_TOO_LARGE, nl, nl_after, nl_plural
from tests.portal.uploads_support import (
    assert_private,
    new_draft_remark,
    ready_attachment,
    stored_files,
    uploaded,
)
from workshop.models import Attachment, CheckInItem

State = Attachment.State


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def draft_remark(db):
    return new_draft_remark()


def _open(field) -> Image.Image:
    with field.open("rb") as stored:
        return Image.open(io.BytesIO(stored.read()))


# --- The rules (portal/uploads/) ---------------------------------------------------------


def test_a_photo_is_stored_under_a_random_key_and_keeps_its_name(draft_remark, media_root):
    data = media.jpeg_with_gps()
    attachment = storing.store_upload(draft_remark, uploaded("IMG_2041.JPG", data))

    attachment.refresh_from_db()
    assert attachment.state == State.CHECKING
    assert attachment.original_name == "IMG_2041.JPG"
    assert attachment.kind == Attachment.Kind.PHOTO
    assert attachment.content_type == "image/jpeg"
    assert attachment.size == len(data)
    assert re.fullmatch(rf"checkins/{draft_remark.checkin_id}/[0-9a-f]{{32}}", attachment.file.name)
    assert (media_root / attachment.file.name).read_bytes() == data


def test_a_text_file_named_like_a_photo_is_rejected_and_nothing_is_kept(draft_remark, media_root):
    with pytest.raises(refusals.UploadRejected) as rejected:
        storing.store_upload(draft_remark, uploaded("brakes.jpg", media.TEXT, "image/jpeg"))

    assert "“brakes.jpg” is not a photo or video we can accept" in rejected.value.message
    assert not Attachment.objects.exists()
    assert stored_files(media_root) == []


@pytest.mark.parametrize(
    ("name", "data", "kind", "content_type"),
    [
        ("photo.jpg", media.jpeg_with_gps(), "photo", "image/jpeg"),
        ("screenshot.png", media.png_with_gps(), "photo", "image/png"),
        ("photo.webp", media.webp_with_gps(), "photo", "image/webp"),
        ("IMG_0001.HEIC", media.heic_with_gps(), "photo", "image/heic"),
        ("clip.mp4", media.mp4(), "video", "video/mp4"),
        ("IMG_0002.MOV", media.mov(), "video", "video/quicktime"),
        ("clip.webm", media.webm(), "video", "video/webm"),
    ],
)
def test_each_allowed_format_is_recognised_by_its_content_not_its_name(
    draft_remark, media_root, name, data, kind, content_type
):
    # The browser's name and type are wrong on purpose: only the bytes count.
    attachment = storing.store_upload(draft_remark, uploaded(name + ".txt", data, "text/plain"))
    assert (attachment.kind, attachment.content_type) == (kind, content_type)


@pytest.mark.parametrize(
    "data",
    [
        b"GIF89a" + bytes(100),  # an image format we do not take
        b"%PDF-1.7\n" + bytes(100),
        b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00M4A isom" + bytes(100),  # audio
        b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00avifmif1" + bytes(100),  # AVIF, not HEIC
        media.webm().replace(b"webm", b"matr", 1),  # Matroska, not WebM
        b"",
    ],
)
def test_other_content_is_rejected(draft_remark, media_root, data):
    with pytest.raises(refusals.UploadRejected):
        storing.store_upload(draft_remark, uploaded("file.mp4", data, "video/mp4"))
    assert stored_files(media_root) == []


def test_size_limits_are_per_kind(draft_remark, media_root, settings):
    settings.CHECKIN_MAX_PHOTO_BYTES = 5_000
    settings.CHECKIN_MAX_VIDEO_BYTES = 20_000
    photo = media.jpeg_with_gps(size=(300, 300), noise=True)
    assert len(photo) > 5_000

    with pytest.raises(refusals.UploadRejected) as rejected:
        storing.store_upload(draft_remark, uploaded("big.jpg", photo))
    assert "“big.jpg” is larger than 4.9\xa0KB, the most we accept for a photo." in (
        rejected.value.message
    )

    # A video of the same size is within its own, larger limit.
    storing.store_upload(draft_remark, uploaded("small.mp4", media.mp4(payload_bytes=8_000)))
    with pytest.raises(refusals.UploadRejected) as rejected:
        storing.store_upload(draft_remark, uploaded("long.mp4", media.mp4(payload_bytes=25_000)))
    assert "the most we accept for a video" in rejected.value.message
    assert [a.original_name for a in Attachment.objects.all()] == ["small.mp4"]
    assert len(stored_files(media_root)) == 1


def test_the_eleventh_file_on_a_remark_is_rejected(draft_remark, media_root):
    for n in range(10):
        storing.store_upload(draft_remark, uploaded(f"IMG_{n}.mp4", media.mp4(payload_bytes=n)))

    with pytest.raises(refusals.UploadRejected) as rejected:
        storing.store_upload(draft_remark, uploaded("IMG_10.mp4", media.mp4(payload_bytes=10)))
    assert "A remark can have at most 10 photos or videos" in rejected.value.message
    assert draft_remark.attachments.count() == 10

    # A rejected file does not take a place.
    draft_remark.attachments.filter(original_name="IMG_0.mp4").update(state=State.REJECTED)
    storing.store_upload(draft_remark, uploaded("IMG_10.mp4", media.mp4(payload_bytes=10)))


def test_the_same_file_sent_twice_is_kept_once(draft_remark, media_root):
    data = media.jpeg_with_gps()
    first = storing.store_upload(draft_remark, uploaded("IMG_1.jpg", data))
    again = storing.store_upload(draft_remark, uploaded("IMG_1.jpg", data))
    assert again.pk == first.pk
    assert len(stored_files(media_root)) == 1


def test_files_cannot_be_added_once_the_remark_is_sent_or_the_appointment_started(
    draft_remark, media_root
):
    draft_remark.state = CheckInItem.State.OPEN
    draft_remark.save()
    with pytest.raises(refusals.UploadRejected, match="has been sent"):
        storing.store_upload(draft_remark, uploaded("IMG_1.jpg", media.jpeg_with_gps()))

    started = AppointmentFactory(starts_at=timezone.now() - timedelta(minutes=5))
    remark = RemarkFactory(checkin=started.checkin, state=CheckInItem.State.DRAFT)
    with pytest.raises(refusals.UploadRejected, match="has closed"):
        storing.store_upload(remark, uploaded("IMG_1.jpg", media.jpeg_with_gps()))
    assert stored_files(media_root) == []


# --- Memory: uploads are streamed, never read whole -------------------------------------


class ReadRecorder:
    """Stands in for an uploaded file's underlying file object and notes every read."""

    def __init__(self, wrapped):
        self._wrapped = wrapped
        self.reads: list[tuple] = []

    def read(self, *args):
        self.reads.append(args)
        return self._wrapped.read(*args)

    def __getattr__(self, name):
        return getattr(self._wrapped, name)


def _multipart_request(data: bytes, name: str = "IMG_3001.jpg"):
    request = RequestFactory().post(
        "/upload/", {"files": uploaded(name, data)}, HTTP_HOST="127.0.0.1"
    )
    request.upload_handlers.insert(0, UploadLimitHandler(request))
    return request


def test_a_large_upload_is_streamed_to_a_temporary_file_and_moved_into_place(
    draft_remark, media_root
):
    data = media.jpeg_with_gps(size=(800, 800), noise=True)
    assert len(data) > 512 * 1024
    request = _multipart_request(data)
    upload = request.FILES["files"]
    # Past FILE_UPLOAD_MAX_MEMORY_SIZE (256 KB), Django writes it to disk as it arrives.
    assert isinstance(upload, TemporaryUploadedFile)
    temporary_path = upload.temporary_file_path()
    recorder = ReadRecorder(upload.file)
    upload.file = recorder

    attachment = storing.store_upload(draft_remark, upload)

    assert recorder.reads, "the first bytes are looked at"
    assert all(len(args) == 1 and 0 < args[0] <= HEAD_BYTES for args in recorder.reads)
    assert (media_root / attachment.file.name).read_bytes() == data
    assert not os.path.exists(temporary_path), "moved, not copied"
    upload.close()


def test_the_upload_handler_skips_a_file_past_its_limit_before_it_is_written(settings):
    settings.CHECKIN_MAX_PHOTO_BYTES = 100 * 1024
    request = _multipart_request(media.jpeg_with_gps(size=(800, 800), noise=True))
    assert "files" not in request.FILES
    (limiter,) = [h for h in request.upload_handlers if isinstance(h, UploadLimitHandler)]
    assert limiter.refused == [
        "“IMG_3001.jpg” is larger than 100.0\xa0KB, the most we accept for a photo."
    ]


def test_the_upload_handler_skips_a_file_that_is_not_a_photo_or_video_at_its_first_chunk():
    request = _multipart_request(media.TEXT * 1000, name="notes.jpg")
    assert "files" not in request.FILES
    (limiter,) = [h for h in request.upload_handlers if isinstance(h, UploadLimitHandler)]
    assert "“notes.jpg” is not a photo or video we can accept" in limiter.refused[0]


# --- Checking (the Celery task's work) ---------------------------------------------------


def test_processing_a_photo_removes_gps_and_all_metadata_turns_it_upright_and_makes_a_thumbnail(
    draft_remark, media_root
):
    data = media.jpeg_with_gps(size=(600, 400), orientation=6)
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    attachment = storing.store_upload(draft_remark, uploaded("IMG_2041.jpg", data))
    original_key = attachment.file.name

    assert processing.process_attachment(attachment.pk) == State.READY

    attachment.refresh_from_db()
    assert attachment.state == State.READY
    assert attachment.checked_at is not None
    photo = _open(attachment.file)
    assert photo.format == "JPEG"
    assert photo.size == (400, 600), "the rotation tag is applied to the pixels"
    assert not photo.getexif(), "no EXIF left: no GPS, no make or model"
    assert "xmp" not in photo.info
    with attachment.file.open("rb") as stored:
        assert b"GPSLatitude" not in stored.read()
    assert attachment.size == attachment.file.size
    thumbnail = _open(attachment.thumbnail)
    assert thumbnail.format == "JPEG"
    assert max(thumbnail.size) == processing.THUMBNAIL_PIXELS
    assert thumbnail.size[0] < thumbnail.size[1]
    assert not (media_root / original_key).exists(), "the original with GPS is gone"
    assert attachment.file.name.startswith(f"checkins/{draft_remark.checkin_id}/")


@pytest.mark.parametrize(
    ("data", "pillow_format"),
    [
        (media.png_with_gps(), "PNG"),
        (media.webp_with_gps(), "WEBP"),
        (media.heic_with_gps(), "HEIF"),
    ],
)
def test_processing_removes_gps_from_every_photo_format(
    draft_remark, media_root, data, pillow_format
):
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    attachment = storing.store_upload(draft_remark, uploaded("photo", data))
    processing.process_attachment(attachment.pk)

    attachment.refresh_from_db()
    assert attachment.state == State.READY
    photo = _open(attachment.file)
    assert photo.format == pillow_format
    assert not photo.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert not dict(photo.getexif())
    assert _open(attachment.thumbnail).format == "JPEG"


def test_a_heic_photo_gets_a_jpeg_copy_for_browsers(draft_remark, media_root):
    attachment = storing.store_upload(
        draft_remark, uploaded("IMG_0001.HEIC", media.heic_with_gps())
    )
    processing.process_attachment(attachment.pk)

    attachment.refresh_from_db()
    assert attachment.content_type == "image/heic"
    display = _open(attachment.display_file)
    assert display.format == "JPEG"
    assert display.size == (600, 400)
    assert not display.getexif()


@pytest.mark.parametrize("data", [media.mp4(), media.mov(), media.webm()])
def test_a_video_is_ready_once_its_container_checks_out(draft_remark, media_root, data):
    attachment = storing.store_upload(draft_remark, uploaded("clip", data))
    assert processing.process_attachment(attachment.pk) == State.READY
    attachment.refresh_from_db()
    assert attachment.kind == Attachment.Kind.VIDEO
    assert attachment.file.open("rb").read() == data
    assert not attachment.thumbnail


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        # Right first bytes, no photo behind them.
        (media.jpeg_with_gps()[:300] + media.TEXT, refusals.REASON_UNREADABLE),
        # An ftyp box and then garbage instead of movie boxes.
        (media.mp4()[:32] + b"\x00\x00\x00\x02\xff\xfe" + media.TEXT, refusals.REASON_NOT_MEDIA),
        # WebM's header without a segment.
        (media.webm()[:36] + media.TEXT, refusals.REASON_NOT_MEDIA),
    ],
)
def test_processing_rejects_what_only_looks_right_and_deletes_its_bytes(
    draft_remark, media_root, data, reason
):
    attachment = storing.store_upload(draft_remark, uploaded("IMG_1.jpg", data))
    assert stored_files(media_root)

    assert processing.process_attachment(attachment.pk) == State.REJECTED

    attachment.refresh_from_db()
    assert attachment.state == State.REJECTED
    assert attachment.rejection_reason == reason
    assert not attachment.file
    assert stored_files(media_root) == []


@pytest.fixture
def decoded_sizes(monkeypatch):
    """The size of every image Pillow decodes from a file while the test runs."""
    sizes: list[tuple[int, int]] = []
    decode = ImageFile.ImageFile.load

    def recording_decode(image):
        sizes.append(image.size)
        return decode(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", recording_decode)
    return sizes


def test_a_decompression_bomb_is_refused_from_its_header_without_being_decoded(
    client, draft_remark, media_root, decoded_sizes
):
    """13,000 x 13,000 pixels in 0.7 MB: decoded, it took a worker to 2.2 GB."""
    bomb = media.png_bomb(13_000, 13_000)
    assert len(bomb) < 1024 * 1024
    client.post(
        _url("portal:upload", draft_remark), {"files": uploaded("IMG_9999.png", bomb, "image/png")}
    )
    attachment = draft_remark.attachments.get()

    assert processing.process_attachment(attachment.pk) == State.REJECTED

    assert decoded_sizes == [], "refused from the header, never decoded"
    attachment.refresh_from_db()
    assert attachment.rejection_reason == refusals.REASON_TOO_MANY_PIXELS
    assert stored_files(media_root) == []
    page = client.get(_url("portal:remark_files", draft_remark)).content.decode()
    reason = nl(refusals.REASON_TOO_MANY_PIXELS)
    assert escape(nl("Not accepted: %(reason)s") % {"reason": reason}) in page


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("IMG_1.jpg", media.jpeg_with_gps(size=(1250, 1000), orientation=1)),
        ("IMG_2.heic", lambda: media.heic_with_gps(size=(1250, 1000))),
    ],
)
def test_a_photo_past_the_pixel_limit_is_refused_whatever_its_format(
    draft_remark, media_root, settings, decoded_sizes, name, data
):
    settings.CHECKIN_MAX_PHOTO_MEGAPIXELS = 1
    data = data() if callable(data) else data
    attachment = storing.store_upload(draft_remark, uploaded(name, data))

    assert processing.process_attachment(attachment.pk) == State.REJECTED

    attachment.refresh_from_db()
    assert attachment.rejection_reason == refusals.REASON_TOO_MANY_PIXELS
    assert decoded_sizes == []


def test_a_photo_at_the_pixel_limit_is_taken(draft_remark, media_root, settings):
    settings.CHECKIN_MAX_PHOTO_MEGAPIXELS = 1
    data = media.jpeg_with_gps(size=(1000, 1000), orientation=1)
    attachment = storing.store_upload(draft_remark, uploaded("IMG_1.jpg", data))

    assert processing.process_attachment(attachment.pk) == State.READY


def test_processing_twice_or_after_removal_changes_nothing(draft_remark, media_root):
    attachment = storing.store_upload(draft_remark, uploaded("IMG_1.jpg", media.jpeg_with_gps()))
    processing.process_attachment(attachment.pk)
    files = stored_files(media_root)
    assert processing.process_attachment(attachment.pk) == ""
    assert stored_files(media_root) == files

    removing.remove_attachment(Attachment.objects.get(pk=attachment.pk))
    assert processing.process_attachment(attachment.pk) == ""


def test_removing_a_file_deletes_its_bytes_once_committed(
    draft_remark, media_root, django_capture_on_commit_callbacks
):
    attachment = storing.store_upload(draft_remark, uploaded("IMG_1.jpg", media.jpeg_with_gps()))
    processing.process_attachment(attachment.pk)
    assert len(stored_files(media_root)) == 2  # the photo and its thumbnail

    with django_capture_on_commit_callbacks(execute=True):
        removing.remove_attachment(Attachment.objects.get(pk=attachment.pk))

    assert not Attachment.objects.exists()
    assert stored_files(media_root) == []


def test_storing_queues_the_check_after_commit(
    draft_remark, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        attachment = storing.store_upload(draft_remark, uploaded("a.jpg", media.jpeg_with_gps()))
    assert [(c.func, c.args) for c in callbacks] == [(storing.queue_processing, (attachment.pk,))]


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_checks_an_upload_made_through_the_page(client, celery_worker_process):
    """The whole way: the form post, on_commit, the broker, the worker, the READY state."""
    remark = new_draft_remark()
    token = remark.checkin.token
    response = client.post(
        reverse("portal:upload", args=[token, remark.pk]),
        {"files": uploaded("IMG_2041.jpg", media.jpeg_with_gps())},
    )
    assert response.status_code == 302
    attachment = remark.attachments.get()
    deadline = time.monotonic() + 60
    while attachment.state == State.CHECKING and time.monotonic() < deadline:
        time.sleep(0.5)
        attachment.refresh_from_db()
    try:
        assert attachment.state == State.READY
        assert not _open(attachment.file).getexif()
    finally:
        removing.remove_attachment(attachment)  # the worker's media folder is the shared one


# --- The views ---------------------------------------------------------------------------


def _url(name: str, remark: CheckInItem, *args) -> str:
    return reverse(name, args=[remark.checkin.token, remark.pk, *args])


def test_the_plain_form_uploads_files_and_goes_back_to_the_page_it_came_from(
    client, draft_remark, media_root
):
    page = _url("portal:remark_files", draft_remark)
    response = client.post(
        _url("portal:upload", draft_remark),
        {
            "files": [
                uploaded("IMG_1.jpg", media.jpeg_with_gps()),
                uploaded("clip.mp4", media.mp4(), "video/mp4"),
            ],
            "next": page,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"{page}#attachments-{draft_remark.pk}"
    assert_private(response)
    assert [a.original_name for a in draft_remark.attachments.all()] == ["IMG_1.jpg", "clip.mp4"]

    html = client.get(page).content.decode()
    assert "IMG_1.jpg" in html
    assert "clip.mp4" in html
    assert nl("Being checked…") in html


def test_a_rejected_file_shows_its_error_next_to_the_file_field_once(
    client, draft_remark, media_root
):
    page = _url("portal:remark_files", draft_remark)
    response = client.post(
        _url("portal:upload", draft_remark),
        {"files": [uploaded("brakes.jpg", media.TEXT)], "next": page},
        follow=True,
    )
    html = response.content.decode()
    errors = re.search(
        rf'<div class="errorlist" id="upload-errors-{draft_remark.pk}">(.*?)</div>', html, re.S
    )
    assert errors is not None
    assert escape(nl(NOT_MEDIA) % {"name": "brakes.jpg"}) in errors.group(1)
    assert (
        f'aria-describedby="upload-hint-{draft_remark.pk} upload-errors-{draft_remark.pk}"' in html
    )
    assert 'aria-invalid="true"' in html
    assert stored_files(media_root) == []

    assert "brakes.jpg" not in client.get(page).content.decode(), "shown once"


def test_a_next_page_outside_the_link_is_ignored(client, draft_remark, media_root):
    response = client.post(
        _url("portal:upload", draft_remark),
        {"files": [uploaded("a.jpg", media.jpeg_with_gps())], "next": "https://evil.example/"},
    )
    assert response["Location"].startswith(f"/c/{draft_remark.checkin.token}/")


def test_one_file_from_javascript_gets_json(client, draft_remark, media_root):
    url = _url("portal:upload", draft_remark)
    response = client.post(
        url, {"files": uploaded("IMG_1.jpg", media.jpeg_with_gps())}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 200
    assert response.json()["attachment"] | {"id": 0} == {
        "id": 0,
        "name": "IMG_1.jpg",
        "size": len(media.jpeg_with_gps()),
        "state": "checking",
    }
    assert_private(response)

    response = client.post(
        url, {"files": uploaded("notes.jpg", media.TEXT)}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 422
    assert response.json()["error"] == nl(NOT_MEDIA) % {"name": "notes.jpg"}


def test_the_view_refuses_a_file_past_the_limit_without_storing_it(
    client, draft_remark, media_root, settings
):
    settings.CHECKIN_MAX_PHOTO_BYTES = 100 * 1024
    response = client.post(
        _url("portal:upload", draft_remark),
        {"files": uploaded("big.jpg", media.jpeg_with_gps(size=(800, 800), noise=True))},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 422
    assert response.json()["error"].endswith(nl_after(PHOTO_TOO_LARGE, "%(limit)s"))
    assert stored_files(media_root) == []


def test_a_plain_form_post_behind_no_referrer_is_accepted_and_a_cross_site_one_refused(
    draft_remark, media_root
):
    """Behind `Referrer-Policy: no-referrer` browsers post forms with `Origin: null` and no
    Referer, which Django's CSRF check refuses; the link's secret protects these posts."""
    client = Client(enforce_csrf_checks=True)
    url = _url("portal:upload", draft_remark)
    response = client.post(
        url,
        {"files": uploaded("a.jpg", media.jpeg_with_gps())},
        HTTP_ORIGIN="null",
        HTTP_SEC_FETCH_SITE="same-origin",
        secure=True,
    )
    assert response.status_code == 302
    assert draft_remark.attachments.count() == 1

    for site in ("cross-site", "same-site"):
        response = client.post(
            url, {"files": uploaded("b.jpg", media.jpeg_with_gps())}, HTTP_SEC_FETCH_SITE=site
        )
        assert response.status_code == 403
    assert draft_remark.attachments.count() == 1
    assert len(stored_files(media_root)) == 1


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_a_wrong_link_a_closed_check_in_and_a_sent_remark_are_refused(
    client, draft_remark, media_root, accept
):
    files = {"files": uploaded("a.jpg", media.jpeg_with_gps())}
    wrong = reverse("portal:upload", args=["x" * 26, draft_remark.pk])
    response = client.post(wrong, files, HTTP_ACCEPT=accept)
    assert response.status_code == 404
    assert_private(response)
    assert "This link is not valid" in response.content.decode()

    other = RemarkFactory(checkin=AppointmentFactory().checkin, state=CheckInItem.State.DRAFT)
    response = client.post(
        _url("portal:upload", other).replace(other.checkin.token, draft_remark.checkin.token),
        files,
        HTTP_ACCEPT=accept,
    )
    assert response.status_code == 404

    sent = RemarkFactory(checkin=draft_remark.checkin, state=CheckInItem.State.OPEN)
    response = client.post(_url("portal:upload", sent), files, HTTP_ACCEPT=accept)
    assert response.status_code == 403
    assert nl("This remark has been sent, so its files can no longer change.") in (
        response.content.decode() if accept == "text/html" else response.json()["error"]
    )

    appointment = draft_remark.checkin.appointment
    appointment.starts_at = timezone.now() - timedelta(minutes=1)
    appointment.save()
    response = client.post(_url("portal:upload", draft_remark), files, HTTP_ACCEPT=accept)
    assert response.status_code == 410
    assert nl("This check-in has closed") in response.content.decode()
    assert stored_files(media_root) == []


def test_removing_a_file_from_the_page(
    client, draft_remark, media_root, django_capture_on_commit_callbacks
):
    attachment = storing.store_upload(draft_remark, uploaded("IMG_1.jpg", media.jpeg_with_gps()))
    page = _url("portal:remark_files", draft_remark)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            _url("portal:attachment_remove", draft_remark, attachment.pk), {"next": page}
        )
    assert response.status_code == 302
    assert response["Location"] == f"{page}#attachments-{draft_remark.pk}"
    assert not draft_remark.attachments.exists()
    assert stored_files(media_root) == []


def test_removing_with_htmx_answers_the_new_list(client, draft_remark, media_root):
    ready_attachment(draft_remark, "keep.jpg")
    gone = ready_attachment(draft_remark, "gone.jpg")
    response = client.post(
        _url("portal:attachment_remove", draft_remark, gone.pk), HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert html.strip().startswith(
        f'<div class="attachment-files" id="attachment-list-{draft_remark.pk}"'
    )
    assert "keep.jpg" in html
    assert "gone.jpg" not in html
    files_added = nl_plural(
        "%(added)s of %(limit)s file added", "%(added)s of %(limit)s files added", 10
    )
    assert files_added % {"added": 1, "limit": 10} in html


def test_the_list_polls_while_a_file_is_being_checked(client, draft_remark, media_root):
    url = _url("portal:remark_files", draft_remark)
    attachment = storing.store_upload(draft_remark, uploaded("IMG_1.jpg", media.jpeg_with_gps()))
    html = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 3s"' in html

    processing.process_attachment(attachment.pk)
    html = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in html
    assert (
        reverse("portal:attachment_thumbnail", args=[draft_remark.checkin.token, attachment.pk])
        in html
    )
    assert nl("Ready", "photo or video state") in html


def test_the_list_runs_a_fixed_number_of_queries(client, draft_remark, django_assert_num_queries):
    url = _url("portal:remark_files", draft_remark)
    ready_attachment(draft_remark, "one.jpg")
    client.get(url, HTTP_HX_REQUEST="true")  # the first visit also records the opening
    with django_assert_num_queries(3):  # the link, the remark, its files
        client.get(url, HTTP_HX_REQUEST="true")
    for n in range(6):
        ready_attachment(draft_remark, f"more-{n}.jpg")
    with django_assert_num_queries(3):
        response = client.get(url, HTTP_HX_REQUEST="true")
    assert response.content.decode().count('class="attachment"') == 7


def test_the_customer_sees_the_thumbnail_of_a_checked_photo_and_nobody_else(
    client, draft_remark, media_root
):
    attachment = storing.store_upload(draft_remark, uploaded("IMG_1.jpg", media.jpeg_with_gps()))
    token = draft_remark.checkin.token
    url = reverse("portal:attachment_thumbnail", args=[token, attachment.pk])
    assert client.get(url).status_code == 404, "not before it is checked"

    processing.process_attachment(attachment.pk)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(b"".join(response.streaming_content))).format == "JPEG"
    assert_private(response)

    stranger = AppointmentFactory().checkin.token
    assert client.get(url.replace(token, stranger)).status_code == 404


def test_the_partial_as_the_remarks_step_includes_it(rf, draft_remark, media_root):
    """The portal's remarks step renders the partial with remark, checkin and token."""
    ready = ready_attachment(draft_remark, "IMG_ready.jpg")
    Attachment.objects.create(
        item=draft_remark,
        kind=Attachment.Kind.PHOTO,
        state=State.REJECTED,
        content_type="image/jpeg",
        original_name="IMG_bad.jpg",
        rejection_reason=refusals.REASON_UNREADABLE,
    )
    token = draft_remark.checkin.token
    request = rf.get(f"/c/{token}/remarks/")
    request.session = {}
    html = render_to_string(
        "portal/_attachments.html",
        {"remark": draft_remark, "checkin": draft_remark.checkin, "token": token},
        request=request,
    )
    assert f'id="attachments-{draft_remark.pk}"' in html
    assert reverse("portal:attachment_thumbnail", args=[token, ready.pk]) in html
    assert "Not accepted: This photo could not be read; it may be damaged." in html
    assert 'accept="image/*,video/*"' in html
    assert "capture" not in html
    assert f'name="next" value="/c/{token}/remarks/"' in html
    assert 'data-upload="django"' in html
    assert "1 of 10 files added" in html
    assert "css/uploads.css" not in html, "the page loads the assets once, in its head"
    assets = render_to_string("portal/_attachments.html#assets")
    assert "css/uploads.css" in assets
    assert "js/upload.js" in assets
