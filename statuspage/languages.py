"""The languages of the public site, its emails and chat messages: the one owner of which
languages there are, how a visitor's language is chosen and how a page's address carries it.

English is the source language and the default. Every other language has its own stable
addresses under a prefix (`/de/`, `/de/history`, `/de/incidents/<id>`, `/de/subscribe/`), and
English has `/en/…` too, so that a visitor who chose English from the switcher stays in
English whatever their browser prefers. The addresses without a prefix (`/`, `/history`,
`/incidents/<id>`, what links in older emails point at) follow `Accept-Language`: English is
served there, any other language is a redirect to its prefix.

Nothing here touches the database or Django's translation machinery, so the settings can read
`LANGUAGES` from it.
"""

from __future__ import annotations

DEFAULT = "en"

# (code, name in its own language): the switcher shows each name in its own language, so a
# reader finds theirs whatever the page's language is. Codes are Django's (lower case).
LANGUAGES: list[tuple[str, str]] = [
    ("en", "English"),
    ("de", "Deutsch"),
    ("fr", "Français"),
    ("es", "Español"),
    ("pt-br", "Português (Brasil)"),
    ("ja", "日本語"),
]
CODES: list[str] = [code for code, _name in LANGUAGES]
NAMES: dict[str, str] = dict(LANGUAGES)

# How each language writes a date and time (Django's `date` format characters; month and day
# names come from Django's own catalogues). The zone is always written after the time.
DATE_FORMATS: dict[str, dict[str, str]] = {
    "en": {
        "day": "j M",
        "datetime": "j M Y, H:i",
        "short": "j M, H:i",
        "date": "j M Y",
        "month": "F Y",
    },
    "de": {
        "day": "j. M",
        "datetime": "j. F Y, H:i",
        "short": "j. M, H:i",
        "date": "j. F Y",
        "month": "F Y",
    },
    "fr": {
        "day": "j F",
        "datetime": "j F Y, H:i",
        "short": "j F, H:i",
        "date": "j F Y",
        "month": "F Y",
    },
    "es": {
        "day": "j M",
        "datetime": "j \\d\\e F \\d\\e Y, H:i",
        "short": "j \\d\\e F, H:i",
        "date": "j \\d\\e F \\d\\e Y",
        "month": "F \\d\\e Y",
    },
    "pt-br": {
        "day": "j M",
        "datetime": "j \\d\\e F \\d\\e Y, H:i",
        "short": "j \\d\\e F, H:i",
        "date": "j \\d\\e F \\d\\e Y",
        "month": "F \\d\\e Y",
    },
    "ja": {
        "day": "n月j日",
        "datetime": "Y年n月j日 H:i",
        "short": "n月j日 H:i",
        "date": "Y年n月j日",
        "month": "Y年n月",
    },
}


def language_normalize(code: str | None) -> str | None:
    """`pt-BR`, `pt_br` → `pt-br`; `de-AT` → `de`; `pt` → `pt-br`. None when the language is
    not one of ours."""
    if not code:
        return None
    code = code.strip().lower().replace("_", "-")
    if code in NAMES:
        return code
    base = code.split("-")[0]
    if base in NAMES:
        return base
    for known in CODES:  # `pt` and `pt-pt` read Brazilian Portuguese rather than English
        if known.split("-")[0] == base:
            return known
    return None


def language_from_accept(header: str | None) -> str:
    """The best of our languages for an `Accept-Language` header (RFC 9110 §12.5.4: by
    quality, then order); English when none of them is acceptable or there is no header."""
    if not header:
        return DEFAULT
    choices: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:50]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        tag = tag.strip()
        if quality <= 0 or not tag:
            continue
        if tag == "*":
            choices.append((quality, position, DEFAULT))
            continue
        code = language_normalize(tag)
        if code is not None:
            choices.append((quality, position, code))
    if not choices:
        return DEFAULT
    return max(choices, key=lambda c: (c[0], -c[1]))[2]


def language_prefix(code: str) -> str:
    """The path prefix of a language's addresses: `/de`."""
    return f"/{code}"


def language_path(code: str | None, path: str) -> str:
    """The address of `path` (an address without prefix, `/history`) in a language; with
    `code` None, the address without prefix (the one that follows Accept-Language)."""
    if code is None:
        return path
    return language_prefix(code) + (path if path != "/" else "/")


def language_split(path: str) -> tuple[str | None, str]:
    """`/de/history` → ("de", "/history"); `/de` and `/de/` → ("de", "/"); `/history` →
    (None, "/history")."""
    head, _, rest = path.lstrip("/").partition("/")
    if head in NAMES:
        return head, "/" + rest
    return None, path
