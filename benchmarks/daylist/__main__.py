"""Day list benchmark: the receptionist's list, its search and its poll, with years of history.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pitlane_bench_daylist \\
    uv run python -m benchmarks.daylist [--rounds 5] [--reuse]

PostgreSQL only. The database named is dropped and created afresh (unless --reuse finds
it seeded: then pending migrations are applied to the data already there). It holds three
datasets, one PostgreSQL schema each, that differ only in their history:

- `d10k`: one dealership, 10,000 appointments;
- `d1m`: one dealership, 1,000,000 appointments (the worst case);
- `dgroup`: 10 dealerships, 100,000 appointments each.

In each, the dealership shown has the same day: 200 appointments (3 of them pinned), 9
pinned appointments on other days, and one customer with six visits to search for. The
history spreads over five years back and two months ahead; about 30% of past check-ins
were answered, each with a handled remark.

Every figure is the server time of one request through Django's test client in this
process (the whole middleware stack, the view, the template; no HTTP server), as the
median of the requests of a round, then the median of the rounds. Requests take turns one
by one between the three datasets (or between the baselines: a bare view, a signed-in
bare view, the check-in page and the list), so a busy moment on the machine touches all
of them alike. See README.md for the figures.
"""

import argparse
import gzip
import os
import re
import statistics
import time
import warnings
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = ROOT / "var" / "bench"
TZ = ZoneInfo("Europe/Brussels")
VERIFIER = "benchverifier01234"  # 18 characters, as a real link's verifier
DAY_ROWS = 200
DATASETS = {
    # schema: (label, dealerships, appointments in all)
    "d10k": ("10k", 1, 10_000),
    "d1m": ("1M, one dealership", 1, 1_000_000),
    "dgroup": ("1M, 10 dealerships", 10, 1_000_000),
}
SEARCHES = {"plate": "1svb042", "name": "van den berg", "reference": "DMS-77003"}

FIRST_NAMES = [
    "Jan",
    "Piet",
    "Sofie",
    "Lotte",
    "Emma",
    "Lucas",
    "Noah",
    "Louis",
    "Olivia",
    "Mila",
    "Arthur",
    "Jules",
    "Louise",
    "Elena",
    "Lina",
    "Adam",
    "Liam",
    "Victor",
    "Marie",
    "Anna",
    "Nina",
    "Finn",
    "Mats",
    "Lars",
    "Eva",
    "Julie",
    "Sarah",
    "Tom",
    "Bart",
    "Koen",
    "Wim",
    "Els",
    "An",
    "Ine",
    "Hanne",
    "Jonas",
    "Robbe",
    "Seppe",
    "Lore",
    "Fien",
]
LAST_NAMES = [
    "Peeters",
    "Janssens",
    "Maes",
    "Jacobs",
    "Mertens",
    "Willems",
    "Claes",
    "Goossens",
    "Wouters",
    "Smet",
    "Dubois",
    "Lambert",
    "Dupont",
    "Martin",
    "Simon",
    "Hermans",
    "Aerts",
    "Michiels",
    "Verstraete",
    "Desmet",
    "Vermeulen",
    "Pauwels",
    "Cools",
    "Stevens",
    "Lemmens",
    "Hendrickx",
    "Baert",
    "Leroy",
    "Segers",
    "Coppens",
    "Claeys",
    "Declercq",
    "Vandamme",
    "Verhoeven",
    "Geerts",
    "Thys",
    "Willaert",
    "Smets",
    "Bogaert",
    "Denis",
    "Laurent",
    "Renard",
    "Mathieu",
    "Francois",
    "Dumont",
    "Leclercq",
    "Lemaire",
    "Gilson",
    "Lejeune",
    "Wauters",
    "Martens",
    "Bosmans",
    "Mees",
    "Vos",
    "Jansen",
    "Visser",
    "Bakker",
    "Mulder",
    "Dekker",
    "Bos",
    "Meijer",
    "Hoekstra",
    "Smit",
    "Kok",
    "Brouwer",
    "Prins",
    "Huisman",
    "Kuipers",
    "Veenstra",
    "Kramer",
    "Postma",
    "Schouten",
    "Koster",
    "Wijns",
    "Vink",
    "Verbruggen",
    "Moens",
    "Vanhove",
    "Deprez",
    "Dewulf",
    "Maertens",
    "Vermeersch",
    "Lauwers",
    "Van-Acker",
    "Vandewalle",
    "Deckers",
    "Roels",
    "Bauwens",
    "Dierickx",
    "Hoste",
    "Lievens",
    "Mortier",
    "Nys",
    "Pieters",
    "Raes",
    "Rombaut",
    "Sels",
    "Tack",
    "Wuyts",
    "Yilmaz",
    "Zegers",
]
MAKES = ["Volkswagen", "Toyota", "Renault", "Peugeot", "BMW", "Audi", "Skoda", "Kia"]
MODELS = ["Golf", "Yaris", "Clio", "208", "320d", "A4", "Octavia", "Ceed"]
# Pinned appointments on other days than the one shown: offsets (in days) from it.
PINNED_ELSEWHERE = [-1820, -925, -25, -5, -1, 2, 6, 26, 56]
PINNED_TODAY = [3, 9, 15]  # of the day's 200


def configure_environment() -> None:
    os.environ.setdefault("PITLANE_VAR_DIR", str(BENCH_DIR))
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-" + "x" * 40)
    os.environ.setdefault(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pitlane_bench_daylist"
    )
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ["HTTPS"] = "false"
    os.environ["DEBUG"] = "false"
    os.environ["STATIC_MANIFEST"] = "false"  # no collectstatic needed
    # The portal's rate limit still runs (its round trip is part of the page), never refuses.
    os.environ["PORTAL_REQUESTS_PER_MINUTE"] = "100000000"
    # The check-in page is the baseline of a page's rendering: not the copy of it that
    # `portal.kept_pages` serves to a repeat view (see benchmarks/portal).
    os.environ["PORTAL_KEPT_PAGES"] = "0"
    BENCH_DIR.mkdir(parents=True, exist_ok=True)


def admin_connection():
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(os.environ["DATABASE_URL"])
    if not config["ENGINE"].endswith("postgresql"):
        raise SystemExit("This benchmark runs on PostgreSQL: set DATABASE_URL.")
    return config, lambda dbname: psycopg.connect(
        host=config["HOST"] or "127.0.0.1",
        port=config["PORT"] or 5432,
        user=config["USER"],
        password=config["PASSWORD"] or None,
        dbname=dbname,
        autocommit=True,
    )


def prepare_database(reuse: bool) -> bool:
    """Drops and creates the database unless `reuse` finds it seeded; True if seeded."""
    config, connect = admin_connection()
    name = config["NAME"]
    if reuse:
        with connect("postgres") as admin:
            exists = admin.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [name]
            ).fetchone()
        if exists:
            with connect(name) as db:
                seeded = db.execute(
                    "SELECT count(*) FROM information_schema.tables WHERE table_name = 'bench_info'"
                ).fetchone()
            if seeded and seeded[0] == len(DATASETS):
                return True
    with connect("postgres") as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    with connect(name) as db:
        # In `public`, which every dataset's search path ends with.
        db.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
        for schema in DATASETS:
            db.execute(f"CREATE SCHEMA {schema}")
    return False


def use(schema: str) -> None:
    """Points Django's connection at one dataset (on the open connection: no reconnect,
    so requests to the three datasets can alternate one by one)."""
    from django.contrib.contenttypes.models import ContentType
    from django.core.cache import caches
    from django.db import connection

    # The datasets' ids overlap (each has dealership 1, user 1): the cache keys of one
    # dataset (the poll's, `workshop.daylist.Poll`) must not answer for another's.
    caches["default"].key_prefix = schema
    path = f"{schema},public"
    connection.settings_dict.setdefault("OPTIONS", {})
    connection.settings_dict["OPTIONS"]["options"] = f"-c search_path={path}"
    if connection.connection is not None:
        with connection.cursor() as cursor:
            cursor.execute(f"SET search_path TO {path}")
    ContentType.objects.clear_cache()


def seed(schema: str, day: date) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from workshop.models import Dealership, Membership, Role

    _label, dealerships, total = DATASETS[schema]
    day0 = datetime.combine(day, datetime.min.time(), tzinfo=TZ)
    user = get_user_model().objects.create_user(
        "bench", password="bench-password-1", first_name="Rita", last_name="Receptie"
    )
    per_dealership = total // dealerships
    with transaction.atomic(), connection.cursor() as cursor:
        for number in range(dealerships):
            dealership = Dealership.objects.create(
                name=f"Bench Motors {number:02d}",
                slug=f"bench-{number:02d}",
                street="Kortrijksesteenweg 1",
                postal_code="9000",
                city="Gent",
                country="BE",
                phone="+3292101010",
                email="service@bench.example",
                time_zone=str(TZ),
                language="nl",
            )
            if number == 0:
                Membership.objects.create(user=user, dealership=dealership, role=Role.RECEPTIONIST)
            seed_dealership(cursor, dealership.pk, per_dealership, day0, user.pk)
        cursor.execute("CREATE TABLE bench_info (day date)")
        cursor.execute("INSERT INTO bench_info VALUES (%s)", [day])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def seed_dealership(cursor, dealership: int, total: int, day0: datetime, user: int) -> None:
    people = max(total // 5, 1000)
    rest = total - DAY_ROWS - 6
    cursor.execute(
        "INSERT INTO workshop_customer (dealership_id, first_name, last_name, email, phone, "
        "preferred_channel, language, external_ref) "
        "SELECT %(d)s, (%(first)s::text[])[1 + n %% 40], (%(last)s::text[])[1 + (n / 40) %% 100], "
        "'c' || n || '@example.com', '+3247' || lpad(n::text, 7, '0'), "
        "CASE WHEN n %% 3 = 0 THEN 'email' ELSE 'sms' END, "
        "(ARRAY['nl', 'fr', 'en', 'de'])[1 + n %% 4], '' FROM generate_series(0, %(people)s - 1) n",
        {"d": dealership, "first": FIRST_NAMES, "last": LAST_NAMES, "people": people},
    )
    cursor.execute(
        "INSERT INTO workshop_vehicle (dealership_id, plate, vin, make, model, year) "
        "SELECT %(d)s, '1-' || chr(65 + n %% 26) || chr(65 + (n / 26) %% 26) "
        "|| chr(65 + (n / 676) %% 26) || '-' || lpad((n %% 1000)::text, 3, '0'), '', "
        "(%(makes)s::text[])[1 + n %% 8], (%(models)s::text[])[1 + n %% 8], 2010 + n %% 15 "
        "FROM generate_series(0, %(people)s - 1) n",
        {"d": dealership, "makes": MAKES, "models": MODELS, "people": people},
    )
    cursor.execute("SELECT min(id) FROM workshop_customer WHERE dealership_id = %s", [dealership])
    first_customer = cursor.fetchone()[0]
    cursor.execute("SELECT min(id) FROM workshop_vehicle WHERE dealership_id = %s", [dealership])
    first_vehicle = cursor.fetchone()[0]
    # The one customer every dataset has, with six visits over two years.
    cursor.execute(
        "INSERT INTO workshop_customer (dealership_id, first_name, last_name, email, phone, "
        "preferred_channel, language, external_ref) VALUES (%s, 'Sofie', 'Van den Berg', "
        "'sofie@example.com', '+32470999999', 'sms', 'nl', '') RETURNING id",
        [dealership],
    )
    sofie = cursor.fetchone()[0]
    cursor.execute(
        "INSERT INTO workshop_vehicle (dealership_id, plate, vin, make, model) "
        "VALUES (%s, '1-SVB-042', '', 'Volvo', 'V60') RETURNING id",
        [dealership],
    )
    her_car = cursor.fetchone()[0]
    columns = (
        "INSERT INTO workshop_appointment (dealership_id, customer_id, vehicle_id, starts_at, "
        "ends_at, status, external_ref, created_at, updated_at, confirmation, "
        "cancelled_by, cancel_reason, moves) "
    )
    cursor.execute(
        columns + "SELECT %(d)s, %(sofie)s, %(car)s, s, s + interval '1 hour', "
        "CASE WHEN s < %(day0)s THEN 'done' ELSE 'scheduled' END, 'DMS-7700' || k, now(), now(), '', '', '', 0 "
        "FROM (SELECT k, %(day0)s + o * interval '1 day' + interval '8 hours' AS s "
        "FROM unnest(ARRAY[-700, -400, -200, -30, 3, 20]) WITH ORDINALITY AS t(o, k)) x",
        {"d": dealership, "sofie": sofie, "car": her_car, "day0": day0},
    )
    # The day shown: 200 appointments from 07:00 to 16:45.
    cursor.execute(
        columns + "SELECT %(d)s, %(c0)s + (m * 37 %% %(people)s), %(v0)s + (m * 37 %% %(people)s), "
        "s, s + interval '1 hour', 'scheduled', 'DAY-' || m, now(), now(), '', '', '', 0 "
        "FROM (SELECT m, %(day0)s + interval '7 hours' + (m %% 40) * interval '15 minutes' AS s "
        "FROM generate_series(1, %(rows)s) m) x",
        {
            "d": dealership,
            "c0": first_customer,
            "v0": first_vehicle,
            "people": people,
            "day0": day0,
            "rows": DAY_ROWS,
        },
    )
    # The history: five years back, two months ahead, never on the day shown.
    cursor.execute(
        columns + "SELECT %(d)s, %(c0)s + (n %% %(people)s), %(v0)s + (n %% %(people)s), s, "
        "s + interval '1 hour', CASE WHEN o > 0 THEN 'scheduled' WHEN n %% 20 = 0 THEN "
        "'cancelled' WHEN n %% 20 = 1 THEN 'no_show' ELSE 'done' END, 'R' || n, now(), now(), '', '', '', 0 "
        "FROM (SELECT n, o, %(day0)s + o * interval '1 day' + interval '7 hours' "
        "+ ((n / 1885) %% 40) * interval '15 minutes' AS s FROM (SELECT n, CASE WHEN "
        "n %% 1885 >= 1825 THEN n %% 1885 - 1824 ELSE n %% 1885 - 1825 END AS o "
        "FROM generate_series(1, %(rest)s) n) y) x",
        {
            "d": dealership,
            "c0": first_customer,
            "v0": first_vehicle,
            "people": people,
            "day0": day0,
            "rest": rest,
        },
    )
    cursor.execute(
        "INSERT INTO workshop_onlinecheckin (appointment_id, link_selector, link_verifier, "
        "invitation_status, invited_at, opened_at, answered_at, last_answered_at, handled_at) "
        "SELECT id, lpad(id::text, 8, '0'), %(verifier)s, inv, "
        "CASE WHEN inv NOT IN ('not_due', 'queued') THEN starts_at - interval '3 days' END, "
        "CASE WHEN inv IN ('sent', 'delivered') AND k < 6 THEN starts_at - interval '2 days' END, "
        "CASE WHEN inv IN ('sent', 'delivered') AND k < 3 THEN starts_at - interval '2 days' END, "
        "CASE WHEN inv IN ('sent', 'delivered') AND k < 3 THEN starts_at - interval '2 days' END, "
        "CASE WHEN inv IN ('sent', 'delivered') AND k < 3 THEN starts_at - interval '1 day' END "
        "FROM (SELECT id, starts_at, id %% 10 AS k, CASE "
        "WHEN starts_at < %(day0)s THEN (CASE WHEN id %% 50 = 0 THEN 'failed' "
        "WHEN id %% 97 = 0 THEN 'unreachable' ELSE 'delivered' END) "
        "WHEN starts_at >= %(day0)s + interval '4 days' THEN 'not_due' "
        "ELSE (ARRAY['not_due', 'queued', 'sent', 'delivered', 'failed', 'unreachable'])"
        "[1 + id %% 6] END AS inv FROM workshop_appointment WHERE dealership_id = %(d)s) a",
        {"verifier": VERIFIER, "day0": day0, "d": dealership},
    )
    # Every answered check-in of the past had a remark, handled long ago.
    cursor.execute(
        "INSERT INTO workshop_checkinitem (checkin_id, kind, state, offer_name, subject, "
        "description, visible_to_mechanics, created_at, submitted_at, handled_at, "
        "handled_by_id, handling_note, preferred_days) "
        "SELECT c.id, 'remark', 'handled', '', 'Squeaky brakes', 'A squeak when braking.', "
        "false, c.answered_at, c.answered_at, c.handled_at, %s, '', '[]' "
        "FROM workshop_onlinecheckin c JOIN workshop_appointment a ON a.id = c.appointment_id "
        "WHERE a.dealership_id = %s AND c.handled_at IS NOT NULL",
        [user, dealership],
    )
    # Pinned: three of the day's appointments and nine on other days, one or two open items.
    refs = [f"DAY-{m}" for m in PINNED_TODAY]
    for offset in PINNED_ELSEWHERE:
        index = offset + 1825 if offset < 0 else offset + 1824
        refs.append(f"R{index}")
    cursor.execute(
        "UPDATE workshop_onlinecheckin c SET answered_at = now(), last_answered_at = now(), "
        "opened_at = now(), handled_at = NULL, invitation_status = 'delivered', "
        "invited_at = now() FROM workshop_appointment a "
        "WHERE a.id = c.appointment_id AND a.dealership_id = %s AND a.external_ref = ANY(%s)",
        [dealership, refs],
    )
    cursor.execute(
        "INSERT INTO workshop_checkinitem (checkin_id, kind, state, offer_name, subject, "
        "description, visible_to_mechanics, created_at, submitted_at, handling_note, "
        "preferred_days) "
        "SELECT c.id, 'remark', 'open', '', 'Warning light ' || i, 'The orange light is on.', "
        "false, now(), now(), '', '[]' FROM workshop_onlinecheckin c "
        "JOIN workshop_appointment a ON a.id = c.appointment_id "
        "CROSS JOIN generate_series(1, 2) i "
        "WHERE a.dealership_id = %s AND a.external_ref = ANY(%s) AND (i = 1 OR c.id %% 2 = 0)",
        [dealership, refs],
    )


class Dataset:
    def __init__(self, schema: str, client, day: date) -> None:
        self.schema = schema
        self.label = DATASETS[schema][0]
        self.client = client
        self.day = day
        self.poll_url = ""
        self.rows = 0
        self.html_bytes = 0
        self.html_gzip = 0
        self.checkin_url = ""


def list_page(dataset: Dataset):
    return dataset.client.get("/staff/", {"day": dataset.day.isoformat()})


def search(query: str) -> Callable[[Dataset], object]:
    def run(dataset: Dataset):
        return dataset.client.get("/staff/", {"day": dataset.day.isoformat(), "q": query})

    return run


def poll(dataset: Dataset):
    response = dataset.client.get(dataset.poll_url, headers={"HX-Request": "true"})
    assert response.status_code == 204, response.status_code
    return response


def bare(dataset: Dataset):
    return dataset.client.get("/bench/bare/")


def signed_in(dataset: Dataset):
    return dataset.client.get("/bench/signed-in/")


def checkin_page(dataset: Dataset):
    response = dataset.client.get(dataset.checkin_url)
    assert response.status_code == 200, response.status_code
    return response


def alternated(
    requests: list[tuple[Callable[[Dataset], object], Dataset]], budget: float
) -> list[float]:
    """The median server time of each (action, dataset), the requests taking turns one
    by one, so that a busy moment on the machine touches them alike: at least 3 each,
    then until `budget` seconds are spent (at most 3x that) or 30 each."""
    for action, dataset in requests:
        use(dataset.schema)
        action(dataset)  # warm
    times: list[list[float]] = [[] for _ in requests]
    spent = 0.0
    while True:
        for index, (action, dataset) in enumerate(requests):
            use(dataset.schema)
            began = time.perf_counter()
            action(dataset)
            took = time.perf_counter() - began
            times[index].append(took)
            spent += took
        done = len(times[0])
        if done >= 30 or spent >= 3 * budget or (spent >= budget and done >= 3):
            return [statistics.median(each) for each in times]


def open_dataset(schema: str) -> Dataset:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from workshop.models import Appointment

    use(schema)
    with connection.cursor() as cursor:
        cursor.execute("SELECT day FROM bench_info")
        day = cursor.fetchone()[0]
    client = Client()
    client.force_login(get_user_model().objects.get(username="bench"))
    dataset = Dataset(schema, client, day)
    body = list_page(dataset).content
    match = re.search(rb'id="results"[^>]*hx-get="([^"]+)"', body)
    assert match, "the list polls for changes"
    dataset.poll_url = match.group(1).decode().replace("&amp;", "&")
    # A row of the list (any version of it): a <tr> that opens with a cell.
    dataset.rows = len(re.findall(rb"<tr[^>]*>\s*<td", body))
    dataset.html_bytes = len(body)
    dataset.html_gzip = len(gzip.compress(body))
    future = (
        Appointment.objects.filter(
            starts_at__gte=datetime.combine(day + timedelta(days=1), datetime.min.time(), TZ),
            status="scheduled",
        )
        .order_by("starts_at")
        .values_list("checkin__link_selector", flat=True)
        .first()
    )
    dataset.checkin_url = f"/c/{future}{VERIFIER}/"
    return dataset


def query_counts(dataset: Dataset) -> dict[str, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    use(dataset.schema)
    counts = {}
    for name, action in (("list", list_page), ("poll", poll)):
        with CaptureQueriesContext(connection) as queries:
            action(dataset)
        counts[name] = len(queries.captured_queries)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per figure and round")
    parser.add_argument(
        "--reuse", action="store_true", help="keep a seeded database, only migrate it"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="history x this, for a quick try")
    args = parser.parse_args()
    for schema, (label, dealerships, total) in DATASETS.items():
        DATASETS[schema] = (label, dealerships, int(total * args.scale))

    configure_environment()
    seeded = prepare_database(args.reuse)
    import django

    # WhiteNoise looks for collected static files, which the benchmark does not collect.
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ROOT_URLCONF = "benchmarks.daylist.urls"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]

    day = datetime.now(TZ).date()
    for schema in DATASETS:
        use(schema)
        began = time.perf_counter()
        call_command("migrate", verbosity=0)
        if not seeded:
            seed(schema, day)
        print(
            f"{DATASETS[schema][0]}: {'seeded and ' if not seeded else ''}migrated "
            f"in {time.perf_counter() - began:.1f} s"
        )

    datasets = [open_dataset(schema) for schema in DATASETS]
    small = datasets[0]
    load_before = os.getloadavg()
    figures: dict[tuple[str, str], list[float]] = {}
    actions = [
        ("day list", list_page),
        *[(f"search by {kind}", search(query)) for kind, query in SEARCHES.items()],
        ("poll (204)", poll),
    ]
    baselines = [
        ("bare view", bare),
        ("signed-in bare view", signed_in),
        ("check-in page", checkin_page),
        ("day list, 10k", list_page),
    ]
    for round_number in range(args.rounds):
        for name, action in actions:
            medians = alternated([(action, dataset) for dataset in datasets], args.budget)
            for dataset, median in zip(datasets, medians, strict=True):
                figures.setdefault((name, dataset.schema), []).append(median)
        # The baselines and the list next to them, taking turns, on the 10k dataset.
        medians = alternated([(action, small) for _name, action in baselines], args.budget)
        for (name, _action), median in zip(baselines, medians, strict=True):
            figures.setdefault((name, ""), []).append(median)
        print(f"round {round_number + 1} of {args.rounds} done", flush=True)
    load_after = os.getloadavg()

    def ms(key: tuple[str, str]) -> float:
        return statistics.median(figures[key]) * 1000

    print()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load average "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after; "
        f"medians of {args.rounds} rounds, server time through Django's test client"
    )
    header = "| figure | " + " | ".join(d.label for d in datasets) + " | worst / 10k |"
    print(header)
    print("|" + "---|" * (len(datasets) + 2))
    for name, _action in actions:
        values = [ms((name, d.schema)) for d in datasets]
        worst = max(values[1:]) / values[0]
        cells = " | ".join(f"{v:,.1f} ms" for v in values)
        print(f"| {name} | {cells} | {worst:.2f}x (goal ≤ 1.25x) |")
    bare_ms = ms(("bare view", ""))
    poll_worst = max(ms(("poll (204)", d.schema)) for d in datasets)
    print(f"| bare view | {bare_ms:.1f} ms | | | |")
    print(
        f"| signed-in bare view (session, user, memberships) | {ms(('signed-in bare view', '')):.1f} ms | | | |"
    )
    print(f"| poll / bare view (worst dataset) | {poll_worst / bare_ms:.1f}x (goal ≤ 3x) | | | |")
    print()
    list_rps = 1000 / ms(("day list, 10k", ""))
    checkin_rps = 1000 / ms(("check-in page", ""))
    print(
        f"Day list at {small.rows} rows: {small.html_bytes / 1000:.1f} KB of HTML "
        f"({small.html_gzip / 1000:.1f} KB gzipped; goal < 60 KB)"
    )
    print(
        f"Requests per second, one after another through the test client (10k dataset): "
        f"day list {list_rps:.1f}, check-in page {checkin_rps:.1f} (rendered), bare view "
        f"{1000 / bare_ms:.0f}; list / check-in page {list_rps / checkin_rps:.2f} (goal ≥ 0.33)"
    )
    for dataset in datasets:
        counts = query_counts(dataset)
        print(
            f"Queries, {dataset.label}: list {counts['list']}, poll {counts['poll']}; "
            f"{dataset.rows} rows shown"
        )


if __name__ == "__main__":
    main()
