"""The staff flow functions: each change once, in one transaction, on the timeline."""

from decimal import Decimal

import pytest

from tests.factories import AppointmentFactory, UserFactory, WorkItemFactory
from tests.locks import postgresql_only, while_held
from tests.workshop.staffdata import open_remark
from workshop import checkin as flow
from workshop.models import AppointmentEvent, CheckInItem, WorkItem

Event = AppointmentEvent.Kind


@pytest.mark.django_db
def test_sharing_records_who_changed_what_mechanics_see():
    remark = open_remark(AppointmentFactory())
    rita = UserFactory()
    flow.share_item(remark, rita, visible=True)
    flow.share_item(remark, rita, visible=True)  # no change, no second event
    event = AppointmentEvent.objects.get(kind=Event.ITEM_SHARED)
    assert (event.user, event.field, event.old_value, event.new_value) == (
        rita,
        "visible_to_mechanics",
        "no",
        "yes",
    )
    assert CheckInItem.objects.get(pk=remark.pk).visible_to_mechanics


@pytest.mark.django_db
def test_only_sent_remarks_can_be_shared():
    appointment = AppointmentFactory()
    draft = CheckInItem.objects.create(
        checkin=appointment.checkin, kind=CheckInItem.Kind.REMARK, subject="Draft"
    )
    with pytest.raises(ValueError, match="sent remark"):
        flow.share_item(draft, UserFactory(), visible=True)


@pytest.mark.django_db
def test_a_staff_work_item_gets_the_dealerships_vat_rate_and_the_next_position():
    appointment = AppointmentFactory(dealership__vat_rate=Decimal("6.00"))
    WorkItemFactory(appointment=appointment, position=4)
    work_item = flow.add_work_item(
        appointment, UserFactory(), description="Wipers", price=Decimal("39.50")
    )
    assert (work_item.vat_rate, work_item.position, work_item.origin) == (
        Decimal("6.00"),
        5,
        WorkItem.Origin.STAFF,
    )
    assert AppointmentEvent.objects.get(kind=Event.WORK_ITEM_ADDED).detail == "Wipers"


@pytest.mark.django_db
def test_changing_a_work_item_records_each_changed_field_once():
    work_item = WorkItemFactory(origin=WorkItem.Origin.STAFF, description="A", price=Decimal("10"))
    changed = flow.change_work_item(
        work_item, UserFactory(), description="A", notes="", price=Decimal("12.00")
    )
    assert changed == ["price"]
    assert (
        flow.change_work_item(
            work_item, UserFactory(), description="A", notes="", price=Decimal("12")
        )
        == []
    )
    assert AppointmentEvent.objects.filter(kind=Event.WORK_ITEM_CHANGED).count() == 1


@pytest.mark.django_db
def test_planned_work_is_neither_changed_nor_removed():
    planned = WorkItemFactory(origin=WorkItem.Origin.PLANNED)
    with pytest.raises(flow.WorkItemNotRemovable):
        flow.change_work_item(planned, UserFactory(), description="x", price=Decimal("1"))
    with pytest.raises(flow.WorkItemNotRemovable):
        flow.remove_work_item(planned, UserFactory())
    assert WorkItem.objects.filter(pk=planned.pk).exists()
    assert not AppointmentEvent.objects.exists()


@pytest.mark.django_db
def test_removing_twice_removes_once():
    work_item = WorkItemFactory(origin=WorkItem.Origin.REMARK)
    flow.remove_work_item(work_item, UserFactory())
    flow.remove_work_item(work_item, UserFactory())
    assert AppointmentEvent.objects.filter(kind=Event.WORK_ITEM_REMOVED).count() == 1


@pytest.mark.django_db
def test_rotating_the_link_changes_both_parts_and_records_it():
    appointment = AppointmentFactory()
    checkin = appointment.checkin
    old = checkin.token
    flow.rotate_link(checkin, UserFactory())
    checkin.refresh_from_db()
    assert checkin.token != old
    assert checkin.link_selector != old[:8]
    assert checkin.link_verifier != old[8:]
    assert AppointmentEvent.objects.get(kind=Event.LINK_ROTATED).at == checkin.link_rotated_at


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_two_receptionists_converting_at_once_make_one_work_item():
    """The second converts while the first has converted but not yet committed. It must
    wait for the first's row lock, then learn the item is handled. Without the lock it
    would read the item as still open and add a second work item.
    """
    remark = open_remark(AppointmentFactory())
    first_user, second_user = UserFactory(), UserFactory()

    def second():
        try:
            flow.convert_item(remark, second_user, description="second", price=Decimal("50"))
        except flow.ItemAlreadyHandled:
            return "already handled"
        return "converted"

    _first, outcome, waited = while_held(
        lambda: flow.convert_item(remark, first_user, description="first", price=Decimal("50")),
        second,
    )

    assert waited, "the second conversion waited for the first"
    assert outcome == "already handled"
    assert list(WorkItem.objects.values_list("description", flat=True)) == ["first"]
    assert AppointmentEvent.objects.filter(kind=Event.ITEM_CONVERTED).count() == 1
    remark.refresh_from_db()
    assert remark.handled_by == first_user
