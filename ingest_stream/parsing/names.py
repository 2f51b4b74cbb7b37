"""The one rule for names that become topic segments, metric names and other database keys.

Pure string checks; it must never accept a character that is not in SAFE_CHARACTERS.
"""

from __future__ import annotations

import re

SAFE_CHARACTERS = "A-Z a-z 0-9 _ . : @ -"
SAFE_NAME_PATTERN = r"^[A-Za-z0-9_.:@-]+$"
_SAFE_NAME = re.compile(SAFE_NAME_PATTERN)
DEFAULT_MAX_NAME_LENGTH = 128
_SHOWN_CHARACTERS = 60


def is_safe_name(name: str, max_length: int = DEFAULT_MAX_NAME_LENGTH) -> bool:
    """True for a non-empty name of at most max_length characters, all from SAFE_CHARACTERS.

    That one set already excludes MQTT wildcards (+ #), a `$` prefix, whitespace, NUL and other
    control characters, and anything a database identifier or a log line could trip over.
    """
    return len(name) <= max_length and _SAFE_NAME.fullmatch(name) is not None


def shown(value: object) -> str:
    """A short, printable, storable rendering of device input for a dead-letter detail."""
    text = repr(value)
    if len(text) > _SHOWN_CHARACTERS:
        text = text[: _SHOWN_CHARACTERS - 3] + "..."
    return storable(text)


def storable(text: str) -> str:
    """`text` with NUL and lone surrogates escaped: PostgreSQL text columns can hold neither."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def name_problem(name: str, max_length: int = DEFAULT_MAX_NAME_LENGTH) -> str | None:
    """Why `name` is not a safe name, as the end of a sentence ("... is empty"), or None if it is."""
    if is_safe_name(name, max_length):
        return None
    if not name:
        return "is empty"
    if len(name) > max_length:
        return f"is {len(name)} characters long; the limit is {max_length}"
    for character in name:
        if _SAFE_NAME.fullmatch(character):
            continue
        if character in "+#":
            return f"{shown(name)} contains the MQTT wildcard {character!r}"
        if character == "$":
            return f"{shown(name)} contains '$' (reserved for broker topics such as $SYS)"
        if character.isspace():
            return f"{shown(name)} contains whitespace"
        if not character.isprintable():
            return f"{shown(name)} contains the control character {shown(character)}"
        return f"{shown(name)} contains {shown(character)}, outside the safe set {SAFE_CHARACTERS}"
    return None
