"""Data for the staff UI tests: appointments with real answers and real files."""

import io
from datetime import datetime, time
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from tests.factories import AppointmentFactory, OfferFactory, RemarkFactory
from workshop import checkin as flow
from workshop.demo import demo_photo
from workshop.models import Appointment, Attachment, CheckInItem


def at_local(dealership, day, hour=10, minute=0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=dealership.tz)


def today_local(dealership):
    return timezone.localdate(timezone=dealership.tz)


def appointment_today(dealership, hour=10, **kwargs) -> Appointment:
    return AppointmentFactory(
        dealership=dealership,
        starts_at=at_local(dealership, today_local(dealership), hour),
        **kwargs,
    )


def photo(item: CheckInItem, *, label="photo", state=Attachment.State.READY) -> Attachment:
    """A real JPEG with a real thumbnail, stored like the upload checks store them."""
    data = demo_photo(label, 7)
    attachment = Attachment(
        item=item,
        kind=Attachment.Kind.PHOTO,
        state=state,
        content_type="image/jpeg",
        size=len(data),
        original_name="IMG_0001.jpg",
    )
    attachment.file.save("photo.jpg", ContentFile(data), save=False)
    thumb = Image.open(io.BytesIO(data))
    thumb.thumbnail((320, 320))
    buffer = io.BytesIO()
    thumb.save(buffer, "JPEG")
    attachment.thumbnail.save("thumb.jpg", ContentFile(buffer.getvalue()), save=False)
    attachment.save()
    return attachment


def video(item: CheckInItem) -> Attachment:
    attachment = Attachment(
        item=item,
        kind=Attachment.Kind.VIDEO,
        state=Attachment.State.READY,
        content_type="video/mp4",
        size=12,
        original_name="clip.mp4",
    )
    attachment.file.save("clip.mp4", ContentFile(b"\x00\x00\x00\x18ftypmp42"), save=False)
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), "grey").save(buffer, "JPEG")
    attachment.thumbnail.save("poster.jpg", ContentFile(buffer.getvalue()), save=False)
    attachment.save()
    return attachment


def answered(
    appointment: Appointment,
    *,
    remarks=(("Squeaky brakes", "A squeak when braking."),),
    accept=(),
    contact=(),
) -> dict:
    """The customer answers through the check-in flow: offers and remarks, then sends."""
    checkin = appointment.checkin
    flow.record_opened(checkin)
    created: dict = {"remarks": [], "accepted": [], "contact": []}
    for offer in accept:
        flow.set_offer_choice(checkin, offer, flow.OfferChoice.ACCEPT)
    for offer in contact:
        flow.set_offer_choice(checkin, offer, flow.OfferChoice.CONTACT)
    for subject, description in remarks:
        created["remarks"].append(
            CheckInItem.objects.create(
                checkin=checkin,
                kind=CheckInItem.Kind.REMARK,
                subject=subject,
                description=description,
            )
        )
    flow.submit_checkin(checkin)
    items = checkin.items.all()
    created["remarks"] = [items.get(pk=r.pk) for r in created["remarks"]]
    created["accepted"] = list(items.filter(kind=CheckInItem.Kind.OFFER_ACCEPTED))
    created["contact"] = list(items.filter(kind=CheckInItem.Kind.OFFER_CONTACT))
    return created


def converting_offer(dealership, **kwargs):
    return OfferFactory(dealership=dealership, converts_to_work_item=True, **kwargs)


def open_remark(appointment: Appointment, **kwargs) -> CheckInItem:
    return RemarkFactory(checkin=appointment.checkin, **kwargs)


@pytest.fixture(name="media_root")
def media_root_fixture(settings, tmp_path):
    """Uploaded files go to a folder of the test's own (import this, ask for `media_root`)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


PRICE = Decimal("121.00")
