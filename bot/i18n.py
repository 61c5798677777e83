"""Locales, compiled gettext catalogs, and the per-user Translator."""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.numbers import format_decimal

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"

# The order is the order of the language keyboard (after the suggested one).
SHIPPED_LOCALES: tuple[str, ...] = (
    "en",
    "it",
    "ar",
    "ur",
    "tr",
    "ku",
    "ckb",
    "fa",
    "ps",
    "uk",
    "fr",
    "es",
    "de",
    "el",
    "bn",
    "ti",
)
# Telegram keys per-language command lists by ISO 639-1 (two-letter) codes only.
ISO_639_1_LOCALES = frozenset(code for code in SHIPPED_LOCALES if len(code) == 2)
RTL_LOCALES = frozenset(
    code for code in SHIPPED_LOCALES if Locale.parse(code).text_direction == "rtl"
)

FIRST_STRONG_ISOLATE = "\u2068"
POP_DIRECTIONAL_ISOLATE = "\u2069"


class CatalogError(Exception):
    """A shipped locale has no compiled catalog, or it is older than its .po file."""


@cache
def native_name(code: str) -> str:
    """The language's own name for itself, capitalised as a button label."""
    name = Locale.parse(code).display_name or code
    return name[:1].upper() + name[1:]


@lru_cache(maxsize=1024)
def match_locale(language_code: str | None) -> str | None:
    """Map a client's language tag (e.g. 'ar-EG', 'pt_BR', 'ckb') to a shipped locale, if any."""
    if not language_code:
        return None
    try:
        locale = Locale.parse(language_code.replace("_", "-"), sep="-")
    except (ValueError, UnknownLocaleError):
        return None
    for candidate in (str(locale), locale.language):
        if candidate in SHIPPED_LOCALES:
            return candidate
    return None


@dataclass(frozen=True)
class Translator:
    """Everything a handler needs to speak one locale: gettext, plurals, numbers, bidi isolation."""

    locale: str
    translations: gettext.NullTranslations

    @property
    def is_rtl(self) -> bool:
        """True for right-to-left scripts (Arabic, Urdu, Persian, Pashto, Sorani)."""
        return self.locale in RTL_LOCALES

    def isolate(self, value: object) -> str:
        """Wrap an embedded value in first-strong isolates in RTL locales, so a line cannot flip."""
        text = self.format_value(value)
        if self.is_rtl:
            return f"{FIRST_STRONG_ISOLATE}{text}{POP_DIRECTIONAL_ISOLATE}"
        return text

    def format_value(self, value: object) -> str:
        """Numbers are formatted by Babel for this locale; everything else as text."""
        if isinstance(value, int) and not isinstance(value, bool):
            return format_decimal(value, locale=self.locale)
        return str(value)

    def _(self, message: str, **values: object) -> str:
        """Translate `message` and fill its %(name)s placeholders with isolated values."""
        return self._fill(self.translations.gettext(message), values)

    def ngettext(self, singular: str, plural: str, count: int, **values: object) -> str:
        """Translate with this locale's plural rules; `count` is also available as %(count)s."""
        text = self.translations.ngettext(singular, plural, count)
        return self._fill(text, {"count": count, **values})

    def _fill(self, text: str, values: dict[str, object]) -> str:
        if not values:
            return text
        return text % {name: self.isolate(value) for name, value in values.items()}


class Catalog:
    """All shipped locales' compiled translations, loaded once at start."""

    def __init__(self, default_locale: str = "en", locales_dir: Path = LOCALES_DIR) -> None:
        self.default_locale = default_locale
        self._translators = {
            code: Translator(code, self._load(locales_dir, code)) for code in SHIPPED_LOCALES
        }

    @staticmethod
    def _load(locales_dir: Path, code: str) -> gettext.GNUTranslations:
        folder = locales_dir / code / "LC_MESSAGES"
        po_file, mo_file = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
        if not mo_file.exists():
            raise CatalogError(f"{mo_file} is missing: run `make catalogs` to compile translations")
        if po_file.exists() and po_file.stat().st_mtime > mo_file.stat().st_mtime:
            raise CatalogError(f"{mo_file} is older than its .po: run `make catalogs`")
        with mo_file.open("rb") as handle:
            return gettext.GNUTranslations(handle)

    def translator(self, locale: str | None) -> Translator:
        """The Translator for `locale`, or for the default locale if it is not shipped."""
        return self._translators.get(locale or "", self._translators[self.default_locale])

    def resolve(self, saved_locale: str | None, language_code: str | None) -> Translator:
        """The user's saved locale, else the client's language if shipped, else the default."""
        return self.translator(saved_locale or match_locale(language_code))
