"""Languages of subscribers (issue 13): the subscribe pages in the visitor's language, the
language chosen for the messages stored and changeable, and every email and chat message in
the recipient's language — staff's translation of the update when there is one, translated
labels and status words, dates as the language writes them (still with their zone).

Real parts: the test client against the views, the delivery loop with the real clients to the
loopback SMTP and Slack sinks, the v1 API. The catalogues are compiled by `make messages`
(the brief's `compilemessages`) before the tests run.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from incidents import services as incidents
from notifier.models import Delivery, DeliveryStatus, Subscriber, SubscriberKind
from notifier.tokens import make_token
from statuspage.api.services import api_token_create
from statuspage.services import Actor

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager")]

POSTED = datetime(2026, 6, 22, 14, 5, tzinfo=UTC)


def confirmed(**fields) -> Subscriber:
    return Subscriber.objects.create(confirmed_at=timezone.now(), **fields)


def declare(capture, catalogue, actor, **kwargs):
    with capture(execute=True):
        return incidents.incident_declare(
            name=kwargs.pop("name", "Runs not starting in us-east-1"),
            body=kwargs.pop("body", "Runs are not starting."),
            actor=actor,
            impact="critical",
            component_statuses={catalogue["runs_us"]: "major_outage"},
            display_at=POSTED,
            **kwargs,
        )


def parts(mail_) -> tuple[str, str]:
    message = mail_.message
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


@pytest.mark.usefixtures("loopback")
def test_it_emails_each_subscriber_in_their_language_with_staffs_translation(
    django_capture_on_commit_callbacks, catalogue, actor, smtp
):
    confirmed(kind=SubscriberKind.EMAIL, email="grete@example.com", language="de")
    confirmed(kind=SubscriberKind.EMAIL, email="ada@example.com", language="en")

    declare(
        django_capture_on_commit_callbacks,
        catalogue,
        actor,
        translations={"de": "Läufe starten nicht. Wir **untersuchen** das."},
    )

    (german,) = smtp.to("grete@example.com")
    subject = german.message["Subject"].strip()
    assert subject == "[Heliograph] Störung: Runs not starting in us-east-1 – Untersuchung läuft"
    assert german.message["Content-Language"] == "de"
    text, html = parts(german)
    assert "Läufe starten nicht. Wir **untersuchen** das." in text
    assert "Wir <strong>untersuchen</strong> das." in html
    assert "Runs are not starting." not in text + html
    assert "Veröffentlicht am 22. Juni 2026, 14:05 UTC" in text
    assert "Veröffentlicht am 22. Juni 2026, 14:05 UTC" in html
    assert "Betroffene Komponenten:" in text
    assert "Run execution (us-east-1): Betriebsbereit → Schwerer Ausfall" in text
    assert "Auswirkung: Schwerer Ausfall" in text  # the page's word for a critical incident
    assert (
        "Einstellungen verwalten (dieser Link gilt 90 Tage): http://testserver/subscriptions/"
        in (text)
    )
    assert '<html lang="de">' in html

    (english,) = smtp.to("ada@example.com")
    assert english.message["Subject"].strip() == (
        "[Heliograph] Incident: Runs not starting in us-east-1 – Investigating"
    )
    assert english.message["Content-Language"] == "en"
    text, html = parts(english)
    assert "Runs are not starting." in text and "Läufe" not in text + html
    assert "Posted 22 Jun 2026, 14:05 UTC. Full incident:" in text
    assert "Run execution (us-east-1): Operational → Major outage" in text
    assert '<html lang="en">' in html

    # An update without a German translation: the text as staff wrote it, in German words.
    declare(
        django_capture_on_commit_callbacks,
        catalogue,
        actor,
        name="API errors",
        body="Some API calls fail.",
    )
    later = smtp.to("grete@example.com")[1]
    assert later.message["Subject"].strip().startswith("[Heliograph] Störung: API errors")
    text, _html = parts(later)
    assert "Some API calls fail." in text and "Veröffentlicht am 22. Juni 2026" in text
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}


@pytest.mark.usefixtures("loopback")
def test_a_japanese_slack_subscriber_gets_the_next_update_once_in_japanese(
    django_capture_on_commit_callbacks, catalogue, actor, sink
):
    subscriber = confirmed(
        kind=SubscriberKind.SLACK, url=f"{sink.url}/services/T0/B0/ja", language="ja"
    )

    declare(django_capture_on_commit_callbacks, catalogue, actor)

    (request,) = sink.requests_to("/services/T0/B0/ja")
    body = request.json()
    assert body["blocks"][0]["text"]["text"] == "[調査中] Runs not starting in us-east-1"
    flat = json.dumps(body["blocks"], ensure_ascii=False)
    assert "*ステータス*\\n調査中" in flat and "*影響度*\\n大規模停止" in flat
    assert "*影響を受けるコンポーネント*" in flat
    assert "2026年6月22日 14:05 UTC 投稿" in flat
    assert "|Heliograph で見る>" in flat
    assert "|登録内容を管理>" in flat and "|配信停止>" in flat
    assert "Runs are not starting." in body["text"]
    assert "影響範囲: Run execution (us-east-1): 正常稼働 → 大規模停止" in body["text"]
    delivery = Delivery.objects.get(subscriber=subscriber)
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 1


def test_the_subscribe_page_speaks_the_visitors_language(client):
    response = client.get("/subscribe/", HTTP_ACCEPT_LANGUAGE="fr;q=0.5, de-DE;q=0.9, en;q=0.1")
    page = response.content.decode()
    assert response.status_code == 200
    assert "Accept-Language" in response["Vary"]
    assert '<html lang="de">' in page
    assert "Statusmeldungen von Heliograph erhalten" in page
    assert "Sprache Ihrer Nachrichten" in page
    assert '<option value="de" selected>Deutsch</option>' in page
    # The switcher: every language under its own address, each named in itself.
    assert '<a href="/ja/subscribe/" lang="ja" hreflang="ja">日本語</a>' in page
    assert 'href="/de/subscribe/" lang="de" hreflang="de" aria-current="true">Deutsch' in page
    assert 'action="/subscribe/"' in page

    english = client.get("/subscribe/").content.decode()
    assert '<html lang="en">' in english and "Get Heliograph status updates" in english

    response = client.get("/de/subscribe/", HTTP_ACCEPT_LANGUAGE="ja")
    page = response.content.decode()
    assert '<html lang="de">' in page and "Statusmeldungen von Heliograph erhalten" in page
    assert "Accept-Language" not in response.get("Vary", "")
    assert 'action="/de/subscribe/"' in page
    assert "通知の言語" in client.get("/ja/subscribe/").content.decode()
    english = client.get("/en/subscribe/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Get Heliograph status updates" in english
    assert client.get("/xx/subscribe/").status_code == 404


@pytest.mark.usefixtures("loopback")
def test_the_chosen_language_is_stored_and_the_confirmation_is_written_in_it(
    client, django_capture_on_commit_callbacks, catalogue, smtp, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/de/subscribe/",
            {"kind": "email", "scope": "all", "email": "kenji@example.com", "language": "ja"},
        )
    assert response.status_code == 200
    assert "Sehen Sie in Ihrem Posteingang nach" in response.content.decode()
    subscriber = Subscriber.objects.get(email="kenji@example.com")
    assert subscriber.language == "ja"
    (message,) = mail.outbox
    assert message.subject == "[Heliograph] 登録の確認"
    assert message.extra_headers["Content-Language"] == "ja"
    assert "24時間以内に次のリンクを開いて確認してください:" in message.body

    # Without a choice: the page's language. Errors in it too.
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/de/subscribe/", {"kind": "email", "scope": "all", "email": "g@example.com"})
    assert Subscriber.objects.get(email="g@example.com").language == "de"
    response = client.post("/de/subscribe/", {"kind": "email", "scope": "all", "email": "nope"})
    assert response.status_code == 400
    assert "„nope“ ist keine gültige E-Mail-Adresse." in response.content.decode()


def test_the_pages_of_a_subscription_are_in_its_language_and_manage_changes_it(client):
    subscriber = confirmed(kind=SubscriberKind.EMAIL, email="ada@example.com", language="en")
    manage = f"/subscriptions/{make_token('manage', subscriber.public_id)}/"
    page = client.get(manage).content.decode()
    assert '<html lang="en">' in page and "Your subscription" in page
    assert '<option value="en" selected>English</option>' in page

    response = client.post(manage, {"scope": "all", "language": "de"}, follow=True)
    subscriber.refresh_from_db()
    assert subscriber.language == "de"
    page = response.content.decode()
    assert '<html lang="de">' in page and "Ihr Abonnement" in page
    assert "Ihre Einstellungen sind gespeichert." in page
    assert "erhält: alles." in page

    unsubscribe = f"/subscriptions/{make_token('unsubscribe', subscriber.public_id)}/unsubscribe/"
    page = client.get(unsubscribe).content.decode()
    assert "Keine Statusmeldungen von Heliograph mehr an <strong>ada@example.com</strong>" in page
    page = client.post(unsubscribe).content.decode()
    assert "Ada@example.com erhält keine Meldungen von Heliograph mehr." in page

    # A subscriber's scope can change without a language: it stays.
    client.post(manage, {"scope": "all"})
    subscriber.refresh_from_db()
    assert subscriber.language == "de"


def test_the_api_reads_and_sets_languages_and_refuses_one_the_page_does_not_speak(client):
    _, token = api_token_create(name="bot", scopes=None, actor=Actor.system("test"))
    auth = {"HTTP_AUTHORIZATION": f"OAuth {token}", "content_type": "application/json"}
    base = f"/v1/pages/{settings.PAGE_ID}"

    def call(method, path, body=None):
        data = json.dumps(body) if body is not None else None
        return getattr(client, method)(f"{base}/{path}", data=data, **auth)

    response = call(
        "post",
        "subscribers",
        {"subscriber": {"email": "ana@example.com", "language": "pt-BR"}},
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["language"] == "pt-br"
    assert Subscriber.objects.get(public_id=created["id"]).language == "pt-br"

    response = call("patch", f"subscribers/{created['id']}", {"subscriber": {"language": "ja"}})
    assert response.status_code == 200 and response.json()["language"] == "ja"
    assert call("get", f"subscribers/{created['id']}").json()["language"] == "ja"

    response = call(
        "post", "subscribers", {"subscriber": {"email": "x@example.com", "language": "xx"}}
    )
    assert response.status_code == 422
    error = response.json()
    assert "language" in error["errors"]
    assert "en, de, fr, es, pt-br, ja" in error["errors"]["language"]
    assert not Subscriber.objects.filter(email="x@example.com").exists()
    response = call("patch", f"subscribers/{created['id']}", {"subscriber": {"language": "xx"}})
    assert response.status_code == 422 and "language" in response.json()["errors"]

    response = call(
        "post",
        "channels",
        {
            "channel": {
                "kind": "slack",
                "name": "ops-de",
                "url": "https://hooks.slack.com/services/T0/B0/de",
                "language": "de",
            }
        },
    )
    assert response.status_code == 201, response.content
    channel = response.json()
    assert channel["language"] == "de"
    response = call("patch", f"channels/{channel['id']}", {"channel": {"language": "fr"}})
    assert response.json()["language"] == "fr"
