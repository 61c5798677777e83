"""Text from clients, made safe before any handler sees it.

Removed: control characters (except new lines and tabs), zero-width spaces, byte-order marks,
bidirectional overrides, embeddings and isolates (our own isolates are added on output), and
unpaired UTF-16 surrogates that broken clients send. Kept: the zero-width (non-)joiners that
Persian, Urdu, Sorani, Bengali and emoji sequences need.
"""

from __future__ import annotations

import re
import unicodedata

MAX_TEXT_LENGTH = 2000  # longer is refused with a message; flows set tighter limits of their own

_UNWANTED = re.compile(
    "["
    "\x00-\x08\x0b-\x1f\x7f-\x9f"  # control characters, except \t and \n
    "\u200b\u2060\ufeff"  # zero-width space, word joiner, byte-order mark
    "\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c"  # bidi embeddings, overrides, isolates, marks
    "\ud800-\udfff"  # unpaired surrogates
    "]"
)


def clean(text: str) -> str:
    """The text without invisible trouble-makers, NFC-normalised, trimmed."""
    return unicodedata.normalize("NFC", _UNWANTED.sub("", text)).strip()
