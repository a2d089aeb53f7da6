"""Customer links: /c/<selector><verifier>.

The selector (8 characters) finds the row; the verifier (18 characters, 104 bits) is
the secret, compared in constant time. A malformed, unknown or wrong token all come
back as None, taking the same path, so a caller cannot tell them apart.
"""

import hmac
import re

from django.db.models.expressions import RawSQL

from workshop.models import OnlineCheckIn

SELECTOR_LENGTH = 8
TOKEN_LENGTH = 26
_TOKEN = re.compile(rf"[A-Za-z0-9_-]{{{TOKEN_LENGTH}}}")
_DUMMY_VERIFIER = "x" * (TOKEN_LENGTH - SELECTOR_LENGTH)


def is_well_formed(token: str) -> bool:
    return bool(_TOKEN.fullmatch(token or ""))


# The PostgreSQL row versions (`xmin`) of the five rows `find_checkin` reads, named by
# their tables (the aliases of its joins): `portal.kept_pages` keeps pages by them.
ROW_VERSIONS = (
    "concat_ws('.', workshop_onlinecheckin.xmin, workshop_appointment.xmin,"
    " workshop_dealership.xmin, workshop_customer.xmin, workshop_vehicle.xmin)"
)


def find_checkin(
    token: str, *, with_unsent: bool = False, with_versions: bool = False
) -> OnlineCheckIn | None:
    """The check-in with its appointment, dealership, customer and vehicle, in one query;
    `with_unsent` adds whether there are answers not sent yet (`has_unsent`), for a
    request that changes none (a POST may, after the check-in was read);
    `with_versions` (PostgreSQL) adds the rows' versions (`row_versions`)."""
    if not is_well_formed(token):
        token = "!" * TOKEN_LENGTH  # looked up like any other, matches nothing
    selector, verifier = token[:SELECTOR_LENGTH], token[SELECTOR_LENGTH:]
    found = OnlineCheckIn.objects.select_related(
        "appointment__dealership", "appointment__customer", "appointment__vehicle"
    )
    if with_unsent:
        found = found.with_unsent()
    if with_versions:
        found = found.annotate(row_versions=RawSQL(ROW_VERSIONS, ()))  # noqa: S611 - constant
    checkin = found.filter(link_selector=selector).first()
    expected = checkin.link_verifier if checkin else _DUMMY_VERIFIER
    if hmac.compare_digest(expected.encode(), verifier.encode()) and checkin is not None:
        return checkin
    return None
