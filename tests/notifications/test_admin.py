import pytest
from django.urls import reverse

from notifications.models import MessageText, QuickReply
from tests.factories import DealershipFactory, MembershipFactory, UserFactory
from workshop.demo import Seeder
from workshop.models import Role

pytestmark = pytest.mark.django_db

ADD = reverse("admin:notifications_messagetext_add")


@pytest.fixture
def manager_client(client):
    Seeder().users()  # the Managers group and its permissions, as the demo sets them up
    manager = UserFactory(username="mona", is_staff=True)
    from django.contrib.auth.models import Group

    manager.groups.add(Group.objects.get(name="Managers"))
    mine = DealershipFactory(name="Mine")
    MembershipFactory(user=manager, dealership=mine, role=Role.MANAGER)
    client.force_login(manager)
    client.mine = mine
    return client


def form(dealership, **fields):
    return {
        "dealership": dealership.pk,
        "purpose": "invitation",
        "channel": "sms",
        "language": "nl",
        "subject": "",
        "body": "{dealership}: dag {first_name}, check in: {link}",
        **fields,
    }


def test_a_manager_saves_their_own_invitation_text(manager_client):
    response = manager_client.post(ADD, form(manager_client.mine))
    assert response.status_code == 302
    text = MessageText.objects.get()
    assert text.dealership == manager_client.mine


def test_an_unknown_placeholder_is_refused_with_a_clear_message(manager_client):
    response = manager_client.post(ADD, form(manager_client.mine, body="Dag {naam}: {link}"))
    assert response.status_code == 200
    assert "Unknown placeholder {naam}. You can use:" in response.content.decode()
    assert "Dag {naam}: {link}" in response.content.decode()  # what was typed stays
    assert not MessageText.objects.exists()


def test_a_manager_cannot_write_texts_for_another_dealership(manager_client):
    other = DealershipFactory(name="Not mine")
    response = manager_client.post(ADD, form(other))
    assert response.status_code == 200
    assert not MessageText.objects.exists()
    page = manager_client.get(ADD).content.decode()
    assert "Mine" in page
    assert "Not mine" not in page


def test_managers_only_see_their_dealerships_texts(manager_client):
    mine = MessageText.objects.create(
        **{**form(manager_client.mine), "dealership": manager_client.mine}
    )
    other = DealershipFactory(name="Not mine")
    MessageText.objects.create(**{**form(other), "dealership": other})

    listing = manager_client.get(reverse("admin:notifications_messagetext_changelist"))

    assert list(listing.context["cl"].result_list) == [mine]


def test_a_manager_reads_an_inbound_emails_original_and_unmatched_mail_to_their_address(
    manager_client,
):
    from notifications.email_in import store_inbound_email
    from notifications.models import Message
    from tests.notifications.test_email_in import mime

    manager_client.mine.email = "service@mine.example"
    manager_client.mine.save()
    raw = mime("unknown_sender_unknown_key.eml")
    to_mine = store_inbound_email(
        raw.replace(b"Delivered-To: reply+", b"Delivered-To: service@mine.example\nX-To: reply+")
    )
    to_nobody = store_inbound_email(raw.replace(b"77331@", b"77332@"))
    changelist = reverse("admin:notifications_message_changelist")

    page = manager_client.get(changelist).content.decode()
    assert reverse("admin:notifications_message_change", args=[to_mine.pk]) in page
    assert reverse("admin:notifications_message_change", args=[to_nobody.pk]) not in page
    detail = manager_client.get(reverse("admin:notifications_message_change", args=[to_mine.pk]))
    content = detail.content.decode()
    assert "Hello, do you also do tyre storage?" in content
    assert "&lt;20261201130500.77331@example.org&gt;" in content  # its Message-ID, kept
    assert Message.objects.filter(direction="in").count() == 2


QUICK_ADD = reverse("admin:notifications_quickreply_add")


def quick_reply(dealership, **fields):
    return {
        "dealership": dealership.pk,
        "name": "Klaar",
        "language": "nl",
        "body": "Dag {first_name}, uw {vehicle} is klaar. Tot straks, {dealership}",
        "position": 0,
        **fields,
    }


def test_a_manager_saves_a_quick_reply_with_known_placeholders(manager_client):
    response = manager_client.post(QUICK_ADD, quick_reply(manager_client.mine))
    assert response.status_code == 302
    assert QuickReply.objects.get().dealership == manager_client.mine


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("Dag {naam}", "Unknown placeholder {naam}. You can use:"),
        ("Dag {first_name", "Curly braces are only for placeholders"),
        ("Klaar 😀", "An SMS cannot carry these characters"),
    ],
)
def test_a_quick_reply_is_checked_as_a_message_text(manager_client, body, error):
    response = manager_client.post(QUICK_ADD, quick_reply(manager_client.mine, body=body))
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not QuickReply.objects.exists()


def test_a_manager_cannot_write_quick_replies_for_another_dealership(manager_client):
    response = manager_client.post(QUICK_ADD, quick_reply(DealershipFactory(name="Not mine")))
    assert response.status_code == 200
    assert not QuickReply.objects.exists()
