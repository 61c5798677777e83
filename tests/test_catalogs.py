"""Translations are product: complete, well-formed, in step with the code, marked for review."""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from bot.i18n import (
    FIRST_STRONG_ISOLATE,
    LOCALES_DIR,
    POP_DIRECTIONAL_ISOLATE,
    SHIPPED_LOCALES,
    Catalog,
)
from tests.support.chat import Person, messages

ROOT = Path(__file__).resolve().parent.parent
POT = LOCALES_DIR / "messages.pot"


def read_catalog(path: Path):
    with path.open("rb") as handle:
        return read_po(handle)


def po_path(locale: str) -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po"


def message_ids(catalog) -> set[object]:
    return {message.id for message in catalog if message.id}


def test_messages_pot_matches_the_code():
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    keywords = DEFAULT_KEYWORDS  # what `make extract` uses: _, ngettext, N_ (marked labels), ...
    extracted = {
        (message[2] if isinstance(message[2], str) else tuple(message[2]))
        for message in extract_from_dir(ROOT, method_map, options_map, keywords=keywords)
    }
    in_pot = {mid if isinstance(mid, str) else tuple(mid) for mid in message_ids(read_catalog(POT))}
    assert extracted == in_pot, "run `make update-catalogs` and translate the new strings"


def test_every_shipped_locale_has_a_catalog():
    on_disk = {path.parent.parent.name for path in LOCALES_DIR.glob("*/LC_MESSAGES/messages.po")}
    assert on_disk == set(SHIPPED_LOCALES)


@pytest.mark.parametrize("locale", SHIPPED_LOCALES)
def test_catalog_is_complete_and_passes_babels_checkers(locale):
    catalog = read_catalog(po_path(locale))
    pot_ids = message_ids(read_catalog(POT))

    assert message_ids(catalog) == pot_ids, "the .po is not updated from messages.pot"
    for message in catalog:
        if not message.id:
            continue
        assert not message.fuzzy, f"fuzzy: {message.id!r}"
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"untranslated: {message.id!r}"
    problems = [(message.id, errors) for message, errors in catalog.check()]
    assert problems == []


@pytest.mark.parametrize("locale", SHIPPED_LOCALES)
def test_plural_forms_follow_the_locales_rules(locale):
    catalog = read_catalog(po_path(locale))

    rules = get_plural(locale)
    assert catalog.num_plurals == rules.num_plurals
    counts = [*range(1200), 1_000_000, 2_000_000, 1_000_001]
    catalog_form, cldr_form = gettext.c2py(catalog.plural_expr), gettext.c2py(rules.plural_expr)
    assert [catalog_form(n) for n in counts] == [cldr_form(n) for n in counts]
    for message in catalog:
        if message.pluralizable:
            assert len(message.string) == catalog.num_plurals


@pytest.mark.parametrize("locale", SHIPPED_LOCALES)
def test_gnu_msgfmt_check_passes(locale):
    msgfmt = shutil.which("msgfmt")
    assert msgfmt, "GNU gettext's msgfmt is required (Debian package gettext)"
    result = subprocess.run(
        [msgfmt, "-c", "--statistics", "-o", "/dev/null", str(po_path(locale))],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr and "fuzzy" not in result.stderr


@pytest.mark.parametrize("locale", SHIPPED_LOCALES)
def test_catalog_header_says_it_awaits_native_review(locale):
    header = po_path(locale).read_text(encoding="utf-8").split("msgid", 1)[0]

    assert "awaiting review by native speakers" in header


def test_arabic_uses_all_six_plural_forms(catalog: Catalog):
    arabic = catalog.translator("ar")
    forms = {
        arabic.ngettext("I speak %(count)s language. Choose yours:",
                        "I speak %(count)s languages. Choose yours:", n).replace(str(n), "N")
        for n in (0, 1, 2, 3, 11, 100)
    }  # fmt: skip
    assert len(forms) == 6


def test_numbers_are_formatted_for_the_locale(catalog: Catalog):
    assert catalog.translator("en").format_value(12345) == "12,345"
    assert catalog.translator("de").format_value(12345) == "12.345"


@pytest.mark.parametrize("locale", ["ar", "ur", "fa", "ps", "ckb"])
def test_rtl_locales_isolate_embedded_values(catalog: Catalog, locale):
    translator = catalog.translator(locale)
    text = translator._("Language: %(language)s", language="English")
    assert f"{FIRST_STRONG_ISOLATE}English{POP_DIRECTIONAL_ISOLATE}" in text
    assert translator.is_rtl


@pytest.mark.parametrize("locale", ["en", "it", "tr", "ku", "uk", "de"])
def test_ltr_locales_embed_values_as_they_are(catalog: Catalog, locale):
    text = catalog.translator(locale)._("Language: %(language)s", language="العربية")
    assert FIRST_STRONG_ISOLATE not in text and "العربية" in text


LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
ISOLATED = re.compile(f"{FIRST_STRONG_ISOLATE}.*?{POP_DIRECTIONAL_ISOLATE}")
COMMAND_OR_URL = re.compile(r"/[a-z_]+|https?://\S+")
ALLOWED_LATIN = {"Passaparola", "Telegram"}


@pytest.mark.parametrize("locale", ["ar", "ur", "fa", "ps", "ckb", "uk", "el", "bn", "ti"])
async def test_no_english_words_inside_non_latin_replies(conversation, locale):
    """Every reply of onboarding, menus, settings, help, refusals and errors, word by word."""
    person = Person(conversation, language_code=locale)
    replies = [*await person.onboard(locale), *await person.text("hello")]
    for press in ("menu:volunteer", "vol:list:all-0", "vol:filters:all-0-l-wweekend",
                  "vol:skills:all-0", "vol:list:me-0", "vol:list:my-0", "menu:ask", "menu:services",
                  "menu:share", "menu:settings", "prefs:skills", "prefs:areas", "privacy:show",
                  "forget:ask", "nosuch:button"):  # fmt: skip
        replies += await person.press(press)
    for command in ("help", "privacy", "frobnicate", "find", "post", "mine", "questions"):
        replies += await person.command(command)
    for kind in ("sticker", "voice", "location", "edited", "poll"):
        replies += await person.send_kind(kind)

    for message in messages(replies):
        visible = [message.text] + [key.label for row in message.keyboard for key in row]
        for text in visible:
            text = COMMAND_OR_URL.sub("", ISOLATED.sub("", text))
            stray = set(LATIN_WORD.findall(text)) - ALLOWED_LATIN
            assert not stray, f"{locale}: English-looking words {stray} in {text!r}"
