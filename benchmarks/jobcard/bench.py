"""How long the job card PDF takes for a typical appointment (target: under 0.3 s warm).

    uv run python benchmarks/jobcard/bench.py [--runs 10]

Builds a throwaway SQLite database and media folder, books a typical appointment
(three work items, two remarks shared with the mechanics, two photos each, as the
demo seeder makes them) and renders its job card as the job-card view does:
loading the appointment, then WeasyPrint. Prints the first (cold) render and the
median and worst of the following ones.
"""

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    var = tempfile.mkdtemp(prefix="pitlane-bench-")
    os.environ.update(
        {
            "PITLANE_VAR_DIR": var,
            "DEBUG": "true",
            "DATABASE_URL": f"sqlite:///{var}/bench.sqlite3",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
    )
    import django

    django.setup()
    from datetime import datetime, timedelta
    from datetime import time as clock
    from decimal import Decimal

    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)

    from pypdf import PdfReader

    from workshop import checkin as flow
    from workshop.booking import PlannedWork, book_appointment
    from workshop.demo import Seeder
    from workshop.models import CheckInItem, Customer, Dealership, Vehicle

    Seeder().run()
    gent = Dealership.objects.get(slug="leiestreek-gent")
    from django.contrib.auth import get_user_model

    rita = get_user_model().objects.get(username="reception")
    start = datetime.combine(timezone.localdate(timezone=gent.tz), clock(10), tzinfo=gent.tz)
    appointment = book_appointment(
        dealership=gent,
        customer=Customer.objects.create(
            dealership=gent, first_name="Sofie", last_name="Claes", language="nl"
        ),
        vehicle=Vehicle.objects.create(
            dealership=gent,
            plate="1-BEN-001",
            vin="WVWZZZ1KZ8W123456",
            make="Volkswagen",
            model="Golf 8 1.5 eTSI",
            year=2021,
            mileage_km=64000,
        ),
        starts_at=start,
        ends_at=start + timedelta(hours=3),
        external_ref="DMS-BENCH-1",
        planned_work=[
            PlannedWork("Grote onderhoudsbeurt", Decimal("389.00"), "Volgens fabrieksvoorschrift"),
            PlannedWork(
                "Remblokken voor vervangen", Decimal("245.50"), "Incl. controle remschijven"
            ),
            PlannedWork("Bandenwissel", Decimal("45.00")),
        ],
    )
    seeder = Seeder()
    for n, (subject, text) in enumerate(
        [
            ("Piepende remmen", "Bij het afremmen hoor ik een hoge pieptoon, vooral 's ochtends."),
            ("Lampje motorstoring", "Sinds vorige week brandt het oranje motorlampje."),
        ]
    ):
        remark = CheckInItem.objects.create(
            checkin=appointment.checkin,
            kind=CheckInItem.Kind.REMARK,
            subject=subject,
            description=text,
        )
        seeder.photo(remark, f"1-BEN-001 {subject} 1", n * 10)
        seeder.photo(remark, f"1-BEN-001 {subject} 2", n * 10 + 1)
    flow.submit_checkin(appointment.checkin)
    for remark in appointment.checkin.items.filter(kind=CheckInItem.Kind.REMARK):
        flow.share_item(remark, rita, visible=True)

    from workshop.access import StaffAccess
    from workshop.models import Membership
    from workshop.views import mechanic_appointments

    access = StaffAccess(
        membership=Membership.objects.get(user=rita, dealership=gent),
        memberships=list(Membership.objects.filter(user=rita)),
    )

    def render() -> tuple[float, float, int, int]:
        began, cpu = time.perf_counter(), time.process_time()
        from workshop.pdf import render_job_card

        card = mechanic_appointments(access, start.date()).get(pk=appointment.pk)
        pdf = render_job_card(card)
        pages = len(PdfReader(io.BytesIO(pdf)).pages)
        return time.perf_counter() - began, time.process_time() - cpu, len(pdf), pages

    cold, _cpu, size, pages = render()
    warm = [render() for _ in range(args.runs)]
    wall = [run[0] for run in warm]
    cpu = [run[1] for run in warm]
    print("Job card PDF, typical appointment: 3 work items, 2 shared remarks, 4 photos")
    print(f"  first render (imports WeasyPrint, loads fonts): {cold * 1000:7.0f} ms")
    print(
        f"  median of {args.runs} renders:                    {statistics.median(wall) * 1000:7.0f} ms"
        f" ({statistics.median(cpu) * 1000:.0f} ms of CPU)"
    )
    print(f"  slowest of {args.runs}:                           {max(wall) * 1000:7.0f} ms")
    print(f"  PDF: {size / 1024:.0f} KB, {pages} page(s); target: under 300 ms")
    print(f"  load average (1 min): {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
