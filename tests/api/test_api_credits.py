"""Credits through the API: import accounts and spend, create a policy, run a report, fetch
its totals and CSV. The seed report's policy: spend over 21–23 June, minimum $10."""

from __future__ import annotations

import csv
import io

from api_helpers import Api
from django.contrib.auth.models import Permission, User

from incidents.credits.models import Account, CreditPolicy, SpendRecord
from statuspage.api.services import api_token_create
from statuspage.services import Actor

ACCOUNTS = "account_id,name,plan,paying,currency\nacme,Acme,pro,true,USD\nfree,Free,free,false,USD\nbig,Big,team,true,USD\n"
SPEND = (
    "account_id,amount,currency,occurred_at,period_start,period_end,region,kind\n"
    "acme,3.50,USD,2026-06-22T10:00:00Z,,,us-east-1,usage\n"
    "big,120.25,USD,2026-06-21T01:00:00Z,,,us-east-1,usage\n"
    "big,99.00,USD,2026-06-25T01:00:00Z,,,us-east-1,usage\n"
    "free,5.00,USD,2026-06-22T10:00:00Z,,,us-east-1,usage\n"
)
POLICY = {
    "credit_policy": {
        "name": "June outage",
        "window_start": "2026-06-21T00:00:00Z",
        "window_end": "2026-06-24T00:00:00Z",
        "rules": [{"currency": "USD", "minimum": "10.00"}],
    }
}


def load(api) -> None:
    response = api("POST", "account-imports", raw=ACCOUNTS, content_type="text/csv")
    assert response.status_code == 201, response.content
    assert response.json()["created"] == 3
    response = api("POST", "spend-imports.json", json_body={"spend_import": {"csv": SPEND}})
    assert response.status_code == 201, response.content
    assert response.json()["lines"] == 4


def test_policy_report_totals_and_csv(api, db):
    load(api)
    created = api("POST", "credit-policies", json_body=POLICY)
    assert created.status_code == 201, created.content
    policy = created.json()
    assert policy["rules"] == [
        {
            "currency": "USD",
            "minimum_cents": 1000,
            "minimum": "10.00",
            "cap_cents": None,
            "cap": None,
        }
    ]
    assert policy["invoice_month"] == "2026-06"
    report = api(
        "POST",
        f"credit-policies/{policy['id']}/reports",
        json_body={"credit_report": {"wait": True}},
    )
    assert report.status_code == 201, report.content
    data = report.json()
    assert data["status"] == "done" and data["lines"] == 2
    [usd] = data["totals"]
    # acme: $3.50 spent → the $10 minimum; big: $120.25 in the window (the 25 June charge is out).
    assert (usd["credit_cents"], usd["credit"], usd["accounts"]) == (13025, "130.25", 2)
    assert api("GET", f"credit-reports/{data['id']}.json").json()["totals"] == data["totals"]
    exported = api("GET", f"credit-reports/{data['id']}/csv")
    assert exported["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    assert {r["account_id"]: r["credit"] for r in rows} == {"acme": "10.00", "big": "120.25"}
    listed = api("GET", f"credit-policies/{policy['id']}/reports").json()
    assert [r["id"] for r in listed] == [data["id"]]


def test_report_can_be_queued(api, db):
    load(api)
    policy = api("POST", "credit-policies", json_body=POLICY).json()
    report = api("POST", f"credit-policies/{policy['id']}/reports")
    assert report.status_code == 201
    assert report.json()["status"] == "running"


def test_policy_form_encoded_and_replaced(api, db):
    response = api(
        "POST",
        "credit-policies",
        form={
            "credit_policy[window_start]": "2026-06-21T00:00:00Z",
            "credit_policy[window_end]": "2026-06-24T00:00:00Z",
            "credit_policy[rules][0][currency]": "usd",
            "credit_policy[rules][0][minimum]": "10",
            "credit_policy[rules][0][cap]": "500",
            "credit_policy[regions][]": "us-east-1",
        },
    )
    assert response.status_code == 201, response.content
    policy = response.json()
    assert policy["regions"] == ["us-east-1"] and policy["rules"][0]["cap_cents"] == 50000
    replaced = api("PUT", f"credit-policies/{policy['id']}", json_body=POLICY)
    assert replaced.json()["regions"] == [] and replaced.json()["name"] == "June outage"


def test_bad_input(api, db):
    no_rules = api(
        "POST",
        "credit-policies",
        json_body={"credit_policy": {**POLICY["credit_policy"], "rules": []}},
    )
    assert no_rules.status_code == 422 and no_rules.json()["message"].startswith("rules:")
    backwards = api(
        "POST",
        "credit-policies",
        json_body={
            "credit_policy": {
                **POLICY["credit_policy"],
                "window_start": "2026-06-24T00:00:00Z",
                "window_end": "2026-06-21T00:00:00Z",
            }
        },
    )
    assert backwards.status_code == 422
    bad_amount = api(
        "POST",
        "credit-policies",
        json_body={
            "credit_policy": {
                **POLICY["credit_policy"],
                "rules": [{"currency": "USD", "minimum": "ten"}],
            }
        },
    )
    assert bad_amount.json()["message"].startswith("rules[0][minimum]:")
    assert not CreditPolicy.objects.exists()
    api("POST", "account-imports", raw=ACCOUNTS, content_type="text/csv")
    bad_file = api(
        "POST",
        "spend-imports",
        raw=SPEND + "nobody,1.00,USD,2026-06-22T10:00:00Z,,,,usage\n",
        content_type="text/csv",
    )
    assert bad_file.status_code == 422
    assert bad_file.json()["message"].startswith("file: line 6")
    assert not SpendRecord.objects.exists()  # refused whole
    assert api("GET", "credit-reports/999").status_code == 404


def test_credits_need_the_credits_scope(api_as, db):
    reader = api_as("reader", ["read", "incidents", "components"])
    assert reader("GET", "credit-policies").status_code == 403
    response = reader("POST", "account-imports", raw=ACCOUNTS, content_type="text/csv")
    assert response.status_code == 403
    assert not Account.objects.exists()


def test_get_one_policy(api, db):
    policy = api("POST", "credit-policies", json_body=POLICY).json()
    fetched = api("GET", f"credit-policies/{policy['id']}.json")
    assert fetched.status_code == 200 and fetched.json() == policy
    assert api("GET", "credit-policies/abc").status_code == 404
    assert [p["id"] for p in api("GET", "credit-policies").json()] == [policy["id"]]


def test_lines_refunds_approval_and_application_through_the_api(client, db, settings):
    """From the computed report to Stripe through the API: the lines with the add-on
    figures, a refund request recorded and approved, four eyes on the approval (the token's
    creator), the application and its reconciliation."""
    users = {}
    for name in ("alice", "bob"):
        user = User.objects.create_user(name, f"{name}@example.com", "pw", is_staff=True)
        user.user_permissions.add(
            *Permission.objects.filter(
                content_type__app_label="credits", codename__in=["run_credits", "approve_report"]
            )
        )
        users[name] = Api(
            client,
            api_token_create(name=f"{name}-bot", actor=Actor.for_user(user), scopes=["credits"])[1],
        )
    alice, bob = users["alice"], users["bob"]
    accounts = ACCOUNTS.replace("currency\n", "currency,stripe_customer_id\n", 1)
    accounts = accounts.replace(",USD\n", ",USD,\n").replace(
        "acme,Acme,pro,true,USD,", "acme,Acme,pro,true,USD,cus_acme"
    )
    assert (
        alice("POST", "account-imports", raw=accounts, content_type="text/csv").status_code == 201
    )
    addon = SPEND + "big,50.00,USD,2026-06-22T11:00:00Z,,,us-east-1,concurrency_addon\n"
    assert alice("POST", "spend-imports", raw=addon, content_type="text/csv").status_code == 201
    policy = alice("POST", "credit-policies", json_body=POLICY).json()
    report = alice(
        "POST",
        f"credit-policies/{policy['id']}/reports",
        json_body={"credit_report": {"wait": True}},
    ).json()
    rid = report["id"]
    assert report["state"] == "computed"
    lines = alice("GET", f"credit-reports/{rid}/lines").json()
    big = next(line for line in lines if line["account_id"] == "big")
    assert (big["addon_paid_cents"], big["addon_in_credit_cents"], big["addon_refund_cents"]) == (
        5000,
        5000,
        0,
    )
    [addon_row] = alice("GET", f"credit-reports/{rid}/addons").json()
    assert addon_row["paid_cents"] == 5000
    # The service's check, not a second one in the API: a bad field is a 422 naming it.
    for field, value in [("message", "x" * 10_001), ("contact", "a@b.example\nBcc: c")]:
        refused = alice(
            "POST",
            f"credit-reports/{rid}/refunds",
            json_body={"refund": {"account_id": "big", field: value}},
        )
        assert refused.status_code == 422, refused.content
        assert refused.json()["message"].startswith(f"{field}:")
    recorded = alice(
        "POST", f"credit-reports/{rid}/refunds", json_body={"refund": {"account_id": "big"}}
    )
    assert recorded.status_code == 201 and recorded.json()["status"] == "requested"
    decided = alice(
        "POST",
        f"credit-reports/{rid}/refunds/big/decision",
        json_body={"decision": {"decision": "refuse", "reason": "in the credit already"}},
    )
    assert decided.json()["status"] == "refused"
    assert [r["account_id"] for r in alice("GET", f"credit-reports/{rid}/refunds").json()] == [
        "big"
    ]
    own = alice("POST", f"credit-reports/{rid}/approval")
    assert own.status_code == 422 and "four eyes" in own.json()["message"]
    approved = bob("POST", f"credit-reports/{rid}/approval")
    assert approved.status_code == 201 and approved.json()["state"] == "approved"
    assert approved.json()["approved_by"] == "api:bob-bot"

    # Applying: queued to a worker (here not run); the items wait, the unmapped one is skipped.
    settings.HELIOGRAPH_STRIPE_API_KEY = "sk_test_not_sent"
    started = bob("POST", f"credit-reports/{rid}/application", json_body={"dry_run": False})
    assert started.status_code == 202, started.content
    assert started.json()["counts"]["pending"] == 1 and started.json()["counts"]["skipped"] == 1
    assert alice("GET", f"credit-reports/{rid}.json").json()["state"] == "applying"
    items = {
        i["account_id"]: i for i in bob("GET", f"credit-reports/{rid}/application/items").json()
    }
    assert items["acme"]["status"] == "pending" and items["acme"]["target"] == "cus_acme"
    assert items["big"]["status"] == "skipped" and "no Stripe customer id" in items["big"]["error"]
    assert items["acme"]["idempotency_key"].endswith("-acme-credit")
    reconciliation = bob("GET", f"credit-reports/{rid}/reconciliation")
    rows = list(csv.DictReader(io.StringIO(reconciliation.content.decode())))
    assert {r["account_id"]: r["status"] for r in rows} == {"acme": "pending", "big": "skipped"}
