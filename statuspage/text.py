"""The one rule for text that is stored: `clean_text`, and two read-side defences for rows
stored before the rule existed (`xml_safe`, `one_line`).

Why: a single control character in an incident name (ESC from pasted terminal output) once
made every Atom/RSS render raise, which stopped the whole publish; a newline in a name made
every email Subject a `BadHeaderError`. Text is therefore cleaned once, in the service
functions (every entry point — console, admin, v1 API, MCP, demo, commands — goes through
them), by `clean_text`:

- refused, with a `ValidationError` naming the field and the character's position: NUL,
  lone UTF-16 surrogates (``"\\ud800"``, which cannot be stored as UTF-8), every control
  character other than tab and newline (C0 ``\\x00–\\x1f``, DEL, C1 ``\\x80–\\x9f``), and the
  Unicode noncharacters (``U+FFFE``, ``U+FFFF``, …; XML 1.0 forbids the first two);
- normalised: CRLF and a lone CR become LF (a pasted Windows text is not an error);
- single-line fields (incident and maintenance names, template titles, service, region,
  group and component names, channel and token names, metric names and units, policy names,
  slugs) also refuse line breaks (``\\n``, ``\\u2028``, ``\\u2029``) and lose the spaces around
  them (as every form's strip did);
- multi-line fields (update bodies, postmortems, template bodies, descriptions, reasons):
  **ANSI escape sequences are stripped, not refused.** A commander pastes terminal output
  into an update during an incident (``\\x1b[31mERROR\\x1b[0m connection refused``); the
  colour codes carry no meaning on a status page, and refusing the paste would cost time
  on the worst day. Only complete sequences are removed (CSI ``ESC [ … final``, OSC
  ``ESC ] … BEL/ST``, DCS/SOS/PM/APC strings, two- and three-byte escapes such as
  ``ESC ( B``); an ESC that begins no sequence (at the end of the text, before a line
  break or a non-ASCII character) is refused like any control character.
  In a single-line field an ESC is refused: names are typed, not pasted from terminals.

Rows stored before this rule (v0.1 stored anything) are handled on the way out: the feeds
pass every string through `xml_safe` (XML 1.0 forbids most control characters, so a feed
could not otherwise be written), email subjects and other headers through `one_line`, and
the JSON and HTML renderers escape what remains (`json` escapes control characters;
templates escape markup).
"""

from __future__ import annotations

import re
import unicodedata
from typing import overload

from django.core.exceptions import ValidationError

# ECMA-48 escape sequences as terminals emit them.
_ANSI = (
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: ESC [ parameters intermediates final (colours, cursor)
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: ESC ] … BEL or ST (titles, hyperlinks)
    r"|\x1b[PX^_][^\x1b]*\x1b\\"  # DCS, SOS, PM, APC strings, ended by ST
    # Other escapes: ESC, intermediates, final (ESC ( B, ESC 7, ESC =). A space is not taken
    # as an intermediate: "ESC " is a stray ESC before a word, not a sequence.
    r"|\x1b[!-/]*[0-~]"
)
ANSI_SEQUENCE = re.compile(_ANSI)

_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17)
)
_SURROGATES = "\ud800-\udfff"
_CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # Cc but tab, LF (and CR: normalised first)
_LINE_BREAKS = "\n\u2028\u2029"

_BAD_BODY = re.compile(f"{_ANSI}|(?P<bad>[{_CONTROLS}{_SURROGATES}{_NONCHARACTERS}])")
_BAD_LINE = re.compile(f"(?P<bad>[{_CONTROLS}{_SURROGATES}{_NONCHARACTERS}{_LINE_BREAKS}])")

# What XML 1.0 cannot carry at all (its Char production), plus ANSI sequences whole.
_XML_FORBIDDEN = re.compile(f"{_ANSI}|[\x00-\x08\x0b\x0c\x0e-\x1f{_SURROGATES}\ufffe\uffff]")
# What a mail header (or a one-line label) must not carry: any control or line break.
_NOT_ONE_LINE = re.compile(f"(?:{_ANSI}|[\\s{_CONTROLS}\x85{_SURROGATES}{_NONCHARACTERS}])+")


def _describe(char: str) -> str:
    """ "a control character (U+001B, escape)": how a refused character is named."""
    code = f"U+{ord(char):04X}"
    if char == "\x00":
        return f"a NUL character ({code})"
    if "\ud800" <= char <= "\udfff":
        return f"an unpaired surrogate ({code}, not valid text)"
    if char in _LINE_BREAKS:
        return f"a line break ({code})"
    if unicodedata.category(char) == "Cc":
        name = _CONTROL_NAMES.get(char)
        return f"a control character ({code}{', ' + name if name else ''})"
    return f"a noncharacter ({code})"


_CONTROL_NAMES = {
    "\x00": "null",
    "\x07": "bell",
    "\x08": "backspace",
    "\x0b": "vertical tab",
    "\x0c": "form feed",
    "\x1b": "escape",
    "\x7f": "delete",
}


@overload
def clean_text(value: str, *, field: str, single_line: bool = False, strip: bool = True) -> str: ...
@overload
def clean_text(
    value: None, *, field: str, single_line: bool = False, strip: bool = True
) -> None: ...


def clean_text(
    value: str | None, *, field: str, single_line: bool = False, strip: bool = True
) -> str | None:
    """The text to store for `field`, or `ValidationError({field: message})`.

    See the module docstring for the rule. Single-line values come back stripped of
    surrounding spaces (unless `strip` is false: a metric's unit " runs" keeps its space);
    multi-line ones with CRLF/CR made LF and ANSI sequences removed.
    None (a field not given to an update) comes back as None. Callers keep their own checks
    (required, length) and run them on the returned value.
    """
    if value is None:
        return None
    label = field.replace("_", " ")
    if not isinstance(value, str):
        raise ValidationError({field: f"The {label} must be text."})
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    if single_line:
        if strip:
            value = value.strip()
        bad = _BAD_LINE.search(value)
    else:
        bad = next((m for m in _BAD_BODY.finditer(value) if m.group("bad")), None)
    if bad is not None:
        char = bad.group("bad")
        if single_line and char in _LINE_BREAKS:
            message = (
                f"The {label} must be a single line: remove the line break at character "
                f"{bad.start() + 1}."
            )
        else:
            message = (
                f"The {label} contains {_describe(char)} at character {bad.start() + 1}; remove it."
            )
        raise ValidationError({field: message})
    if not single_line:
        value = ANSI_SEQUENCE.sub("", value)
    return value


def xml_safe(value: str) -> str:
    """`value` without what XML 1.0 cannot carry (most C0 controls, surrogates, U+FFFE/FFFF)
    and without ANSI sequences: for the feeds, which must be written even when a row stored
    before `clean_text` existed carries such a character."""
    return _XML_FORBIDDEN.sub("", value)


def one_line(value: str) -> str:
    """`value` as one line for a header or a label: ANSI sequences removed, every run of
    whitespace, line breaks and control characters made one space, ends stripped. An email
    Subject built from a stored name can then never raise `BadHeaderError`."""
    return _NOT_ONE_LINE.sub(" ", value).strip()
