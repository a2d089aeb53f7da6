"""Why a file is refused, in words for the customer.

`UploadRejected` carries a translated message, shown next to the file field (or as
JSON to upload.js); the `REASON_*` texts are kept, in English, on an attachment the
background check rejected, and translated when shown.
"""

from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from portal.uploads.media import limit_for
from workshop.models import Attachment

Kind = Attachment.Kind

# Reasons kept on a rejected attachment; translated when shown.
REASON_NOT_MEDIA = gettext_noop("This file is not a photo or video we can accept.")
REASON_UNREADABLE = gettext_noop("This photo could not be read; it may be damaged.")
REASON_TOO_LARGE = gettext_noop("This file is larger than we accept.")
REASON_MISSING = gettext_noop("This file did not arrive.")
REASON_TOO_MANY_PIXELS = gettext_noop(
    "This photo has more pixels than we accept. Please send it at a lower resolution."
)
REASON_NOT_CHECKED = gettext_noop("This file could not be checked.")


class UploadRejected(Exception):
    """A file we do not take; `message` is translated and meant for the customer."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def not_media_message(name: str) -> str:
    return _(
        "“%(name)s” is not a photo or video we can accept. "
        "Send photos as JPEG, PNG, WebP or HEIC and videos as MP4, MOV or WebM."
    ) % {"name": name}


def too_large_message(name: str, kind: str) -> str:
    limit = filesizeformat(limit_for(kind))
    if kind == Kind.VIDEO:
        return _("“%(name)s” is larger than %(limit)s, the most we accept for a video.") % {
            "name": name,
            "limit": limit,
        }
    return _("“%(name)s” is larger than %(limit)s, the most we accept for a photo.") % {
        "name": name,
        "limit": limit,
    }


def check_size(name: str, kind: str, size: int) -> None:
    if size <= 0:
        raise UploadRejected(_("“%(name)s” is empty.") % {"name": name})
    if size > limit_for(kind):
        raise UploadRejected(too_large_message(name, kind))
