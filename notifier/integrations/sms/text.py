"""The length of a text message, counted the way the network counts it, and notices cut to
fit it.

A message is sent in GSM-7 when every character is in the GSM 03.38 alphabet (its basic
table costs one septet a character, its extension table — `^ { } \\ [ ~ ] | €` and form feed —
two); otherwise in UCS-2, one UTF-16 code unit a character. One segment holds 160 septets or
70 code units; a longer message is split into segments of 153 septets or 67 code units (each
carries a header to rejoin them), and each segment is billed as one message. So a message is
counted, not guessed: `measure` says its encoding, its length in that encoding and its
number of segments, and `compose` builds a notification that fits the segments allowed
(`settings.HELIOGRAPH_SMS_MAX_SEGMENTS`, one by default) — typographic characters that have a
plain GSM-7 twin (curly quotes, dashes, the ellipsis, arrows) are replaced by it first, so an
English update stays GSM-7; the update's text is cut before anything else, and the link to
the update and the opt-out sentence are never cut.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

SINGLE = {"gsm7": 160, "ucs2": 70}
MULTI = {"gsm7": 153, "ucs2": 67}

# Typographic characters with a plain GSM-7 twin.
_PLAIN = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": "'",
        "′": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "″": '"',
        "–": "-",
        "—": "-",
        "‐": "-",
        "−": "-",
        "…": "...",
        "→": "->",
        "←": "<-",
        "•": "*",
        "·": "-",
        "×": "x",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\t": " ",
    }
)


@dataclass(frozen=True)
class Measure:
    encoding: str  # "gsm7" or "ucs2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def plain(text: str) -> str:
    """`text` with typographic characters replaced by their GSM-7 twins."""
    return text.translate(_PLAIN)


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text)


def measure(text: str) -> Measure:
    """The encoding a message is sent in, its length in that encoding, and its segments."""
    if is_gsm7(text):
        encoding = "gsm7"
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
    else:
        encoding = "ucs2"
        units = len(text.encode("utf-16-le")) // 2
    if units <= SINGLE[encoding]:
        segments = 1 if units else 0
    else:
        segments = -(-units // MULTI[encoding])
    return Measure(encoding, units, segments)


def capacity(encoding: str, segments: int) -> int:
    """How many units fit in `segments` segments of `encoding`."""
    return SINGLE[encoding] if segments <= 1 else MULTI[encoding] * segments


def fits(text: str, segments: int) -> bool:
    return measure(text).segments <= max(1, segments)


def _cut(text: str, keep: int, suffix: str = "...") -> str:
    """The longest start of `text` (whole characters) that with `suffix` is `keep` or fewer
    characters, ending with `suffix` when cut."""
    if keep <= len(suffix):
        return ""
    return text[: keep - len(suffix)].rstrip() + suffix


def compose(*, head: str, body: str, tail: str, segments: int = 1) -> str:
    """`head: body tail` made to fit `segments` segments: the body is cut first (ending
    with "..."), then the head; the tail (the link and the opt-out sentence) is kept whole.
    Characters are made plain first, so English text stays GSM-7."""
    head, body, tail = plain(head).strip(), plain(" ".join(body.split())), plain(tail).strip()

    def text_of(h: str, b: str) -> str:
        first = f"{h}: {b}" if h and b else h or b
        return f"{first} {tail}".strip() if first else tail

    full = text_of(head, body)
    if fits(full, segments):
        return full
    # Shrink the body one step at a time would be slow for long updates: bisect its length.
    low, high = 0, len(body)
    while low < high:
        mid = (low + high + 1) // 2
        if fits(text_of(head, _cut(body, mid)), segments):
            low = mid
        else:
            high = mid - 1
    if low > 3:
        return text_of(head, _cut(body, low))
    low, high = 0, len(head)
    while low < high:
        mid = (low + high + 1) // 2
        if fits(text_of(_cut(head, mid), ""), segments):
            low = mid
        else:
            high = mid - 1
    return text_of(_cut(head, low), "") if low > 3 else tail
