"""Search text: normalising, tokenising and stemming what people type, in the locales we serve.

Two steps, so a stemmer sees the letters it knows while matching stays forgiving:

- `lower`: Unicode-compatible lower case, Turkish-aware; invisible marks, tatweel and harakat
  removed; digits of any script made ASCII. Snowball stemmers still work on the result.
- `fold`: what phone keyboards lose or vary: accents, Turkish dotless i, œ/ß, and Arabic-script
  letter variants (alef, yeh, kaf, heh, waw, Sorani ڕ/ڵ, Urdu ں ے, Pashto ګ).

Each word gives up to two terms: its stem folded, and the stem of its folded form (a Turkish query
typed without dotless i still meets the text that has it). Indexing and querying use the same terms.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import Stemmer

# Only a stemmer made for the language: ur, ku, ckb, ps, uk, bn and ti match on folded words.
SNOWBALL = {
    "en": "english", "it": "italian", "ar": "arabic", "tr": "turkish", "fr": "french",
    "es": "spanish", "de": "german", "el": "greek", "fa": "persian",
}  # fmt: skip
MAX_WORD_LENGTH = 40  # longer "words" are pasted links or noise


def _code_points(*ranges: tuple[int, int]) -> list[int]:
    return [point for first, last in ranges for point in range(first, last + 1)]


def _mark_ranges() -> str:
    """Combining marks from Latin to Ethiopic as a regex class: `\\w` lacks Bengali vowel signs."""
    marks = [p for p in range(0x0300, 0x2000) if unicodedata.category(chr(p)).startswith("M")]
    spans: list[list[int]] = []
    for point in marks:
        if spans and spans[-1][1] == point - 1:
            spans[-1][1] = point
        else:
            spans.append([point, point])
    return "".join(f"{chr(first)}-{chr(last)}" for first, last in spans)


_WORD = re.compile(f"(?:[^\\W_]|[{_mark_ranges()}])+")

_INVISIBLE = _code_points(
    (0x00AD, 0x00AD),  # soft hyphen
    (0x0640, 0x0640),  # tatweel
    (0x200B, 0x200F),  # zero-width space, ZWNJ, ZWJ, LRM, RLM
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x2069),  # word joiner, bidi isolates
    (0xFEFF, 0xFEFF),  # byte order mark
)
_HARAKAT = _code_points(
    (0x0610, 0x061A), (0x064B, 0x065F), (0x0670, 0x0670), (0x06D6, 0x06DC), (0x06DF, 0x06E4),
    (0x06E7, 0x06E8), (0x06EA, 0x06ED), (0x08D3, 0x08FF),
)  # fmt: skip
_DIGITS = {
    zero + value: str(value)
    for zero in (0x0660, 0x06F0, 0x0966, 0x09E6)  # Arabic-Indic, Persian, Devanagari, Bengali
    for value in range(10)
}
_LOWER = str.maketrans(
    {**dict.fromkeys(_INVISIBLE + _HARAKAT), **_DIGITS, "\u02bc": "'", "\u2019": "'"}
)
_APOSTROPHES = str.maketrans(dict.fromkeys("'`"))

_ALEF, _YEH, _KAF, _HEH, _WAW = "\u0627", "\u064a", "\u0643", "\u0647", "\u0648"
_FOLD = str.maketrans(
    {
        **dict.fromkeys(range(0x0300, 0x0370)),  # accents after NFD (also Cyrillic й ї → и і)
        **dict.fromkeys(_HARAKAT),  # also hamza and madda split off أ إ آ ؤ ئ ۀ by NFD
        "ı": "i", "œ": "oe", "æ": "ae", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th",
        "\u0671": _ALEF, "\u0672": _ALEF, "\u0673": _ALEF,  # ٱ ٲ ٳ
        "\u0649": _YEH, "\u06cc": _YEH, "\u06cd": _YEH, "\u06ce": _YEH,  # ى ی ۍ ێ
        "\u06d0": _YEH, "\u06d2": _YEH,  # Pashto ې, Urdu ے
        "\u06a9": _KAF, "\u06aa": _KAF,  # ک ڪ
        "\u06ab": "\u06af",  # Pashto ګ → گ
        "\u0629": _HEH, "\u06d5": _HEH, "\u06c1": _HEH, "\u06be": _HEH,  # ة, Sorani ە, Urdu ہ ھ
        "\u06c6": _WAW,  # Sorani ۆ
        "\u0695": "\u0631", "\u06b5": "\u0644",  # Sorani ڕ ڵ, typed as ر ل on most keyboards
        "\u06ba": "\u0646",  # Urdu ں
    }
)  # fmt: skip


@cache
def language(locale: str) -> str:
    """The language part of a locale code: "fa_AF" → "fa", "ckb" → "ckb"."""
    return re.split(r"[-_]", locale, maxsplit=1)[0].lower()


def lower(text: str, locale: str) -> str:
    """Lower case for stemming: Turkish-aware, without invisible marks and harakat, ASCII digits."""
    lang = language(locale)
    text = unicodedata.normalize("NFKC", text)  # Arabic presentation forms, ligatures, full width
    text = text.replace("İ", "i")
    if lang in ("tr", "az"):
        text = text.replace("I", "ı")
    text = text.casefold().translate(_LOWER)
    if lang == "uk":
        # Ukrainian writes an apostrophe inside words (сім'я); people often leave it out.
        text = text.translate(_APOSTROPHES)
    return text


def fold(text: str) -> str:
    """Fold what keyboards vary: accents, dotless i, ligatures and Arabic-script letter variants."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text).translate(_FOLD)
    return unicodedata.normalize("NFC", decomposed)


def normalise(text: str, locale: str) -> str:
    """The text as search compares it: lowered, folded, whitespace collapsed."""
    return " ".join(fold(lower(text, locale)).split())


def words(text: str, locale: str) -> list[str]:
    """The lowered (not yet folded) words of a text."""
    return [word for word in _WORD.findall(lower(text, locale)) if len(word) <= MAX_WORD_LENGTH]


@cache
def _stemmer(lang: str) -> Stemmer.Stemmer | None:
    algorithm = SNOWBALL.get(lang)
    return Stemmer.Stemmer(algorithm) if algorithm else None


def stems(word: str, locale: str) -> list[str]:
    """The index terms of one lowered word: its folded stem, and the stem of its folded form."""
    return _stems([word], _stemmer(language(locale)))[0]


def _stems(lowered: list[str], stemmer: Stemmer.Stemmer | None) -> list[list[str]]:
    folded = [fold(word) for word in lowered]
    if stemmer is None:
        return [[word] if word else [] for word in folded]
    pairs = zip(stemmer.stemWords(lowered), stemmer.stemWords(folded), strict=True)
    return [[term for term in dict.fromkeys((fold(a), fold(b))) if term] for a, b in pairs]


def terms(text: str, locale: str) -> list[str]:
    """Normalised, tokenised, stemmed terms, the same at index time and at query time."""
    stemmed = _stems(words(text, locale), _stemmer(language(locale)))
    return [term for word_terms in stemmed for term in word_terms]
