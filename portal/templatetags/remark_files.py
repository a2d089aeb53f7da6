"""Template tags for the files on a remark (templates/portal/_attachments.html)."""

from typing import Any

from django import template
from django.conf import settings

from portal.upload_views import pop_flashed_errors
from workshop.models import Attachment, CheckInItem

register = template.Library()


@register.simple_tag
def remark_files(remark: CheckInItem) -> dict[str, Any]:
    """What the partial shows: the files (prefetch `attachments` on a list) and the limits."""
    items = list(remark.attachments.all())
    return {
        "items": items,
        "kept": sum(item.state != Attachment.State.REJECTED for item in items),
        "checking": any(item.state == Attachment.State.CHECKING for item in items),
        "max_files": settings.CHECKIN_MAX_FILES_PER_REMARK,
        "max_photo_bytes": settings.CHECKIN_MAX_PHOTO_BYTES,
        "max_video_bytes": settings.CHECKIN_MAX_VIDEO_BYTES,
        "s3": settings.USE_S3,
    }


@register.simple_tag(takes_context=True)
def upload_errors(context: template.Context, remark: CheckInItem) -> list[str]:
    """Errors of the last plain form post for this remark, shown once."""
    request = context.get("request")
    return pop_flashed_errors(request, remark) if request is not None else []
