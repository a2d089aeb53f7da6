"""Helpers shared by the upload tests."""

from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import AppointmentFactory, RemarkFactory
from workshop.models import Attachment, CheckInItem

PRIVATE_HEADERS = {
    "X-Robots-Tag": "noindex",
    "Referrer-Policy": "no-referrer",
}


def assert_private(response) -> None:
    for header, value in PRIVATE_HEADERS.items():
        assert response[header] == value, header
    assert "no-store" in response["Cache-Control"]


def new_draft_remark() -> CheckInItem:
    """A remark the customer is still writing, on an upcoming appointment's check-in."""
    checkin = AppointmentFactory().checkin
    return RemarkFactory(checkin=checkin, state=CheckInItem.State.DRAFT, submitted_at=None)


def uploaded(name: str, data: bytes, content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def ready_attachment(remark: CheckInItem, name: str = "IMG_0001.jpg") -> Attachment:
    """A checked photo, as processing leaves it (no bytes behind it: for list pages)."""
    return Attachment.objects.create(
        item=remark,
        file=f"checkins/{remark.checkin_id}/{name}",
        thumbnail=f"thumbnails/{name}",
        kind=Attachment.Kind.PHOTO,
        state=Attachment.State.READY,
        content_type="image/jpeg",
        size=1000,
        original_name=name,
    )
