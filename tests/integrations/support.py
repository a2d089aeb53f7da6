"""Building DMS CSV files and API items for the integration tests."""

import io

from integrations.csvfile import CsvReader
from integrations.imports import APPOINTMENT_COLUMNS, COLUMNS, Outcome, import_appointments

HEADER = ",".join(COLUMNS)


def row(**values: str) -> dict[str, str]:
    """One CSV row: an appointment of Jan Peeters on 12 January 2027 with one work line."""
    base = {
        "reference": "WO-1",
        "starts_at": "2027-01-12T08:00",
        "ends_at": "2027-01-12T10:00",
        "status": "scheduled",
        "customer_number": "C-1",
        "customer_name": "Jan Peeters",
        "phone": "0470 12 34 56",
        "email": "jan.peeters@example.com",
        "language": "nl",
        "preferred_channel": "sms",
        "plate": "1-ABC-123",
        "vin": "WVWZZZ1KZAW000001",
        "make": "Volkswagen",
        "model": "Golf",
        "year": "2019",
        "mileage": "84500",
        "advisor": "",
        "work_description": "Onderhoudsbeurt",
        "work_notes": "",
        "work_price": "389.00",
    }
    base.update(values)
    return base


def csv_text(rows: list[dict[str, str]], separator: str = ",") -> str:
    lines = [separator.join(COLUMNS)]
    for values in rows:
        lines.append(separator.join(_quoted(values[name], separator) for name in COLUMNS))
    return "\r\n".join(lines) + "\r\n"


def _quoted(value: str, separator: str) -> str:
    if separator in value or '"' in value or "\n" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def import_csv(dealership, data: bytes | str, *, dry_run: bool = False) -> Outcome:
    if isinstance(data, str):
        data = data.encode()
    outcome = Outcome()
    return import_appointments(
        dealership, CsvReader(io.BytesIO(data), outcome), dry_run=dry_run, outcome=outcome
    )


def api_item(**values: object) -> dict[str, object]:
    """The same appointment as `row()`, as the API takes it."""
    base: dict[str, object] = {name: row()[name] for name in APPOINTMENT_COLUMNS}
    base["work"] = [{"description": "Onderhoudsbeurt", "notes": "", "price": "389.00"}]
    base.update(values)
    return base
