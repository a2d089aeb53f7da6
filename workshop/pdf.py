"""The job card: one appointment on paper for the mechanic, rendered by WeasyPrint.

No prices and no customer contact details. Photos come from storage through our own
URL fetcher (`pitlane-media:<id>`), which serves only the thumbnails of the remarks on
this card: WeasyPrint never goes to the network, whatever the HTML holds.
"""

import logging
from functools import cache
from pathlib import Path

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify
from weasyprint import CSS, HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from workshop.models import Appointment, Attachment

SCHEME = "pitlane-media:"
# WeasyPrint reports every rendering step at INFO; only its warnings matter here.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)


class CardMediaFetcher(URLFetcher):
    """Reads the card's own thumbnails from storage; refuses every other URL."""

    def __init__(self, attachments: dict[str, Attachment], logo=None) -> None:
        super().__init__(allowed_protocols=[])
        self.attachments = attachments
        self.logo = logo

    def fetch(self, url: str, headers: dict | None = None) -> URLFetcherResponse:
        if url == f"{SCHEME}logo" and self.logo:
            return self._read(url, self.logo, "image/png")
        attachment = (
            self.attachments.get(url.removeprefix(SCHEME)) if url.startswith(SCHEME) else None
        )
        if attachment is None:
            raise ValueError(f"not on this card: {url[:40]}")
        field = attachment.thumbnail or attachment.display_file or attachment.file
        return self._read(url, field, "image/jpeg")

    @staticmethod
    def _read(url: str, field, content_type: str) -> URLFetcherResponse:
        with field.storage.open(field.name, "rb") as handle:
            data = handle.read()
        return URLFetcherResponse(url, data, {"Content-Type": content_type})


def card_photos(appointment: Appointment) -> dict[str, Attachment]:
    """The shared remarks' photos (a video prints its poster frame, when it has one)."""
    photos = {}
    for remark in appointment.checkin.shared_remarks:
        for attachment in remark.ready_attachments:
            if attachment.kind == Attachment.Kind.PHOTO or attachment.thumbnail:
                photos[str(attachment.pk)] = attachment
    return photos


def render_job_card(appointment: Appointment) -> bytes:
    """`appointment` as `workshop.views.mechanic_appointments` loads it."""
    dealership = appointment.dealership
    photos = card_photos(appointment)
    html = render_to_string(
        "workshop/job_card.html",
        {
            "appointment": appointment,
            "dealership": dealership,
            "vehicle": appointment.vehicle,
            "work_items": appointment.mechanic_work_items,
            "remarks": appointment.checkin.shared_remarks,
            "photos": photos,
            "printed_at": timezone.localtime(timezone=dealership.tz),
            "scheme": SCHEME,
        },
    )
    fetcher = CardMediaFetcher(photos, logo=dealership.logo or None)
    document = HTML(string=html, url_fetcher=fetcher, base_url="pitlane-media:/")
    return document.write_pdf(stylesheets=[card_stylesheet()])


@cache
def card_stylesheet() -> CSS:
    """The card's styles, parsed once: the same for every card."""
    return CSS(string=Path(__file__).with_name("job_card.css").read_text(encoding="utf-8"))


def job_card_filename(appointment: Appointment) -> str:
    day = appointment.local_start.date().isoformat()
    return f"job-card-{day}-{slugify(appointment.vehicle.plate) or appointment.pk}.pdf"
