"""SMS through Twilio's official client (`twilio.rest.Client` with its base URL pointed at the
loopback sink, which checks the account's Basic auth and answers like the Messages API):
the text counted as the network counts it, numbers in E.164, double opt-in by a texted code,
STOP through the signed inbound webhook, the per-number rate limit, and SMS off unless
configured."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from notifier_helpers import PHONES, SMS_FROM, TWILIO_SID, TWILIO_TOKEN
from sinks import Answer
from twilio.request_validator import RequestValidator

from incidents import services as incidents
from notifier import services
from notifier.integrations import transport_for
from notifier.integrations.sms import ratelimit
from notifier.integrations.sms.text import compose, measure
from notifier.integrations.sms.transport import build_text
from notifier.messages import notice_for_event, notice_for_test
from notifier.models import Delivery, DeliveryStatus, Subscriber, SubscriberKind
from notifier.tokens import sms_code
from notifier.transports import TransportError
from notifier.validators import check_target, normalize_phone
from statuspage.services import component_set_status

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager")]

PHONE = PHONES[0]


def sms_subscriber(phone: str = PHONE, **kwargs) -> Subscriber:
    return Subscriber.objects.create(
        kind=SubscriberKind.SMS, phone=phone, confirmed_at=timezone.now(), **kwargs
    )


def declare(capture, catalogue, actor, *, name="Runs not starting in us-east-1", **kwargs):
    with capture(execute=True):
        return incidents.incident_declare(
            name=name,
            body=kwargs.pop("body", "We are investigating runs that do not start in us-east-1."),
            actor=actor,
            impact="critical",
            component_statuses={catalogue["runs_us"]: "major_outage"},
            **kwargs,
        )


# --- Counting text --------------------------------------------------------------------------


def test_gsm7_text_counts_septets_and_extended_characters_twice():
    assert (measure("a" * 160).encoding, measure("a" * 160).segments) == ("gsm7", 1)
    assert measure("a" * 161).segments == 2  # 153 per segment once split
    assert measure("a" * 306).segments == 2
    assert measure("a" * 307).segments == 3
    assert measure("€" * 80).units == 160 and measure("€" * 80).segments == 1
    assert measure("[" * 81).segments == 2
    assert measure("Ça coûte 5 € à Zürich").encoding == "ucs2"  # û is not GSM-7
    assert measure("Ça va à Zürich ÄÖÜ ñ").encoding == "gsm7"


def test_ucs2_text_counts_code_units_and_splits_at_67():
    assert (measure("障" * 70).encoding, measure("障" * 70).segments) == ("ucs2", 1)
    assert measure("障" * 71).segments == 2
    assert measure("😀" * 35).units == 70  # outside the BMP: two code units each


def test_a_long_update_is_cut_to_one_segment_keeping_the_link_and_stop():
    url = "https://status.example.com/incidents/abcdefgh1234"
    text = compose(
        head="[Investigating] Runs not starting in us-east-1",
        body="We are “investigating” runs — " + "that do not start " * 40,
        tail=f"{url} Reply STOP to end",
    )
    assert measure(text).encoding == "gsm7"  # the curly quotes and dash were made plain
    assert measure(text).units <= 160
    assert text.startswith('[Investigating] Runs not starting in us-east-1: We are "investigating"')
    assert text.endswith(f"... {url} Reply STOP to end")


def test_two_segments_when_allowed_and_ucs2_when_it_must():
    body = "Läuft nicht " * 30
    two = compose(
        head="[Identified] Runs", body=body, tail="https://x.example/i/1 STOP", segments=2
    )
    assert 160 < measure(two).units <= 306
    japanese = compose(
        head="[調査中] 実行", body="実行が開始されません。" * 20, tail="https://x.example/i/1"
    )
    assert measure(japanese).encoding == "ucs2" and measure(japanese).units <= 70
    assert japanese.endswith("https://x.example/i/1")


# --- Phone numbers ------------------------------------------------------------------------


def test_numbers_are_stored_in_e164():
    assert normalize_phone("+49 151 1234 5678") == "+4915112345678"
    assert normalize_phone("0151 12345678", region="de") == "+4915112345678"
    assert normalize_phone("+81 90-1234-5678") == "+819012345678"


@pytest.mark.parametrize(
    "number, reason",
    [
        ("", "required"),
        ("0151 12345678", "country code"),
        ("+49 151", "not a valid"),
        ("+44 20 7183 8750", "not a mobile"),  # a London fixed line
        ("+1 800 555 1234", "not a mobile"),  # toll free
        ("call me", "not a phone number"),
    ],
)
def test_it_refuses_numbers_that_cannot_take_a_text(number, reason):
    with pytest.raises(ValidationError) as raised:
        normalize_phone(number)
    assert reason in raised.value.messages[0]


# --- Sending ---------------------------------------------------------------------------


def test_an_update_is_texted_through_twilios_client(
    django_capture_on_commit_callbacks, catalogue, actor, sms
):
    subscriber = sms_subscriber()

    incident = declare(django_capture_on_commit_callbacks, catalogue, actor)

    delivery = Delivery.objects.get(update=incident.updates.get())
    assert (delivery.medium, delivery.status, delivery.response_code) == ("sms", "sent", 201)
    (request,) = sms.requests_to("/2010-04-01/")
    assert request.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    assert request.headers["User-Agent"].startswith("twilio-python/")
    form = request.form()
    assert (form["To"], form["From"]) == (PHONE, SMS_FROM)
    body = form["Body"]
    assert body.startswith("[Investigating] Runs not starting in us-east-1: We are investigating")
    assert body.endswith(f"http://testserver/incidents/{incident.public_id} Reply STOP to end")
    assert measure(body).encoding == "gsm7" and measure(body).units <= 160
    subscriber.refresh_from_db()
    assert subscriber.last_success_at is not None


def test_a_messaging_service_is_named_as_such(settings, sms):
    settings.HELIOGRAPH_SMS_FROM = "MG" + "0" * 32
    transport_for(sms_subscriber()).send(notice_for_test_like())
    form = sms.texts()[0]
    assert form["MessagingServiceSid"] == "MG" + "0" * 32 and "From" not in form


def notice_for_test_like():
    return notice_for_test("sms")


@pytest.mark.parametrize("code", [21211, 21610, 21614])
def test_a_number_twilio_will_never_text_is_permanent(code, sms):
    subscriber = sms_subscriber()
    sms.script("/2010-04-01/", Answer(400, {"code": code, "message": "no", "status": 400}))
    with pytest.raises(TransportError) as raised:
        transport_for(subscriber).send(notice_for_test_like())
    assert raised.value.permanent
    assert f"(error {code})" in raised.value.message


@pytest.mark.parametrize(
    "answer",
    [
        Answer(401, {"code": 20003, "message": "Authenticate", "status": 401}),
        Answer(429, {"code": 20429, "message": "Too Many Requests", "status": 429}),
        Answer(500, {"code": 20500, "message": "Internal Server Error", "status": 500}),
        Answer(302, "", headers={"Location": "http://127.0.0.1:1/"}),
    ],
)
def test_account_and_server_errors_are_retried_and_never_break_the_subscriber(answer, sms):
    subscriber = sms_subscriber()
    sms.script("/2010-04-01/", answer)
    with pytest.raises(TransportError) as raised:
        transport_for(subscriber).send(notice_for_test_like())
    assert not raised.value.permanent
    assert raised.value.status_code == answer.status


def test_wrong_credentials_reach_the_sink_as_basic_auth_and_are_refused(settings, sms):
    settings.TWILIO_AUTH_TOKEN = "not-the-token"
    with pytest.raises(TransportError) as raised:
        transport_for(sms_subscriber()).send(notice_for_test_like())
    assert raised.value.status_code == 401 and "20003" in raised.value.message


def test_a_number_past_its_hourly_limit_waits_for_the_next_hour(
    settings, django_capture_on_commit_callbacks, catalogue, actor, sms
):
    settings.HELIOGRAPH_SMS_RATE_LIMIT = 2
    sms_subscriber()
    for n in range(3):
        declare(django_capture_on_commit_callbacks, catalogue, actor, name=f"Incident {n}")

    rows = list(Delivery.objects.order_by("id"))
    assert [d.status for d in rows] == ["sent", "sent", "failed"]
    assert "per-number limit" in rows[2].last_error
    wait = (rows[2].next_attempt_at - rows[2].updated_at).total_seconds()
    assert 0 < wait <= ratelimit.WINDOW
    assert len(sms.texts()) == 2
    assert Subscriber.objects.get().broken_at is None


def test_sms_is_off_unless_configured(settings, client, db, loopback):
    settings.TWILIO_ACCOUNT_SID = ""
    page = client.get("/subscribe/").content.decode()
    assert 'value="sms"' not in page
    with pytest.raises(ValidationError) as raised:
        services.subscriber_subscribe(kind="sms", phone=PHONE)
    assert "not configured" in raised.value.message_dict["kind"][0]
    with pytest.raises(TransportError):
        transport_for(Subscriber(kind="sms", phone=PHONE)).send(notice_for_test_like())
    assert client.post("/sms/inbound/", {"From": PHONE, "Body": "STOP"}).status_code == 404


def test_the_api_base_must_be_twilios_own_host_in_production(settings, sms):
    settings.HELIOGRAPH_ALLOW_PRIVATE_TARGETS = False
    with pytest.raises(TransportError) as raised:  # the sink's loopback URL is refused
        transport_for(sms_subscriber()).send(notice_for_test_like())
    assert "HELIOGRAPH_TWILIO_API_URL" in raised.value.message and not raised.value.permanent
    assert sms.texts() == []
    assert check_target("https://api.twilio.com", kind="twilio") == "https://api.twilio.com"
    for url in ("http://api.twilio.com", "https://api.twilio.com:8443", "https://twilio.example"):
        with pytest.raises(ValidationError):
            check_target(url, kind="twilio")


# --- Double opt-in by code -----------------------------------------------------------------


@pytest.fixture
def subscribe_by_sms(client, django_capture_on_commit_callbacks):
    """POST /subscribe/ for a number, running what it queues after commit (the code text)."""

    def post(phone: str = "+49 151 1234 5678"):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                reverse("notifier:subscribe"), {"kind": "sms", "phone": phone, "scope": "all"}
            )

    return post


def test_a_number_confirms_with_the_code_it_was_texted(client, sms, subscribe_by_sms):
    page = subscribe_by_sms()

    assert page.status_code == 200
    assert "Type the code we texted you" in page.content.decode()
    subscriber = Subscriber.objects.get()
    assert (subscriber.kind, subscriber.phone, subscriber.confirmed_at) == ("sms", PHONE, None)
    (text,) = sms.texts()
    code = sms_code(subscriber.public_id, subscriber.requested_at)
    assert text["To"] == PHONE and text["Body"].startswith(f"{code} is your ")
    assert "Reply STOP to end" in text["Body"] and measure(text["Body"]).units <= 160

    confirmed = client.post(reverse("notifier:confirm_code"), {"phone": PHONE, "code": code})

    assert "Subscription confirmed" in confirmed.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is not None


def test_nothing_is_texted_before_the_code_is_typed(
    django_capture_on_commit_callbacks, client, catalogue, actor, sms, subscribe_by_sms
):
    subscribe_by_sms()
    declare(django_capture_on_commit_callbacks, catalogue, actor)
    assert len(sms.texts()) == 1  # the code only
    assert not Delivery.objects.exists()


def test_wrong_codes_are_counted_and_five_spend_the_request(client, sms, subscribe_by_sms):
    subscribe_by_sms()
    subscriber = Subscriber.objects.get()
    right = sms_code(subscriber.public_id, subscriber.requested_at)
    wrong = str((int(right) + 1) % 1_000_000).zfill(6)
    for _ in range(services.SMS_CODE_ATTEMPTS):
        page = client.post(reverse("notifier:confirm_code"), {"phone": PHONE, "code": wrong})
        assert page.status_code == 400 and "That code is not right" in page.content.decode()
    page = client.post(reverse("notifier:confirm_code"), {"phone": PHONE, "code": right})
    assert "Too many wrong codes" in page.content.decode()
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is None and subscriber.code_attempts == 5

    subscribe_by_sms()  # a new request: a new code, all its tries
    subscriber.refresh_from_db()
    new = sms_code(subscriber.public_id, subscriber.requested_at)
    assert new != right and subscriber.code_attempts == 0
    services.subscriber_confirm_code(phone=PHONE, code=new)
    assert Subscriber.objects.get().confirmed_at is not None


def test_an_unknown_or_confirmed_number_gets_the_same_refusal(client, sms):
    with pytest.raises(ValidationError) as unknown:
        services.subscriber_confirm_code(phone=PHONES[1], code="123456")
    subscriber = sms_subscriber(PHONES[2])
    with pytest.raises(ValidationError) as confirmed:
        services.subscriber_confirm_code(
            phone=PHONES[2], code=sms_code(subscriber.public_id, subscriber.requested_at)
        )
    assert unknown.value.message_dict == confirmed.value.message_dict


def test_a_subscribed_number_is_told_so_and_keeps_its_preferences(
    client, sms, catalogue, subscribe_by_sms
):
    sms_subscriber(scope="regions").regions.set([catalogue["eu"]])
    page = subscribe_by_sms()
    assert "Type the code we texted you" in page.content.decode()  # the same answer
    (text,) = sms.texts()
    assert "already receives" in text["Body"]
    subscriber = Subscriber.objects.get()
    assert subscriber.scope == "regions" and subscriber.is_active


def test_codes_per_number_are_limited(settings, client, sms, subscribe_by_sms):
    settings.HELIOGRAPH_SMS_CODE_LIMIT = 2
    for _ in range(2):
        assert subscribe_by_sms().status_code == 200
    refused = subscribe_by_sms()
    assert refused.status_code == 400
    assert "Too many codes were sent to this number" in refused.content.decode()
    assert len(sms.texts()) == 2


def test_a_bad_number_is_refused_on_the_form_and_nothing_is_written(client, sms, subscribe_by_sms):
    page = subscribe_by_sms(phone="+44 20 7183 8750")
    assert page.status_code == 400 and "not a mobile number" in page.content.decode()
    assert not Subscriber.objects.exists() and sms.texts() == []


# --- STOP -----------------------------------------------------------------------------------


def inbound(client, params: dict, *, token: str = TWILIO_TOKEN):
    url = "http://testserver/sms/inbound/"
    signature = RequestValidator(token).compute_signature(url, params)
    return client.post("/sms/inbound/", params, HTTP_X_TWILIO_SIGNATURE=signature)


def test_stop_unsubscribes_the_number_and_skips_what_is_queued(client, sms):
    subscriber = sms_subscriber()
    queued = Delivery.objects.create(
        event_key="u1",
        recipient_key=f"s{subscriber.pk}",
        medium="sms",
        subscriber=subscriber,
        next_attempt_at=timezone.now(),
    )
    answer = inbound(client, {"From": PHONE, "To": SMS_FROM, "Body": " Stop ", "MessageSid": "SM1"})

    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/xml")
    assert answer.content.decode().strip().endswith("<Response />")
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is not None
    queued.refresh_from_db()
    assert queued.status == DeliveryStatus.SKIPPED


def test_start_is_answered_with_the_way_back(client, sms):
    answer = inbound(client, {"From": PHONE, "To": SMS_FROM, "Body": "START"})
    assert "http://testserver/subscribe/" in answer.content.decode()


def test_an_inbound_text_without_twilios_signature_is_refused(client, sms):
    subscriber = sms_subscriber()
    forged = inbound(client, {"From": PHONE, "Body": "STOP"}, token="someone-else")
    unsigned = client.post("/sms/inbound/", {"From": PHONE, "Body": "STOP"})
    assert (forged.status_code, unsigned.status_code) == (403, 403)
    subscriber.refresh_from_db()
    assert subscriber.unsubscribed_at is None


def test_build_text_of_a_component_change(catalogue, actor, sms):
    change = component_set_status(
        component=catalogue["api_global"], status="degraded_performance", actor=actor
    )
    text = build_text(notice_for_event(f"c{change.pk}"))
    assert text.startswith("[Degraded performance] API: API changed from Operational to Degraded")
    assert text.endswith("http://testserver/ Reply STOP to end")
