"""The JSON API under /api/v1/ (django-ninja; the OpenAPI schema is /api/v1/openapi.json).

Every call carries a dealership's API key (`Authorization: Bearer pl_…`): it sees and
changes that dealership's appointments only, and anything else answers 404. Each key
may make API_RATE_PER_MINUTE calls a minute; `integrations.middleware` logs each call.
Appointments go in through `integrations.imports.import_appointments`, the same upsert
and the same rules as the CSV file: a batch is all or nothing, and sending it again
(a retry after a timeout) changes nothing.
"""

from decimal import Decimal
from typing import Annotated, Any

from django.conf import settings
from django.http import Http404, HttpRequest
from django.utils import timezone
from django_ratelimit.core import is_ratelimited
from ninja import Field, NinjaAPI, Query, Schema, Status
from ninja.security import HttpBearer
from pydantic import BeforeValidator

from integrations.documents import appointment_document, with_document_data
from integrations.imports import Outcome, import_appointments, records_from_dicts
from integrations.models import ApiKey, WebhookEvent


class RateLimited(Exception):
    pass


class ApiKeyAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        key = ApiKey.objects.find(token)
        if key is None:
            return None
        request.api_key = key  # type: ignore[attr-defined]  # for the call log
        if is_ratelimited(
            request,
            group="api",
            key=lambda group, request: f"key-{key.pk}",
            rate=f"{settings.API_RATE_PER_MINUTE}/m",
            increment=True,
        ):
            raise RateLimited
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
        return key


api = NinjaAPI(
    title="Pitlane API",
    version="1",
    description=__doc__,
    urls_namespace="api-v1",
    auth=ApiKeyAuth(),
)


@api.exception_handler(RateLimited)
def rate_limited(request: HttpRequest, exc: RateLimited):
    return api.create_response(
        request, {"detail": "Too many calls; try again in a minute."}, status=429
    )


def _as_text(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    return value


Text = Annotated[str, BeforeValidator(_as_text)]


class WorkLineIn(Schema):
    description: Text = ""
    notes: Text = ""
    price: Text = Field("", description="Incl. VAT, in the dealership's currency: 19.95")


class AppointmentIn(Schema):
    """The CSV file's columns; every field is checked by the import with the UI's rules."""

    reference: Text = ""
    starts_at: Text = Field("", description="ISO 8601; without an offset, local time")
    ends_at: Text = ""
    status: Text = Field("", description="scheduled (default) or cancelled")
    customer_number: Text = ""
    customer_name: Text = ""
    phone: Text = ""
    email: Text = ""
    language: Text = ""
    preferred_channel: Text = Field("", description="sms or email")
    plate: Text = ""
    vin: Text = ""
    make: Text = ""
    model: Text = ""
    year: Text = ""
    mileage: Text = ""
    advisor: Text = Field("", description="A staff member's user name or e-mail address")
    work: list[WorkLineIn] = Field(default_factory=list, description="Planned work lines")


class BatchIn(Schema):
    appointments: list[AppointmentIn] = Field(..., min_length=1)


class ImportOut(Schema):
    new: int
    changed: int
    cancelled: int
    unchanged: int


class ProblemOut(Schema):
    item: int = Field(..., description="The appointment's place in the batch, from 1")
    field: str
    message: str


class ProblemsOut(Schema):
    detail: str
    errors: list[ProblemOut]


class Change(Schema):
    cursor: int
    event: str
    event_id: str
    at: str
    reference: str | None
    data: dict[str, Any]


class ChangesOut(Schema):
    changes: list[Change]
    next_cursor: int


def _upsert(request: HttpRequest, items: list[dict[str, Any]]):
    key: ApiKey = request.auth  # type: ignore[attr-defined]
    if len(items) > settings.API_MAX_BATCH:
        return Status(
            422,
            {
                "detail": f"At most {settings.API_MAX_BATCH} appointments per batch.",
                "errors": [],
            },
        )
    outcome: Outcome = import_appointments(key.dealership, records_from_dicts(items))
    if outcome.problems:
        return Status(
            422,
            {
                "detail": "Nothing was imported.",
                "errors": [
                    {"item": p.line, "field": p.column, "message": str(p.message)}
                    for p in outcome.problems
                ],
            },
        )
    return Status(200, outcome.counts)


@api.post(
    "/appointments/batch",
    response={200: ImportOut, 422: ProblemsOut},
    summary="Create, update or cancel a batch of appointments, all or nothing",
)
def upsert_batch(request: HttpRequest, batch: BatchIn):
    return _upsert(request, [item.model_dump() for item in batch.appointments])


@api.put(
    "/appointments/{reference}",
    response={200: ImportOut, 422: ProblemsOut},
    summary="Create, update or cancel one appointment",
)
def upsert_one(request: HttpRequest, reference: str, appointment: AppointmentIn):
    return _upsert(request, [{**appointment.model_dump(), "reference": reference}])


@api.get(
    "/appointments/{reference}",
    response=dict[str, Any],
    summary="An appointment with its work items and the customer's check-in answers",
)
def read_appointment(request: HttpRequest, reference: str):
    key: ApiKey = request.auth  # type: ignore[attr-defined]
    found = (
        with_document_data().filter(dealership_id=key.dealership_id, external_ref=reference).first()
    )
    if found is None:
        raise Http404("No such appointment")
    return appointment_document(found)


@api.get(
    "/changes",
    response=ChangesOut,
    summary="What changed after a cursor: check-ins sent, items converted, moves, cancellations",
)
def changes(
    request: HttpRequest,
    cursor: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
):
    key: ApiKey = request.auth  # type: ignore[attr-defined]
    events = list(
        WebhookEvent.objects.filter(dealership_id=key.dealership_id, pk__gt=cursor)
        .order_by("pk")
        .select_related("appointment")[:limit]
    )
    return {
        "changes": [
            {
                "cursor": event.pk,
                "event": event.name,
                "event_id": event.event_id,
                "at": event.at.isoformat(),
                "reference": event.appointment.external_ref if event.appointment else None,
                "data": event.payload.get("data", {}),
            }
            for event in events
        ],
        "next_cursor": events[-1].pk if events else cursor,
    }
