"""Limits on what one customer link can make us store, check and send."""

from django.conf import settings
from PIL import Image


def test_the_limits_on_what_customers_send_are_in_effect():
    from config.celery import app

    assert settings.CHECKIN_MAX_PHOTO_MEGAPIXELS == 50
    assert Image.MAX_IMAGE_PIXELS == 50_000_000
    # A worker child that grew past 512 MB (a large photo) is replaced after its task.
    assert app.conf.worker_max_memory_per_child == 512 * 1024
