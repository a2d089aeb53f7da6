"""Logging attempts: each outcome's rule, the one "we tried to reach you" message, the
phone appointment, and the texts in every language."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from followups import attempts, opening
from followups.attempts import AttemptRefused, Outcome, log_attempt
from followups.models import Attempt, ClosingDay, FollowUp, FollowUpSettings, Reason
from notifications import gsm, texts
from notifications.admin import MessageTextForm
from notifications.models import Message
from tests.factories import AppointmentFactory, CustomerFactory, DealershipFactory, UserFactory
from workshop.models import AppointmentEvent

pytestmark = pytest.mark.django_db

BRUSSELS = ZoneInfo("Europe/Brussels")
LANGUAGES = ["en", "nl", "fr", "de"]


def monday(hour: int = 10) -> datetime:
    return datetime(2026, 6, 15, hour, tzinfo=BRUSSELS)


def follow_up(**appointment_fields) -> FollowUp:
    appointment = AppointmentFactory(starts_at=monday() + timedelta(days=14), **appointment_fields)
    return opening.open_follow_up(appointment, Reason.OFFER_CONTACT, now=monday(9))


def tried_messages():
    return Message.objects.filter(purpose=Message.Purpose.FOLLOWUP_TRIED)


def test_three_unanswered_calls_over_three_working_days_send_one_message_and_close():
    user = UserFactory()
    case = follow_up()
    assert case.due_at == monday(9)

    log_attempt(case, Outcome.NO_ANSWER, "rang out", user, now=monday(10))
    assert case.due_at == datetime(2026, 6, 16, 10, tzinfo=BRUSSELS)  # one working day later
    assert case.is_open
    assert case.attempt_count == 1
    [message] = tried_messages()
    assert message.channel == "sms"
    assert message.language == "nl"
    assert case.appointment.checkin.link in message.body
    assert "+32 9 210 10 10" in message.body

    log_attempt(case, Outcome.VOICEMAIL, "", user, now=datetime(2026, 6, 16, 10, tzinfo=BRUSSELS))
    assert case.due_at == datetime(2026, 6, 17, 10, tzinfo=BRUSSELS)
    log_attempt(case, Outcome.NO_ANSWER, "", user, now=datetime(2026, 6, 17, 10, tzinfo=BRUSSELS))

    case.refresh_from_db()
    assert case.status == FollowUp.Status.CLOSED
    assert case.outcome == FollowUp.Outcome.NOT_REACHABLE
    assert tried_messages().count() == 1  # once, not per call
    assert list(case.attempts.values_list("number", flat=True)) == [1, 2, 3]
    kinds = list(case.appointment.events.values_list("kind", flat=True))
    assert kinds.count(AppointmentEvent.Kind.CALL_ATTEMPT) == 3
    assert kinds[-1] == AppointmentEvent.Kind.FOLLOW_UP_CLOSED


def test_the_days_between_attempts_follow_the_dealerships_setting_and_closing_days():
    case = follow_up()
    FollowUpSettings.objects.create(dealership=case.dealership, days_between_attempts=2)
    ClosingDay.objects.create(dealership=case.dealership, date=datetime(2026, 6, 16).date())

    log_attempt(case, Outcome.NO_ANSWER, now=monday())

    assert case.due_at == datetime(2026, 6, 18, 10, tzinfo=BRUSSELS)  # Wed closed-day skipped


def test_the_message_goes_by_e_mail_to_a_customer_who_prefers_it():
    customer = CustomerFactory(preferred_channel="email", language="fr")
    case = follow_up(customer=customer, dealership=customer.dealership)
    log_attempt(case, Outcome.NO_ANSWER, now=monday())
    [message] = tried_messages()
    assert (message.channel, message.language, message.recipient) == ("email", "fr", customer.email)
    assert case.appointment.checkin.link in message.body


def test_the_dealerships_own_wording_of_we_tried_is_used_with_its_placeholders_checked():
    case = follow_up()
    dealership = case.dealership
    base = {"dealership": dealership.pk, "channel": "sms", "language": "nl", "subject": ""}
    wrong = MessageTextForm({**base, "purpose": "followup_tried", "body": "{dealer}: bel ons"})
    assert not wrong.is_valid()
    own = MessageTextForm(
        {**base, "purpose": "followup_tried", "body": "{dealership} belde u. {dealership_phone}"}
    )
    assert own.is_valid(), own.errors
    own.save()

    log_attempt(case, Outcome.NO_ANSWER, now=monday())

    [message] = tried_messages()
    assert message.body == f"{dealership.name} belde u. +32 9 210 10 10"


def test_a_call_back_is_due_at_the_agreed_time_and_a_missed_one_counts_as_an_attempt():
    case = follow_up()
    agreed = datetime(2026, 6, 16, 15, 30, tzinfo=BRUSSELS)
    log_attempt(case, Outcome.CALL_BACK, "after work", UserFactory(), agreed, now=monday())
    assert (case.due_at, case.is_call_back) == (agreed, True)
    assert not tried_messages().exists()  # they answered

    assert attempts.sweep_missed_call_backs(now=agreed + timedelta(minutes=30)) == 0
    assert attempts.sweep_missed_call_backs(now=agreed + timedelta(hours=2)) == 1
    assert attempts.sweep_missed_call_backs(now=agreed + timedelta(hours=2)) == 0  # once

    case.refresh_from_db()
    last = case.attempts.last()
    assert last is not None
    assert last.outcome == Outcome.MISSED_CALL_BACK
    assert last.by is None
    assert case.attempt_count == 2
    assert not case.is_call_back
    assert case.due_at == datetime(2026, 6, 17, 15, 30, tzinfo=BRUSSELS)
    assert tried_messages().count() == 1  # the first unanswered call


def test_a_call_back_in_the_past_or_on_a_closed_day_is_refused_and_logs_nothing():
    case = follow_up()
    with pytest.raises(AttemptRefused):
        log_attempt(case, Outcome.CALL_BACK, call_back_at=monday(8), now=monday())
    with pytest.raises(AttemptRefused):  # a Saturday
        log_attempt(
            case,
            Outcome.CALL_BACK,
            call_back_at=datetime(2026, 6, 20, 10, tzinfo=BRUSSELS),
            now=monday(),
        )
    assert not Attempt.objects.exists()


def test_an_answer_closes_as_resolved_with_the_note_on_the_timeline():
    case = follow_up()
    log_attempt(case, Outcome.AGREED, "wants the wash", UserFactory(), now=monday())
    assert (case.status, case.outcome) == ("closed", FollowUp.Outcome.RESOLVED)
    event = case.appointment.events.filter(kind=AppointmentEvent.Kind.CALL_ATTEMPT).get()
    assert "wants the wash" in event.detail
    with pytest.raises(AttemptRefused):
        log_attempt(case, Outcome.NO_ANSWER, now=monday(11))


def test_a_wrong_number_closes_and_flags_the_phone_until_it_changes():
    from followups.reading import phone_flagged

    case = follow_up()
    log_attempt(case, Outcome.WRONG_NUMBER, "a bakery", UserFactory(), now=monday())
    assert case.outcome == FollowUp.Outcome.WRONG_NUMBER
    customer = case.appointment.customer
    assert phone_flagged(customer, list(Attempt.objects.all()))
    customer.phone = "+32470999999"
    assert not phone_flagged(customer, list(Attempt.objects.all()))


def test_the_rules_managers_read_name_the_numbers_the_code_uses():
    settings = FollowUpSettings(days_between_attempts=2, escalate_after_hours=8)
    text = " ".join(attempts.rules(settings))
    assert "2 working days" in text
    assert f"After {attempts.MAX_UNANSWERED} unanswered calls" in text
    assert "8 hours" in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_we_tried_sms_fits_one_segment_in_every_language(settings, language):
    settings.SITE_URL = "https://checkin.autogroepvlaanderen.be"
    dealership = DealershipFactory(name="Garage Vandenbroucke-Dewaele 1", phone="+3292101010")
    customer = CustomerFactory(
        dealership=dealership, first_name="Maximiliaan-Frederik", language=language
    )
    appointment = AppointmentFactory(dealership=dealership, customer=customer)

    sms = texts.render("followup_tried", "sms", appointment).text
    email = texts.render("followup_tried", "email", appointment)

    assert gsm.is_gsm7(sms), [c for c in sms if not gsm.is_gsm7(c)]
    assert gsm.segments(sms) == 1, (gsm.septets(sms), sms)
    assert appointment.checkin.link in sms
    assert "+32 9 210 10 10" in sms
    for part in (email.subject, email.text, email.html):
        assert part.strip()
        assert "{{" not in part
        assert "{%" not in part
    assert appointment.checkin.link in email.text
    assert "+32 9 210 10 10" in email.text
