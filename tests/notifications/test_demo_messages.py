import pytest
import time_machine

from notifications.models import Message
from workshop.demo import Seeder
from workshop.models import OnlineCheckIn

pytestmark = pytest.mark.django_db


@time_machine.travel("2026-11-25 10:00 +01:00", tick=False)
def test_invited_demo_checkins_have_the_invitation_they_got():
    Seeder().run()

    invited = OnlineCheckIn.objects.filter(invited_at__isnull=False).select_related("appointment")
    assert invited.exists()
    for checkin in invited:
        # One invitation each (and, for the few customers who cancelled on the page
        # since, the acknowledgement of that).
        (message,) = Message.objects.filter(appointment=checkin.appointment).exclude(
            purpose="ack_cancelled"
        )
        assert message.purpose == "invitation"
        assert message.status == checkin.invitation_status  # sent or delivered
        assert message.sent_at == checkin.invited_at
        assert checkin.link in message.body
        assert message.language == checkin.appointment.customer.language
    assert not Message.objects.filter(appointment__checkin__invited_at__isnull=True).exists()
    assert {m.channel for m in Message.objects.all()} == {"sms", "email"}
