"""Headers every response carries, staff and customer pages alike."""

import pytest
from django.urls import reverse

from tests.factories import AppointmentFactory

pytestmark = pytest.mark.django_db

DENIED = ["camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"]


def pages(checkin) -> list[str]:
    return [
        reverse("login"),
        reverse("workshop:appointments"),
        reverse("admin:login"),
        reverse("portal:welcome", args=[checkin.token]),
        reverse("portal:remarks", args=[checkin.token]),
        "/c/" + "Q" * 26 + "/",  # a wrong link
        "/no-such-page/",
    ]


def test_every_page_denies_camera_microphone_and_location(staff_client):
    checkin = AppointmentFactory().checkin
    for path in pages(checkin):
        policy = staff_client.get(path)["Permissions-Policy"]
        for rule in DENIED:
            assert rule in policy, (path, rule)
        # Videos may still go full screen; copying a link still works.
        assert "fullscreen=(self)" in policy
        assert "clipboard-write" not in policy or "clipboard-write=(self)" in policy
