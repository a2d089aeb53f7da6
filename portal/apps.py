from django.apps import AppConfig
from django.conf import settings


class PortalConfig(AppConfig):
    name = "portal"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from PIL import Image

        # Pillow warns past this and refuses twice this when it opens an image, in every
        # process that reads customers' photos; `portal.uploads.processing` refuses past
        # it itself.
        Image.MAX_IMAGE_PIXELS = settings.CHECKIN_MAX_PHOTO_MEGAPIXELS * 1_000_000
        # Registers the tasks in every process, so the web can queue them by name.
        from portal import tasks  # noqa: F401
