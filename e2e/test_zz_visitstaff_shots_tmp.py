import os
from datetime import date, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Browser

from e2e.conftest import log_in
from tests.factories import AppointmentFactory, CustomerFactory, DealershipFactory, MembershipFactory, UserFactory
from workshop import visit
from workshop.models import Appointment, Role

pytestmark = pytest.mark.django_db(transaction=True)
S = Appointment.Status


def test_shots(live_server, browser: Browser):
    d = DealershipFactory()
    u = UserFactory(username="desk"); u.set_password("pw-123456789"); u.save()
    MembershipFactory(dealership=d, user=u, role=Role.RECEPTIONIST)
    m = UserFactory(username="mech"); m.set_password("pw-123456789"); m.save()
    MembershipFactory(dealership=d, user=m, role=Role.MECHANIC)
    now = timezone.now().replace(second=0, microsecond=0)
    cust = CustomerFactory(dealership=d, first_name="Sofie", last_name="Claes", language="en")
    def a(delta_h, **kw):
        s = now + timedelta(hours=delta_h)
        return AppointmentFactory(dealership=d, starts_at=s, ends_at=s + timedelta(hours=1), **kw)
    old = now - timedelta(days=60)
    AppointmentFactory(dealership=d, customer=cust, starts_at=old, ends_at=old + timedelta(hours=1), status=S.NO_SHOW)
    AppointmentFactory(dealership=d, customer=cust, starts_at=old, ends_at=old + timedelta(hours=1), status=S.CANCELLED, cancelled_by="customer", cancelled_at=old - timedelta(hours=2))
    main = a(72, customer=cust, moves=2)
    visit.request_other_date(main, [(main.starts_at.date() + timedelta(days=2), "morning"), (main.starts_at.date() + timedelta(days=3), "afternoon")], note="Not on Friday please")
    cancelled = a(96)
    visit.cancel_by_customer(cancelled, reason="Sold the car")
    rated = a(-1, status=S.DONE)
    visit.rate(rated, stars=2, comment="Waited an hour at the desk.")
    late = a(-0.1, status=S.ARRIVED, arrived_at=now - timedelta(hours=2), promised_ready_at=now - timedelta(minutes=30))
    a(-0.05, status=S.ARRIVED, arrived_at=now)
    a(-0.04, status=S.READY)
    a(-0.6)  # waiting
    a(0.01)
    a(0.02, status=S.NO_SHOW)
    a(0.03, status=S.CANCELLED, cancelled_by="workshop", cancel_reason=visit.WORKSHOP_REASONS[0])
    for w, name in ((1280, "desktop"), (1024, "tablet")):
        ctx = browser.new_context(viewport={"width": w, "height": 900}, locale="en-GB")
        p = ctx.new_page()
        log_in(p, live_server.url, "desk", "pw-123456789")
        p.goto(f"{live_server.url}/staff/")
        p.screenshot(path=f"/tmp/vs_shots2/list-{name}.png", full_page=True)
        if w == 1280:
            for ap, n in ((main, "main"), (cancelled, "cancelled"), (rated, "rated"), (late, "late")):
                p.goto(f"{live_server.url}/staff/appointments/{ap.pk}/")
                p.screenshot(path=f"/tmp/vs_shots2/page-{n}.png", full_page=True)
            p.goto(f"{live_server.url}/staff/appointments/{main.pk}/")
            p.get_by_role("link", name="Move", exact=True).first.click()
            p.get_by_role("dialog").wait_for()
            p.screenshot(path="/tmp/vs_shots2/move-dialog.png")
            p.goto(f"{live_server.url}/staff/appointments/{main.pk}/")
            p.get_by_role("link", name="Cancel appointment").click()
            p.get_by_role("dialog").wait_for()
            p.get_by_role("button", name="Cancel the appointment").click()
            p.get_by_text("Choose a reason or write one.").wait_for()
            p.screenshot(path="/tmp/vs_shots2/cancel-dialog.png")
            p.goto(f"{live_server.url}/staff/?filter=late")
            p.screenshot(path="/tmp/vs_shots2/list-late.png", full_page=True)
        ctx.close()
    ctx = browser.new_context(viewport={"width": 1024, "height": 900}, locale="en-GB")
    p = ctx.new_page()
    log_in(p, live_server.url, "mech", "pw-123456789")
    p.goto(f"{live_server.url}/staff/workshop/")
    p.screenshot(path="/tmp/vs_shots2/mechanics.png", full_page=True)
    ctx.close()
