"""Slack: an incoming webhook (`slack_sdk.webhook.WebhookClient`) or a bot token
(`slack_sdk.WebClient.chat_postMessage`, which lets the updates of one incident go into one
thread under its first message).

Messages are Block Kit with a plain-text fallback (`text`), within Slack's limits: at most 50
blocks and 3000 characters per section text; a longer update is cut and ends with a link to
the full update.

slack_sdk sends with `urllib.request.urlopen`, whose default opener follows redirects and
honours proxy variables. Both clients here are slack_sdk's with one method replaced, the one
that opens the request (`_perform_http_request_internal` of `WebhookClient`,
`_perform_urllib_http_request_internal` of `WebClient`): it opens it with
`notifier.outgoing.opener()` instead — connections only to allowed addresses, no redirect (a
3xx comes back as an `HTTPError`, which slack_sdk turns into a response with that status, and
is then a permanent error here), no proxy. Everything else (headers, retries on 429 and lost
connections, parsing) stays slack_sdk's. The incoming-webhook URL is checked again before
each send (`check_target`). `tests/notifier/test_notifier_ssrf.py` fails if a slack_sdk
upgrade renames those methods (the redirect would be followed again).
"""

from __future__ import annotations

import re
from urllib.error import URLError
from urllib.request import Request

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient, WebhookResponse

from notifier import outgoing
from notifier.messages import Link, Notice, message_links
from notifier.transports import (
    SendResult,
    Transport,
    TransportError,
    check_target_now,
    is_redirect,
    parse_retry_after,
    redirect_error,
    truncate,
    unreachable,
)
from notifier.validators import SLACK
from statuspage.templatetags.locale_dates import when

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_TEXT = 3000
TIMEOUT = 10

# Errors after which the channel will not work again until someone fixes it.
PERMANENT_ERRORS = {
    "channel_not_found",
    "channel_is_archived",
    "is_archived",
    "action_prohibited",
    "invalid_token",
    "invalid_auth",
    "not_authed",
    "token_revoked",
    "token_expired",
    "account_inactive",
    "not_in_channel",
    "no_service",
    "no_service_id",
    "no_team",
    "team_disabled",
    "team_not_found",
    "user_not_found",
    "org_login_required",
}
PERMANENT_STATUS = {403, 404, 410}


def _escape(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_HEADING = re.compile(r"^#{1,6}\s+(.+)$", re.MULTILINE)


def to_mrkdwn(markdown: str) -> str:
    """The update's Markdown in Slack's mrkdwn: **bold** → *bold*, [text](url) → <url|text>,
    headings → bold lines; &, < and > escaped. Lists, code and italics read the same."""
    text = _escape(markdown)
    text = _LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1)}>", text)
    text = _BOLD.sub(lambda m: f"*{m.group(2)}*", text)
    return _HEADING.sub(lambda m: f"*{m.group(1)}*", text)


def _section(text: str, url: str) -> dict:
    more = f"… <{url}|{_escape(_('Read the full update'))}>"
    if len(text) > MAX_SECTION:
        text = truncate(text, MAX_SECTION, suffix=more)
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _mrkdwn_links(links: tuple[Link, ...] | list[Link]) -> str:
    return " · ".join(f"<{link.url}|{_escape(link.label)}>" for link in links)


def build_blocks(notice: Notice, links: tuple[Link, ...] = ()) -> list[dict]:
    """Block Kit blocks: header, status/impact fields, affected components, the update text,
    the notice's own links (e.g. "Confirm subscription"), and a context line with the link to
    the page and the recipient's links (`message_links`: a subscriber's manage and
    unsubscribe links); never more than 50 blocks or 3000 characters per section. Its words
    and the date are in the active language (the transport makes it the notice's)."""
    own, personal = links[: len(notice.actions)], links[len(notice.actions) :]
    blocks: list[dict] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(notice.headline, MAX_HEADER)},
        }
    ]
    fields = [{"type": "mrkdwn", "text": f"*{_('Status')}*\n{notice.status_label}"}]
    if notice.impact:
        fields.append({"type": "mrkdwn", "text": f"*{_('Impact')}*\n{notice.impact_label}"})
    blocks.append({"type": "section", "fields": fields})
    if notice.affected:
        lines = "\n".join(f"• {_escape(c.describe())}" for c in notice.affected)
        blocks.append(_section(f"*{_('Affected components')}*\n{lines}", notice.url))
    if notice.body:
        blocks.append(_section(to_mrkdwn(notice.body), notice.url))
    if own:
        text = " · ".join(f"*<{link.url}|{_escape(link.label)}>*" for link in own)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    view = Link(_("View on %(site)s") % {"site": settings.SITE_NAME}, notice.url)
    posted = _("Posted %(when)s UTC") % {"when": when(notice.created_at)}
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"{_escape(posted)} · {_mrkdwn_links([view, *personal])}",
                }
            ],
        }
    )
    return blocks[:MAX_BLOCKS]


def build_text(notice: Notice) -> str:
    """The plain-text fallback (notifications, screen readers, clients without blocks); it
    carries the notice's own links (a confirmation's link works from the notification)."""
    parts = [notice.headline]
    if notice.affected:
        affected = "; ".join(c.describe() for c in notice.affected)
        parts.append(_("Affected: %(components)s") % {"components": affected})
    parts.append(notice.body)
    parts.extend(f"{link.label}: {link.url}" for link in notice.actions)
    text = "\n".join(p for p in parts if p)
    suffix = "… " + _("Full update: %(url)s") % {"url": notice.url}
    if len(text) + len(notice.url) + 1 > MAX_TEXT:
        return truncate(text, MAX_TEXT, suffix=suffix)
    return f"{text}\n{notice.url}"


def _open(request: Request, ssl_context, timeout: int) -> tuple[int, object, str]:
    """Open a slack_sdk request with the checked, redirect-refusing opener: (status, headers,
    body). A refused address is raised as itself, not as the URLError slack_sdk retries."""
    try:
        with outgoing.opener(ssl_context).open(request, timeout=timeout) as response:
            charset = response.headers.get_content_charset() or "utf-8"
            return response.status, response.headers, response.read().decode(charset, "replace")
    except URLError as exc:
        refused = outgoing.refusal_in(exc)
        if refused is not None:
            raise refused from None
        raise


class CheckedWebhookClient(WebhookClient):
    """slack_sdk's incoming-webhook client, opening its requests with `_open`."""

    def _perform_http_request_internal(self, url: str, req: Request) -> WebhookResponse:
        status, headers, body = _open(req, self.ssl, self.timeout)
        return WebhookResponse(url=url, status_code=status, body=body, headers=headers)


class CheckedWebClient(WebClient):
    """slack_sdk's Web API client, opening its requests with `_open`."""

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict:
        status, headers, body = _open(req, self.ssl, self.timeout)
        return {"status": status, "headers": headers, "body": body}


def _error(code: int | None, error: str, headers: dict | None) -> TransportError:
    if is_redirect(code):
        return redirect_error("Slack", code)
    if code == 429 or error == "ratelimited":
        retry_after = parse_retry_after(
            (headers or {}).get("Retry-After") or (headers or {}).get("retry-after")
        )
        return TransportError(
            f"Slack rate limit: retry after {retry_after:g} s",
            retry_after=retry_after,
            status_code=code,
        )
    permanent = code in PERMANENT_STATUS or error in PERMANENT_ERRORS
    return TransportError(
        f"Slack answered {code}: {error or 'no body'}", permanent=permanent, status_code=code
    )


class SlackTransport(Transport):
    """A staff channel (incoming webhook or bot token) or a subscriber's own incoming
    webhook (always a webhook: `slack_token` is empty)."""

    def send(self, notice: Notice, *, thread_ts: str | None = None) -> SendResult:
        """Post the notice. With a bot token, `thread_ts` makes it a reply in a thread; the
        result's `detail` is the new message's ts."""
        recipient = self.recipient
        with translation.override(notice.language):
            links = message_links(notice, recipient)
            text, blocks = build_text(notice), build_blocks(notice, links)
        if recipient.slack_token:
            return self._post_with_bot(text, blocks, thread_ts)
        url = check_target_now(recipient.url, kind=SLACK)
        try:
            response = CheckedWebhookClient(url, timeout=TIMEOUT).send(text=text, blocks=blocks)
        except OSError as exc:
            raise unreachable(f"Slack webhook unreachable: {exc}", exc) from exc
        body = (response.body or "").strip()
        if response.status_code == 200 and body == "ok":
            return SendResult(status_code=200)
        raise _error(response.status_code, body, response.headers)

    def _post_with_bot(self, text: str, blocks: list[dict], thread_ts: str | None) -> SendResult:
        client = CheckedWebClient(
            token=self.recipient.slack_token,
            base_url=settings.HELIOGRAPH_SLACK_API_URL,
            timeout=TIMEOUT,
        )
        try:
            response = client.chat_postMessage(
                channel=self.recipient.target,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts,
                unfurl_links=False,
            )
        except SlackApiError as exc:
            data = exc.response.data if isinstance(exc.response.data, dict) else {}
            raise _error(
                exc.response.status_code, str(data.get("error", "")), exc.response.headers
            ) from exc
        except OSError as exc:
            raise unreachable(f"Slack API unreachable: {exc}", exc) from exc
        return SendResult(status_code=response.status_code, detail=str(response.get("ts", "")))
