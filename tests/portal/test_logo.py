"""A dealership's logo has a public address that lasts, for e-mails read days later."""

import io

import pytest
from django.core.files.base import ContentFile
from PIL import Image

from tests.factories import DealershipFactory
from tests.workshop.staffdata import media_root_fixture  # noqa: F401 - the media_root fixture

pytestmark = pytest.mark.django_db


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 40), "#0f5c8c").save(out, "PNG")
    return out.getvalue()


def test_the_logo_is_served_publicly_at_an_address_that_names_it(client, media_root):
    dealership = DealershipFactory()
    dealership.logo.save("logo.png", ContentFile(png()), save=True)

    response = client.get(dealership.logo_url)

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == png()
    assert "public" in response["Cache-Control"]


def test_an_old_logo_address_or_another_dealerships_name_finds_nothing(client, media_root):
    dealership = DealershipFactory()
    dealership.logo.save("logo.png", ContentFile(png()), save=True)
    old = dealership.logo_url
    dealership.logo.save("logo.png", ContentFile(png()), save=True)  # a new upload, a new name
    without_logo = DealershipFactory()

    assert client.get(old).status_code == 404
    assert client.get(dealership.logo_url).status_code == 200
    assert client.get(old.replace(dealership.slug, without_logo.slug)).status_code == 404
    assert without_logo.logo_url == ""
