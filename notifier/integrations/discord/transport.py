"""Discord: a webhook, sent with discord.py's `SyncWebhook`.

`SyncWebhook.partial(id, token, session=…)` rather than `from_url`, which only accepts
discord.com URLs; the API base comes from `settings.HELIOGRAPH_DISCORD_API_URL` (set on
`discord.http.Route.BASE`, a class attribute) so tests can point it at loopback. The
channel's URL is checked again before each send (`check_target`), and the session is
`notifier.outgoing`'s: connections only to allowed addresses, no redirects (a 3xx is a
permanent error), no proxy.

One embed per update, coloured by status, within Discord's limits (title 256, description
4096, field value 1024, footer 2048, 6000 characters in all); a longer update is cut and
ends with a link to the full update.
"""

from __future__ import annotations

import threading

import discord
import requests
from discord.http import Route
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

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
from notifier.validators import DISCORD, discord_webhook_parts

MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_TOTAL = 6000
PERMANENT_STATUS = {401, 403, 404}

_local = threading.local()


def _session() -> requests.Session:
    """One session per thread, so connections to Discord are kept alive between sends."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = outgoing.session()
    return session


def build_embed(notice: Notice, links: tuple[Link, ...] = ()) -> discord.Embed:
    """One embed; the recipient's links (`message_links`: the notice's own, then a
    subscriber's manage and unsubscribe links) end its description, never cut. Its words are
    in the active language (the transport makes it the notice's); Discord shows the
    timestamp in the reader's own zone and language."""
    title = truncate(notice.headline, MAX_TITLE)
    fields: list[tuple[str, str, bool]] = [(_("Status"), notice.status_label, True)]
    if notice.impact:
        fields.append((_("Impact"), notice.impact_label, True))
    if notice.affected:
        more = "\n… [" + _("all components") + f"]({notice.url})"
        affected = truncate(notice.affected_text(), MAX_FIELD_VALUE, suffix=more)
        fields.append((_("Affected components"), affected, False))
    footer = truncate(settings.SITE_NAME, MAX_FOOTER)
    tail = " · ".join(f"[{link.label}]({link.url})" for link in links)
    tail = f"\n\n{tail}" if tail else ""
    used = len(title) + len(footer) + sum(len(n) + len(v) for n, v, _inline in fields)
    limit = min(MAX_DESCRIPTION, MAX_TOTAL - used) - len(tail)
    more = "… [" + _("Read the full update") + f"]({notice.url})"
    description = truncate(notice.body, limit, suffix=more)
    description += tail
    embed = discord.Embed(
        title=title,
        url=notice.url,
        description=description,
        colour=notice.colour,
        timestamp=notice.created_at,
    )
    for name, value, inline in fields:
        embed.add_field(name=name, value=value, inline=inline)
    embed.set_footer(text=footer)
    return embed


def embed_length(embed: discord.Embed) -> int:
    """Characters Discord counts against the 6000 limit."""
    return len(embed)


class DiscordTransport(Transport):
    def send(self, notice: Notice) -> SendResult:
        url = check_target_now(self.recipient.url, kind=DISCORD)
        webhook_id, token = discord_webhook_parts(url)
        Route.BASE = settings.HELIOGRAPH_DISCORD_API_URL.rstrip("/")
        webhook = discord.SyncWebhook.partial(webhook_id, token, session=_session())
        try:
            with translation.override(notice.language):
                embed = build_embed(notice, message_links(notice, self.recipient))
            message = webhook.send(
                embed=embed,
                username=truncate(settings.SITE_NAME, 80),
                allowed_mentions=discord.AllowedMentions.none(),
                wait=True,
            )
        except discord.HTTPException as exc:
            code = exc.status
            if is_redirect(code):
                raise redirect_error("Discord", code) from exc
            if code == 429:
                data = exc.response.headers if exc.response is not None else {}
                retry_after = parse_retry_after(data.get("Retry-After"))
                try:
                    retry_after = parse_retry_after(
                        exc.response.json().get("retry_after"), retry_after
                    )
                except (ValueError, AttributeError):
                    pass
                raise TransportError(
                    f"Discord rate limit: retry after {retry_after:g} s",
                    retry_after=retry_after,
                    status_code=429,
                ) from exc
            raise TransportError(
                f"Discord answered {code}: {exc.text or exc.__class__.__name__}",
                permanent=code in PERMANENT_STATUS,
                status_code=code,
            ) from exc
        except (requests.RequestException, OSError) as exc:
            raise unreachable(f"Discord unreachable: {exc}", exc) from exc
        return SendResult(status_code=200, detail=str(message.id))
