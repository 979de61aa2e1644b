"""A CSV that is not clean UTF-8 text — a NUL byte, UTF-16 (as Excel's "Unicode text" saves
it, with or without a byte order mark), bytes that are not UTF-8 — is refused whole with a
reason that names the line, through every door: the importer, the commands, the console
upload and the API. Nothing is written; nothing answers 500."""

from __future__ import annotations

import io

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from incidents.credits import services
from incidents.credits.importers import ImportRejected
from incidents.credits.models import Account, SpendRecord
from statuspage.api.services import api_token_create
from statuspage.services import Actor

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("encodings-test")
BASE = f"/v1/pages/{settings.PAGE_ID}"
ACCOUNTS = "account_id,name,plan,paying,currency\na1,Alpha,pro,true,USD\na2,Beta,,false,EUR\n"
UTF16 = "the file is UTF-16: save it as UTF-8"
NUL = "contains a NUL character"

# (bytes of the file, the line named, words of the reason)
BAD_FILES = {
    "nul": (ACCOUNTS.replace("Beta", "Be\x00ta").encode(), 3, NUL),
    "nul-in-header": (ACCOUNTS.replace("name", "na\x00me").encode(), 1, NUL),
    "utf16-bom": (ACCOUNTS.encode("utf-16"), 1, UTF16),
    "utf16-le": (ACCOUNTS.encode("utf-16-le"), 1, UTF16),
    "utf16-be": (ACCOUNTS.encode("utf-16-be"), 1, UTF16),
    "utf16-be-bom": (b"\xfe\xff" + ACCOUNTS.encode("utf-16-be"), 1, UTF16),
    "latin-1": (ACCOUNTS.replace("Beta", "Bêta").encode("latin-1"), 3, "not UTF-8"),
}


def reasons(exc: ImportRejected) -> list[tuple[int, str]]:
    return [(line, reason) for line, reason in exc.line_errors]


def assert_refused(errors: list[tuple[int, str]], line: int, words: str) -> None:
    assert any(n == line and words in reason for n, reason in errors), errors
    for _, reason in errors:  # shown in a page, a terminal, JSON: nothing unprintable
        assert "\x00" not in reason
        reason.encode("utf-8")


@pytest.mark.parametrize("name", BAD_FILES)
def test_the_importer_refuses_a_bad_encoding_naming_the_line(name):
    data, line, words = BAD_FILES[name]
    with pytest.raises(ImportRejected) as caught:
        services.accounts_import(source=io.BytesIO(data), actor=ACTOR)
    assert_refused(reasons(caught.value), line, words)
    assert Account.objects.count() == 0


def test_spend_with_a_nul_byte_is_refused_naming_the_line():
    services.accounts_import(source=io.BytesIO(ACCOUNTS.encode()), actor=ACTOR)
    spend = (
        "account_id,amount,currency,occurred_at\n"
        "a1,1.00,USD,2026-06-22T00:00Z\n"
        "a1,2.00,USD,2026-06-22T00:00Z\x00\n"
    )
    with pytest.raises(ImportRejected) as caught:
        services.spend_import(source=io.BytesIO(spend.encode()), actor=ACTOR)
    assert_refused(reasons(caught.value), 3, NUL)
    assert SpendRecord.objects.count() == 0


@pytest.mark.parametrize(
    ("amount", "time"),
    [
        ("1e999999", "2026-06-22T00:00Z"),
        ("1.00", "0001-01-01T00:00+05:00"),
        ("1.00", "2027-02-30T00:00Z"),
    ],
)
def test_spend_amounts_and_times_out_of_range_are_refused_naming_the_line(amount, time):
    services.accounts_import(source=io.BytesIO(ACCOUNTS.encode()), actor=ACTOR)
    spend = f"account_id,amount,currency,occurred_at\na1,{amount},USD,{time}\n"
    with pytest.raises(ImportRejected) as caught:
        services.spend_import(source=io.StringIO(spend), actor=ACTOR)
    assert [line for line, _ in caught.value.line_errors] == [2]


@pytest.mark.parametrize("name", ["nul", "utf16-bom", "utf16-le", "latin-1"])
def test_the_command_lists_the_bad_line(name, tmp_path):
    data, line, words = BAD_FILES[name]
    path = tmp_path / "accounts.csv"
    path.write_bytes(data)
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_accounts", str(path), stdout=io.StringIO(), stderr=err)
    assert f"line {line}: {words}" in err.getvalue()
    assert Account.objects.count() == 0


@pytest.fixture
def runner(client, django_user_model):
    user = django_user_model.objects.create_user("support", "s@example.com", "pw-support")
    user.is_staff = True
    user.save()
    user.user_permissions.add(Permission.objects.get(codename="run_credits"))
    client.force_login(user)
    return client


@pytest.mark.parametrize("name", BAD_FILES)
def test_the_console_upload_names_the_line(runner, name):
    data, line, words = BAD_FILES[name]
    upload = SimpleUploadedFile("accounts.csv", data, content_type="text/csv")
    response = runner.post("/console/credits/import/", {"what": "accounts", "file": upload})
    assert response.status_code == 400
    page = response.content.decode()
    assert f"line {line}: {words}" in page
    assert Account.objects.count() == 0


@pytest.mark.parametrize("name", BAD_FILES)
def test_the_api_names_the_line_of_a_raw_file(client, name):
    data, line, words = BAD_FILES[name]
    _, raw = api_token_create(name="finance-bot", scopes=None, actor=ACTOR)
    response = client.post(
        f"{BASE}/account-imports", data, "text/csv", HTTP_AUTHORIZATION=f"OAuth {raw}"
    )
    assert response.status_code == 422, response.content
    assert f"line {line}: {words}" in response.json()["message"]
    assert Account.objects.count() == 0


def test_the_api_names_the_line_of_a_nul_in_a_json_csv(client):
    _, raw = api_token_create(name="finance-bot", scopes=None, actor=ACTOR)
    body = {"account_import": {"csv": ACCOUNTS.replace("Beta", "Be\x00ta")}}
    response = client.post(
        f"{BASE}/account-imports", body, "application/json", HTTP_AUTHORIZATION=f"OAuth {raw}"
    )
    assert response.status_code == 422
    assert f"line 3: {NUL}" in response.json()["message"]
    assert Account.objects.count() == 0
