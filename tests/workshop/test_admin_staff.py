"""A manager runs their own staff in the admin, and nobody else.

A manager of one dealership may create and change users whose every membership lies in
the dealerships they manage. Staff who also work for another dealership, other
managers and superusers are out of reach, whatever is posted by hand.
"""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from tests.factories import DealershipFactory, MembershipFactory, UserFactory
from workshop.demo import Seeder
from workshop.models import Membership, Role

pytestmark = pytest.mark.django_db

User = get_user_model()
PASSWORD = "secret-password-1"  # the factories' password
NEW_PASSWORD = "a-new-Password-for-2025"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Ten users a test: the production hasher would spend most of the run hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff(client):
    """A manager of "Mine", signed in, and the people around them."""
    Seeder().users()  # the Managers group and its permissions, as the demo sets them up
    managers = Group.objects.get(name="Managers")
    mine = DealershipFactory(name="Mine")
    theirs = DealershipFactory(name="Theirs")

    def member(username, *places, role=Role.RECEPTIONIST, **flags):
        user = UserFactory(username=username, **flags)
        for place in places:
            MembershipFactory(user=user, dealership=place, role=role)
        return user

    boss = member("boss", mine, role=Role.MANAGER, is_staff=True)
    boss.groups.add(managers)
    peer = member("peer", mine, role=Role.MANAGER, is_staff=True)
    peer.groups.add(managers)
    people = {
        "boss": boss,
        "own": member("own", mine),
        "shared": member("shared", mine, theirs),
        "outsider": member("outsider", theirs),
        "peer": peer,
        "root": member("root", mine, is_superuser=True, is_staff=True),
        "nobody": member("nobody"),  # no membership anywhere yet
    }
    client.force_login(boss)
    return client, mine, theirs, people


def user_form(user, **changes):
    """The change form as the admin renders it for a manager, memberships included."""
    memberships = list(Membership.objects.filter(user=user).order_by("pk"))
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "memberships-TOTAL_FORMS": str(len(memberships)),
        "memberships-INITIAL_FORMS": str(len(memberships)),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for n, membership in enumerate(memberships):
        data |= {
            f"memberships-{n}-id": str(membership.pk),
            f"memberships-{n}-user": str(user.pk),
            f"memberships-{n}-dealership": str(membership.dealership_id),
            f"memberships-{n}-role": membership.role,
        }
    return data | changes


def change_url(user):
    return reverse("admin:auth_user_change", args=[user.pk])


def password_url(user):
    return reverse("admin:auth_user_password_change", args=[user.pk])


def password_form():
    return {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}


def reloaded(user):
    return User.objects.get(pk=user.pk)


OUT_OF_REACH = ["shared", "outsider", "peer", "root", "boss"]


def test_a_manager_lists_only_staff_who_work_for_them_alone(staff):
    client, _mine, _theirs, _people = staff
    listing = client.get(reverse("admin:auth_user_changelist"))
    assert [user.username for user in listing.context["cl"].result_list] == ["own"]


@pytest.mark.parametrize("who", OUT_OF_REACH)
def test_a_manager_cannot_change_a_user_out_of_their_reach(staff, who):
    client, _mine, _theirs, people = staff
    user = people[who]
    assert client.get(change_url(user)).status_code == 302  # "does not exist"
    response = client.post(change_url(user), user_form(user, first_name="Hijacked"))
    assert response.status_code == 302
    assert reloaded(user).first_name != "Hijacked"


@pytest.mark.parametrize("who", OUT_OF_REACH)
def test_a_manager_cannot_set_the_password_of_a_user_out_of_their_reach(staff, who):
    client, _mine, _theirs, people = staff
    user = people[who]
    assert client.get(password_url(user)).status_code == 404
    assert client.post(password_url(user), password_form()).status_code == 404
    assert reloaded(user).check_password(PASSWORD)


def test_a_manager_changes_and_sets_the_password_of_their_own_staff(staff):
    client, _mine, _theirs, people = staff
    own = people["own"]
    response = client.post(change_url(own), user_form(own, first_name="Renamed"))
    assert response.status_code == 302, response.context and response.context["errors"]
    assert reloaded(own).first_name == "Renamed"
    assert client.post(password_url(own), password_form()).status_code == 302
    assert reloaded(own).check_password(NEW_PASSWORD)


def test_admin_rights_posted_by_hand_are_ignored(staff):
    client, _mine, _theirs, people = staff
    own = people["own"]
    response = client.post(
        change_url(own),
        user_form(
            own,
            first_name="Still staff",
            is_staff="on",
            is_superuser="on",
            groups=[str(Group.objects.get(name="Managers").pk)],
            user_permissions=[str(Permission.objects.get(codename="change_user").pk)],
        ),
    )
    assert response.status_code == 302
    own = reloaded(own)
    assert own.first_name == "Still staff"
    assert not own.is_staff
    assert not own.is_superuser
    assert not own.groups.exists()
    assert not own.user_permissions.exists()


def test_a_manager_cannot_add_a_membership_in_another_dealership_on_the_user_form(staff):
    client, mine, theirs, people = staff
    own = people["own"]
    data = user_form(own)
    data |= {
        "memberships-TOTAL_FORMS": "2",
        "memberships-1-user": str(own.pk),
        "memberships-1-dealership": str(theirs.pk),
        "memberships-1-role": Role.RECEPTIONIST,
    }
    assert client.post(change_url(own), data).status_code == 200  # the form, with the error
    assert list(own.memberships.values_list("dealership", flat=True)) == [mine.pk]


def test_a_manager_cannot_make_their_staff_a_manager(staff):
    client, _mine, _theirs, people = staff
    own = people["own"]
    membership = own.memberships.get()
    response = client.post(change_url(own), user_form(own, **{"memberships-0-role": "manager"}))
    assert response.status_code == 200
    response = client.post(
        reverse("admin:workshop_membership_change", args=[membership.pk]),
        {"user": own.pk, "dealership": membership.dealership_id, "role": Role.MANAGER},
    )
    assert response.status_code == 200
    assert reloaded(own).memberships.get().role == Role.RECEPTIONIST


@pytest.mark.parametrize("who", ["outsider", "nobody", "shared", "peer", "root", "boss"])
def test_a_manager_cannot_give_a_membership_to_a_user_out_of_their_reach(staff, who):
    client, mine, _theirs, people = staff
    user = people[who]
    before = set(Membership.objects.values_list("pk", "user", "dealership", "role"))
    second = DealershipFactory(name="Mine too")
    Membership.objects.create(user=people["boss"], dealership=second, role=Role.MANAGER)
    for place in (mine, second):
        response = client.post(
            reverse("admin:workshop_membership_add"),
            {"user": user.pk, "dealership": place.pk, "role": Role.RECEPTIONIST},
        )
        assert response.status_code == 200
        assert "user" in response.context["adminform"].form.errors
    after = set(Membership.objects.values_list("pk", "user", "dealership", "role"))
    assert after - before == {m for m in after if m[1] == people["boss"].pk and m[2] == second.pk}


def test_a_manager_cannot_move_a_membership_to_another_user(staff):
    client, mine, _theirs, people = staff
    membership = people["own"].memberships.get()
    response = client.post(
        reverse("admin:workshop_membership_change", args=[membership.pk]),
        {"user": people["outsider"].pk, "dealership": mine.pk, "role": Role.RECEPTIONIST},
    )
    assert response.status_code == 200
    assert Membership.objects.get(pk=membership.pk).user == people["own"]


@pytest.mark.parametrize("who", ["peer", "shared", "root"])
def test_a_manager_cannot_change_or_remove_the_membership_of_a_user_out_of_reach(staff, who):
    client, mine, _theirs, people = staff
    membership = people[who].memberships.get(dealership=mine)
    url = reverse("admin:workshop_membership_change", args=[membership.pk])
    assert client.get(url).status_code == 302  # "does not exist"
    client.post(url, {"user": people[who].pk, "dealership": mine.pk, "role": Role.MECHANIC})
    client.post(reverse("admin:workshop_membership_delete", args=[membership.pk]), {"post": "yes"})
    assert Membership.objects.get(pk=membership.pk).role == membership.role


def test_a_manager_changes_their_own_staffs_role(staff):
    client, mine, _theirs, people = staff
    membership = people["own"].memberships.get()
    response = client.post(
        reverse("admin:workshop_membership_change", args=[membership.pk]),
        {"user": people["own"].pk, "dealership": mine.pk, "role": Role.MECHANIC},
    )
    assert response.status_code == 302
    assert Membership.objects.get(pk=membership.pk).role == Role.MECHANIC


def test_the_user_search_offers_only_the_managers_own_staff(staff):
    client, _mine, _theirs, people = staff
    response = client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "workshop",
            "model_name": "membership",
            "field_name": "user",
            "term": "",
        },
    )
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(people["own"].pk)]


def test_deleting_selected_users_spares_those_out_of_reach(staff):
    client, mine, _theirs, people = staff
    people["boss"].user_permissions.add(
        Permission.objects.get(codename="delete_user"),
        Permission.objects.get(codename="delete_membership"),
    )
    everyone = [people[who] for who in [*OUT_OF_REACH, "own", "nobody"]]
    client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "delete_selected", "_selected_action": [u.pk for u in everyone], "post": "yes"},
    )
    remaining = set(User.objects.values_list("username", flat=True))
    assert {*OUT_OF_REACH, "nobody"} <= remaining
    assert "own" not in remaining  # theirs to delete

    others = list(Membership.objects.filter(dealership=mine).values_list("pk", flat=True))
    client.post(
        reverse("admin:workshop_membership_changelist"),
        {"action": "delete_selected", "_selected_action": others, "post": "yes"},
    )
    assert set(Membership.objects.filter(dealership=mine).values_list("pk", flat=True)) == set(
        others
    )


def new_user_form(username, *memberships):
    data = {
        "username": username,
        "usable_password": "true",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        "memberships-TOTAL_FORMS": str(len(memberships)),
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for n, (dealership, role) in enumerate(memberships):
        data |= {f"memberships-{n}-dealership": str(dealership.pk), f"memberships-{n}-role": role}
    return data


def test_a_user_a_manager_creates_starts_in_their_dealership_in_the_same_step(staff):
    client, mine, theirs, _people = staff
    add = reverse("admin:auth_user_add")
    assert client.post(add, new_user_form("lonely")).status_code == 200
    assert client.post(add, new_user_form("astray", (theirs, Role.MECHANIC))).status_code == 200
    assert client.post(add, new_user_form("chief", (mine, Role.MANAGER))).status_code == 200
    assert not User.objects.filter(username__in=["lonely", "astray", "chief"]).exists()

    response = client.post(add, new_user_form("newbie", (mine, Role.MECHANIC)))
    assert response.status_code == 302
    newbie = User.objects.get(username="newbie")
    assert list(newbie.memberships.values_list("dealership", "role")) == [(mine.pk, "mechanic")]
    assert client.get(response["Location"]).status_code == 200  # theirs to change

    # The manager of the other dealership does not see them.
    other_manager = UserFactory(username="other-boss", is_staff=True)
    other_manager.groups.add(Group.objects.get(name="Managers"))
    MembershipFactory(user=other_manager, dealership=theirs, role=Role.MANAGER)
    client.force_login(other_manager)
    assert client.get(change_url(newbie)).status_code == 302
    listing = client.get(reverse("admin:auth_user_changelist"))
    assert newbie not in listing.context["cl"].result_list


def test_a_manager_cannot_take_away_their_staffs_last_membership(staff):
    client, _mine, _theirs, people = staff
    own = people["own"]
    response = client.post(change_url(own), user_form(own, **{"memberships-0-DELETE": "on"}))
    assert response.status_code == 200
    assert own.memberships.exists()


def test_the_dealership_filter_names_only_the_managers_dealerships(staff):
    client, _mine, _theirs, _people = staff
    page = client.get(reverse("admin:workshop_membership_changelist")).content.decode()
    assert "Mine" in page
    assert "Theirs" not in page
