"""Login throttling (django-axes): after a few wrong passwords for one username from one
address, that pair is locked out of the console and admin logins, even with the right
password, with a clear message, until the cool-off has passed. Other users and addresses are
not affected."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command

pytestmark = pytest.mark.django_db

PASSWORD = "pw-commander-1"  # the staff_user fixture's
LOGINS = ["/console/login/", "/admin/login/"]
ATTACKER = "203.0.113.7"
LOCKED = "Too many failed logins for this username from your address"


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-1")


def _login(client, url: str, username: str, password: str, ip: str = ATTACKER):
    return client.post(
        url, {"username": username, "password": password, "next": "/console/"}, REMOTE_ADDR=ip
    )


def _fail_until_locked(client, url: str, username: str, ip: str = ATTACKER) -> list:
    return [
        _login(client, url, username, f"wrong-{n}", ip) for n in range(settings.AXES_FAILURE_LIMIT)
    ]


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_the_limit_is_a_few_failures():
    assert 3 <= settings.AXES_FAILURE_LIMIT <= 10
    assert settings.AXES_COOLOFF_TIME >= timedelta(minutes=5)


@pytest.mark.parametrize("url", LOGINS)
def test_it_locks_out_after_the_limit_and_says_so_on_the_login_page(client, staff_user, url):
    responses = _fail_until_locked(client, url, "commander")
    # The failures before the limit: the login page, saying the password is wrong.
    for response in responses[:-1]:
        assert response.status_code == 200
        assert LOCKED not in response.content.decode()
    locked = responses[-1]
    assert locked.status_code == 429
    page = locked.content.decode()
    assert LOCKED in page and "locked for 15 minutes" in page
    assert 'name="password"' in page  # still the login page, not a bare error text
    assert "correct username and password" not in page  # not "wrong password": it may be right
    assert int(locked["Retry-After"]) == 15 * 60


@pytest.mark.parametrize("url", LOGINS)
def test_it_refuses_even_the_right_password_while_locked_out(client, admin_user, url):
    _fail_until_locked(client, url, "root")
    response = _login(client, url, "root", "pw-root-1")
    assert response.status_code == 429
    assert LOCKED in response.content.decode()
    assert not _logged_in(client)


def test_the_lock_holds_across_both_login_pages(client, admin_user):
    """One counter for the pair, whichever door the guesses came through."""
    for n in range(settings.AXES_FAILURE_LIMIT):
        _login(client, LOGINS[n % 2], "root", f"wrong-{n}")
    assert _login(client, "/admin/login/", "root", "pw-root-1").status_code == 429
    assert _login(client, "/console/login/", "root", "pw-root-1").status_code == 429
    assert not _logged_in(client)


def test_other_users_and_other_addresses_are_not_affected(client, staff_user, admin_user):
    _fail_until_locked(client, "/console/login/", "commander")
    # Another user from the attacker's address.
    response = _login(client, "/console/login/", "root", "pw-root-1")
    assert response.status_code == 302 and _logged_in(client)
    client.logout()
    # The locked user from another address (the real commander, not the guesser).
    response = _login(client, "/console/login/", "commander", PASSWORD, ip="198.51.100.20")
    assert response.status_code == 302 and _logged_in(client)


def test_it_lets_the_user_in_again_after_the_cooloff(client, staff_user):
    _fail_until_locked(client, "/console/login/", "commander")
    assert _login(client, "/console/login/", "commander", PASSWORD).status_code == 429
    # Time passes: the attempts are older than the cool-off.
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time
        - settings.AXES_COOLOFF_TIME
        - timedelta(seconds=1)
    )
    response = _login(client, "/console/login/", "commander", PASSWORD)
    assert response.status_code == 302 and _logged_in(client)


def test_a_successful_login_forgets_earlier_typos(client, staff_user):
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "/console/login/", "commander", f"typo-{n}")
    assert _login(client, "/console/login/", "commander", PASSWORD).status_code == 302
    client.logout()
    # A fresh budget: one more typo does not lock the account.
    assert _login(client, "/console/login/", "commander", "typo-again").status_code == 200
    assert _login(client, "/console/login/", "commander", PASSWORD).status_code == 302


def test_staff_unlock_with_the_axes_reset_command(client, staff_user):
    _fail_until_locked(client, "/console/login/", "commander")
    call_command("axes_reset_username", "commander", stdout=StringIO())
    assert _login(client, "/console/login/", "commander", PASSWORD).status_code == 302
