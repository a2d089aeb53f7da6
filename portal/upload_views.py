"""The customer's photos and videos on a draft remark: add, remove, and see them.

Thin: the rules live in `portal.uploads`. Like every page behind the link they go
through `portal_view` (token, rate limit, closed check-in, language, private headers).
A browser without JavaScript posts the plain form and is sent back to the page it came
from, where the errors show next to the file field; `static/js/upload.js` sends one
file per request (to Django, or straight to S3 with a presigned POST) and gets JSON.
"""

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRefresh
from storages.backends.s3 import S3Storage

from config.htmx import page_or_partial
from portal.decorators import PortalRequest, portal_view
from portal.uploads import media, refusals, removing, s3, storing
from workshop.models import Attachment, CheckInItem, OnlineCheckIn

# Errors of a plain form post, kept in the session until the page shows them.
FLASHED_ERRORS = "portal_upload_errors"


class Refused(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def _draft_remark(checkin: OnlineCheckIn, remark_id: int) -> CheckInItem:
    remark = CheckInItem.objects.filter(
        pk=remark_id, checkin=checkin, kind=CheckInItem.Kind.REMARK
    ).first()
    if remark is None:
        raise Refused(_("This link is not valid. Please use the latest link we sent you."), 404)
    remark.checkin = checkin
    if remark.state != CheckInItem.State.DRAFT:
        raise Refused(_("This remark has been sent, so its files can no longer change."), 403)
    return remark


def wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def _refused(request: PortalRequest, checkin: OnlineCheckIn, refused: Refused) -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"error": refused.message}, status=refused.status)
    if request.htmx:
        # Reload: the page itself then shows the closed check-in or the sent remark.
        return HttpResponseClientRefresh()
    return TemplateResponse(
        request,
        "portal/upload_refused.html",
        {"message": refused.message, "checkin": checkin},
        status=refused.status,
    )


def flash_errors(request: HttpRequest, remark: CheckInItem, errors: list[str]) -> None:
    if errors:
        flashed = request.session.get(FLASHED_ERRORS, {})
        flashed[str(remark.pk)] = errors
        request.session[FLASHED_ERRORS] = flashed


def pop_flashed_errors(request: HttpRequest, remark: CheckInItem) -> list[str]:
    session = getattr(request, "session", None)
    if session is None or FLASHED_ERRORS not in session:
        return []
    flashed = session[FLASHED_ERRORS]
    errors = flashed.pop(str(remark.pk), [])
    if errors:
        session[FLASHED_ERRORS] = flashed
    return errors


def _return_url(request: HttpRequest, checkin: OnlineCheckIn) -> str:
    """The page a plain form post goes back to: the one it came from, behind this link."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    link_root = reverse("portal:welcome", args=[checkin.token])
    if candidate.startswith(link_root) and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}
    ):
        return candidate
    return reverse("portal:remarks", args=[checkin.token])


def _describe(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.pk,
        "name": attachment.original_name,
        "size": attachment.size,
        "state": attachment.state,
    }


def _files_response(
    request: PortalRequest, checkin: OnlineCheckIn, remark: CheckInItem, part: str
) -> TemplateResponse:
    context = {
        "checkin": checkin,
        "remark": remark,
        "token": checkin.token,
        "return_url": _return_url(request, checkin),
    }
    return TemplateResponse(request, f"portal/_attachments.html{part}", context)


def _after_change(
    request: PortalRequest,
    checkin: OnlineCheckIn,
    remark: CheckInItem,
    errors: list[str],
    done: Attachment | None = None,
) -> HttpResponse:
    if wants_json(request):
        if errors:
            return JsonResponse({"error": " ".join(errors), "errors": errors}, status=422)
        return JsonResponse({"attachment": _describe(done) if done else None}, status=200)
    flash_errors(request, remark, errors)
    if request.htmx:
        return _files_response(request, checkin, remark, "")
    return redirect(f"{_return_url(request, checkin)}#attachments-{remark.pk}")


class UploadLimitHandler(FileUploadHandler):
    """Looks at each file's first chunk as it streams in, before it is written to disk.

    A file that is not a photo or video we take, or that grows past the limit for its
    kind, is skipped: the rest of it is read and dropped, not stored, and the reason
    is kept for the customer. `store_upload` checks the files that get through again.
    """

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.refused: list[str] = []
        self.limit = 0
        self.kind = ""

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        name = self.file_name or ""
        if start == 0:
            found = media.sniff(raw_data[: media.HEAD_BYTES])
            if found is None:
                self.refused.append(refusals.not_media_message(media.clean_name(name)))
                raise SkipFile
            self.kind, self.limit = found.kind, media.limit_for(found.kind)
        if start + len(raw_data) > self.limit:
            self.refused.append(refusals.too_large_message(media.clean_name(name), self.kind))
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


@portal_view
@require_POST
def upload(request: PortalRequest, checkin: OnlineCheckIn, remark_id: int) -> HttpResponse:
    """Files through Django: the plain form (any number) or upload.js (one per request)."""
    try:
        remark = _draft_remark(checkin, remark_id)
    except Refused as refused:
        return _refused(request, checkin, refused)
    # In place before anything reads the body, so it applies while the files stream in.
    limiter = UploadLimitHandler(request)
    request.upload_handlers.insert(0, limiter)
    files = request.FILES.getlist("files")
    errors = list(limiter.refused)
    if not files and not errors:
        errors.append(_("Choose a photo or video to add."))
    stored = None
    for uploaded in files:
        try:
            stored = storing.store_upload(remark, uploaded)
        except refusals.UploadRejected as rejected:
            errors.append(rejected.message)
    return _after_change(request, checkin, remark, errors, stored)


@portal_view
@require_POST
def presign(request: PortalRequest, checkin: OnlineCheckIn, remark_id: int) -> HttpResponse:
    """A presigned POST for one file, for upload.js to send straight to the bucket."""
    if not settings.USE_S3:
        raise Http404
    try:
        remark = _draft_remark(checkin, remark_id)
    except Refused as refused:
        return _refused(request, checkin, refused)
    try:
        size = int(request.POST.get("size", ""))
    except ValueError:
        return JsonResponse({"error": _("Choose a photo or video to add.")}, status=400)
    try:
        post = s3.presign_upload(
            remark, request.POST.get("name", ""), size, request.POST.get("type", "")
        )
    except refusals.UploadRejected as rejected:
        return JsonResponse({"error": rejected.message}, status=422)
    answer: dict[str, Any] = {"attachment": _describe(post.attachment)}
    if not post.already_uploaded:
        answer |= {
            "url": post.url,
            "fields": post.fields,
            "complete_url": reverse(
                "portal:upload_complete", args=[checkin.token, remark.pk, post.attachment.pk]
            ),
        }
    return JsonResponse(answer)


@portal_view
@require_POST
def complete(
    request: PortalRequest, checkin: OnlineCheckIn, remark_id: int, attachment_id: int
) -> HttpResponse:
    """upload.js says a direct upload to the bucket finished."""
    if not settings.USE_S3:
        raise Http404
    try:
        remark = _draft_remark(checkin, remark_id)
    except Refused as refused:
        return _refused(request, checkin, refused)
    attachment = remark.attachments.filter(pk=attachment_id).first()
    if attachment is None:
        return JsonResponse({"error": _("This file was removed.")}, status=404)
    attachment.item = remark
    try:
        s3.complete_upload(attachment)
    except refusals.UploadRejected as rejected:
        return JsonResponse({"error": rejected.message}, status=422)
    return JsonResponse({"attachment": _describe(attachment)})


@portal_view
@require_POST
def remove(
    request: PortalRequest, checkin: OnlineCheckIn, remark_id: int, attachment_id: int
) -> HttpResponse:
    try:
        remark = _draft_remark(checkin, remark_id)
    except Refused as refused:
        return _refused(request, checkin, refused)
    attachment = remark.attachments.filter(pk=attachment_id).first()
    errors = []
    if attachment is not None:  # already gone: a double tap
        try:
            removing.remove_attachment(attachment)
        except refusals.UploadRejected as rejected:
            errors.append(rejected.message)
    if request.htmx and not errors:
        return _files_response(request, checkin, remark, "#files")
    return _after_change(request, checkin, remark, errors)


@portal_view
@require_GET
def remark_files(request: PortalRequest, checkin: OnlineCheckIn, remark_id: int) -> HttpResponse:
    """A remark's files: the list alone for htmx and upload.js, else a page of its own."""
    try:
        remark = _draft_remark(checkin, remark_id)
    except Refused as refused:
        return _refused(request, checkin, refused)
    template = page_or_partial(
        request, "portal/remark_files.html", "portal/_attachments.html#files"
    )
    return TemplateResponse(
        request,
        template,
        {
            "checkin": checkin,
            "remark": remark,
            "token": checkin.token,
            # Where the list's plain form posts go back to: the page that polls it, or
            # this page itself.
            "return_url": _return_url(request, checkin)
            if request.htmx
            else request.get_full_path(),
            "remarks_url": reverse("portal:remarks", args=[checkin.token]),
        },
    )


@portal_view
@require_GET
def thumbnail(
    request: PortalRequest, checkin: OnlineCheckIn, attachment_id: int
) -> HttpResponseBase:
    """A checked photo's thumbnail, for the customer who sent it."""
    attachment = (
        Attachment.objects.filter(
            pk=attachment_id, item__checkin=checkin, state=Attachment.State.READY
        )
        .exclude(thumbnail="")
        .first()
    )
    if attachment is None:
        raise Http404
    if isinstance(attachment.thumbnail.storage, S3Storage):
        return redirect(attachment.thumbnail.url)  # a short-lived signed URL
    return FileResponse(attachment.thumbnail.open("rb"), content_type="image/jpeg")
