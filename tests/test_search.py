"""Search over content: what people type on phones finds what was written, in 16 locales."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import create_engine, create_sessionmaker, migrate
from storage.search import SearchIndex, include_name
from storage.text import normalise, terms


@pytest.fixture
async def session(settings) -> AsyncIterator[AsyncSession]:
    """A session on a migrated database."""
    engine = create_engine(settings.database_url)
    await migrate(engine)
    async with create_sessionmaker(engine)() as session:
        yield session
    await engine.dispose()


@pytest.fixture
def index(session: AsyncSession) -> SearchIndex:
    """The search index inside the test's session."""
    return SearchIndex(session)


async def found(index: SearchIndex, query: str, locale: str, kind: str = "faq") -> list[int]:
    """The ids of the items a query finds, best first."""
    return [hit.item_id for hit in await index.search(kind, query, locale)]


# Normalisation, one script family at a time.


def test_arabic_alef_yeh_teh_marbuta_harakat_tatweel_and_digits_fold():
    written = "أَطِبَّاء إسعاف آمنة ٱلمستشفى مـــدرسة ١١٢"
    typed = "اطباء اسعاف امنه المستشفي مدرسه 112"
    assert normalise(written, "ar") == normalise(typed, "ar")
    assert normalise("١١٢", "ar") == "112"


def test_persian_yeh_kaf_zwnj_and_digits_match_what_an_arabic_keyboard_types():
    assert normalise("کتاب‌های یک دکتر ۱۴۰۲", "fa") == normalise("كتابهاي يك دكتر 1402", "fa")
    assert normalise("می‌خواهم", "fa") == normalise("میخواهم", "fa")


def test_urdu_heh_goal_do_chashmi_bari_yeh_and_noon_ghunna_fold():
    assert normalise("ہسپتال میں ڈاکٹر ہے", "ur") == normalise("هسپتال مين ڈاکٹر هي", "ur")
    assert normalise("گھر", "ur") == normalise("گهر", "ur")


def test_sorani_letters_match_what_a_persian_or_arabic_keyboard_types():
    assert normalise("نەخۆشخانە", "ckb") == normalise("نهخوشخانه", "ckb")
    assert normalise("ڕێگا", "ckb") == normalise("ريگا", "ckb")
    assert normalise("منداڵ", "ckb") == normalise("مندال", "ckb")


def test_pashto_yeh_forms_and_gaf_fold():
    assert normalise("ښځې ګټه", "ps") == normalise("ښځي گټه", "ps")


def test_turkish_dotted_and_dotless_i_fold_in_every_case():
    forms = ["İSTANBUL", "istanbul", "ıstanbul", "ISTANBUL", "Istanbul"]
    assert {normalise(form, "tr") for form in forms} == {"istanbul"}
    assert {normalise(form, "en") for form in forms} == {"istanbul"}


def test_kurmanji_and_latin_diacritics_fold():
    assert normalise("Zimanê Kurdî û şêwir, çand", "ku") == "zimane kurdi u sewir, cand"
    assert normalise("Città PERICOLOSA", "it") == "citta pericolosa"
    assert normalise("Œuvre bénévole", "fr") == "oeuvre benevole"
    assert normalise("Straße", "de") == "strasse"


def test_greek_tonos_and_final_sigma_fold():
    assert normalise("ΓΙΑΤΡΌΣ Νοσοκομείο", "el") == normalise("γιατροσ νοσοκομειο", "el")
    assert terms("γιατρός", "el") == terms("ΓΙΑΤΡΟΙ", "el")


def test_words_of_scripts_with_combining_signs_or_their_own_punctuation_stay_whole():
    assert terms("ডাক্তার কোথায়? হাসপাতাল।", "bn") == ["ডাক্তার", "কোথায়", "হাসপাতাল"]
    assert terms("ሓኪም፡ኣበይ፡ኣሎ።", "ti") == ["ሓኪም", "ኣበይ", "ኣሎ"]


def test_ukrainian_apostrophe_is_optional():
    assert terms("сім'я", "uk") == terms("сімʼя", "uk") == terms("сімя", "uk") == ["сімя"]


def test_stemming_where_snowball_has_the_language_and_plain_words_elsewhere():
    assert set(terms("corsi", "it")) & set(terms("corso", "it"))
    assert set(terms("volunteering", "en")) & set(terms("volunteer", "en"))
    assert set(terms("kursları", "tr")) & set(terms("kurslar", "tr"))
    assert terms("лікарі", "uk") == ["лікарі"]  # no Ukrainian stemmer; Russian's would be wrong


# Searching.


async def test_a_question_finds_its_answer_across_inflections(index):
    await index.replace("faq", 1, {"it": "Corsi di italiano gratuiti per adulti"})
    await index.replace("faq", 2, {"it": "Dove trovo un medico di base?"})
    await index.replace("opportunity", 3, {"en": "Volunteering at the food bank"})

    assert await found(index, "corso italiano", "it") == [1]
    assert (await found(index, "corso di italiano", "it"))[0] == 1
    assert await found(index, "volunteer", "en", kind="opportunity") == [3]
    assert await found(index, "volunteer", "en") == []  # kinds do not mix


async def test_typos_in_short_queries_still_find_the_item(index):
    await index.replace("faq", 1, {"it": "Dove trovo un dottore?"})
    await index.replace("faq", 2, {"it": "Orari degli uffici comunali"})
    await index.replace("opportunity", 3, {"en": "Volunteering at the food bank"})
    await index.replace("faq", 4, {"it": "Volontariato con i bambini"})

    assert await found(index, "dotore", "it") == [1]
    assert await found(index, "dottore", "it") == [1]
    assert await found(index, "volonteer", "en", kind="opportunity") == [3]
    assert await found(index, "ufici comnuali", "it") == [2]  # a letter missing, two swapped
    assert await found(index, "volontariatto", "it") == [4]  # a slip in the ending
    assert await found(index, "zanzara", "it") == []  # nothing close: no guess


async def test_two_letters_swapped_in_a_short_word_are_corrected(index):
    await index.replace("faq", 1, {"it": "Orari della mensa"})
    await index.replace("faq", 2, {"en": "Free bread on Fridays"})

    assert await found(index, "mnesa", "it") == [1]
    assert await found(index, "braed", "en") == [2]


async def test_arabic_script_queries_typed_without_the_written_letters_match(index):
    await index.replace("faq", 1, {"ar": "أين أقرب مستشفى؟"})
    await index.replace("faq", 2, {"fa": "بیمارستان کجاست؟"})
    await index.replace("faq", 3, {"ur": "ہسپتال میں ڈاکٹر"})
    await index.replace("faq", 4, {"ckb": "نەخۆشخانە لە کوێیە؟"})

    assert await found(index, "مستشفي", "ar") == [1]
    assert await found(index, "المستشفى", "ar") == [1]
    assert await found(index, "بيمارستان", "fa") == [2]
    assert await found(index, "هسپتال", "ur") == [3]
    assert await found(index, "نهخوشخانه", "ckb") == [4]


async def test_turkish_kurdish_greek_and_accents_match_however_they_are_typed(index):
    await index.replace("faq", 1, {"tr": "İstanbul'da ücretsiz Türkçe kursları"})
    await index.replace("faq", 2, {"ku": "Alîkariya zimanê kurdî"})
    await index.replace("faq", 3, {"el": "Νοσοκομείο της πόλης"})
    await index.replace("faq", 4, {"it": "La città è sicura"})

    for query in ("istanbul", "İSTANBUL", "ıstanbul", "ISTANBUL", "kurslari", "ucretsiz"):
        assert await found(index, query, "tr") == [1], query
    assert await found(index, "alikariya zimane", "ku") == [2]
    assert await found(index, "ΝΟΣΟΚΟΜΕΙΟ", "el") == [3]
    assert await found(index, "nosokomeio νοσοκομειο", "el") == [3]
    assert await found(index, "citta", "it") == [4]


async def test_answers_in_the_users_own_locale_come_before_answers_in_others(index):
    await index.replace("faq", 1, {"en": "Free course, free books, free course for everyone"})
    await index.replace("faq", 2, {"it": "Corso gratuito"})
    await index.replace("faq", 3, {"de": "Kurs auf Deutsch"})

    in_italian = await index.search("faq", "free gratuito", "it")
    in_english = await index.search("faq", "free gratuito", "en")

    assert [(hit.item_id, hit.locale) for hit in in_italian] == [(2, "it"), (1, "en")]
    assert [(hit.item_id, hit.locale) for hit in in_english] == [(1, "en"), (2, "it")]
    assert await found(index, "deutsch", "ar") == [3]  # another locale still answers


async def test_the_same_language_ranks_before_other_languages(index):
    await index.replace("faq", 1, {"en": "Emergency number 112"})
    await index.replace("faq", 2, {"fa": "شماره اضطراری ۱۱۲"})

    hits = await index.search("faq", "112", "fa_AF")

    assert [(hit.item_id, hit.locale) for hit in hits] == [(2, "fa"), (1, "en")]


async def test_an_item_written_in_many_locales_is_one_hit_in_the_users_locale(index):
    await index.replace("faq", 1, {"en": "Bus 12 timetable", "it": "Orari del bus 12"})
    await index.replace("faq", 2, {"en": "Bus passes for students"})

    hits = await index.search("faq", "bus 12", "it")

    assert [(hit.item_id, hit.locale) for hit in hits] == [(1, "it"), (2, "en")]


async def test_mixed_language_messages_find_both_languages(index):
    await index.replace("faq", 1, {"ar": "طبيب أسنان مجاني"})
    await index.replace("faq", 2, {"en": "Where to find a lawyer"})

    assert sorted(await found(index, "lawyer طبيب", "ar")) == [1, 2]
    assert (await found(index, "lawyer طبيب", "ar"))[0] == 1


async def test_words_most_texts_share_do_not_bring_every_text_along(index):
    for item_id in range(1, 61):
        await index.replace("faq", item_id, {"ar": f"مواعيد العمل في المكتب رقم {item_id}"})
    await index.replace("faq", 100, {"en": "Where to find a doctor"})

    assert await found(index, "doctor في", "ar") == [100]
    assert len(await found(index, "في", "ar")) == 20  # a query of common words alone still works


@pytest.mark.parametrize(
    "query",
    [
        'doctor"',
        '"doctor',
        "doctor*",
        "NEAR(doctor find)",
        "doctor -find",
        "terms:doctor",
        "doctor OR",
        "AND doctor NOT",
        "^doctor",
        "(doctor",
        "{terms} : doctor",
        "doctor'); DROP TABLE search_docs; --",
    ],
)
async def test_query_syntax_typed_by_users_is_just_text(index, query):
    await index.replace("faq", 1, {"en": "Where to find a doctor"})

    assert await found(index, query, "en") == [1]


@pytest.mark.parametrize("query", ["", "   \n\t", '" * - : ( ) ^ + { }', "؟،"])
async def test_empty_or_punctuation_only_queries_find_nothing(index, query):
    await index.replace("faq", 1, {"en": "Where to find a doctor"})

    assert await index.search("faq", query, "en") == []


async def test_replace_updates_an_item_and_remove_takes_it_out(index):
    await index.replace("faq", 1, {"en": "Bicycle repair workshop", "it": "Officina biciclette"})
    await index.replace("faq", 2, {"en": "Bicycle lessons for women"})

    await index.replace("faq", 1, {"en": "Sewing class on Mondays"})

    assert await found(index, "sewing", "en") == [1]
    assert await found(index, "bicycle", "en") == [2]
    assert await found(index, "officina", "it") == []
    assert await found(index, "worksho", "en") == []  # no correction to a word that is gone

    await index.remove("faq", 1)
    await index.remove("faq", 99)  # not indexed: nothing happens

    assert await found(index, "sewing", "en") == []
    assert await found(index, "bicycle", "en") == [2]


@pytest.mark.sqlite_only
async def test_the_fts5_index_agrees_with_its_texts_after_replace_and_remove(index, session):
    await index.replace("faq", 1, {"en": "Bicycle repair workshop", "it": "Officina biciclette"})
    await index.replace("faq", 1, {"en": "Sewing class on Mondays"})
    await index.replace("faq", 2, {"en": "Bicycle lessons for women"})
    await index.remove("faq", 1)

    # FTS5 raises SQLITE_CORRUPT_VTAB if its index and search_docs disagree.
    await session.execute(text("INSERT INTO search_fts (search_fts) VALUES ('integrity-check')"))
    assert await found(index, "bicycle", "en") == [2]


async def test_the_index_lives_in_the_callers_transaction(index, session):
    await index.replace("faq", 1, {"en": "Where to find a doctor"})
    await session.rollback()

    assert await found(index, "doctor", "en") == []


async def test_limit_bounds_the_hits(index):
    for item_id in range(1, 8):
        await index.replace("faq", item_id, {"en": f"Language course number {item_id}"})

    assert len(await index.search("faq", "language course", "en", limit=3)) == 3
    assert await index.search("faq", "language course", "en", limit=0) == []


def test_autogenerate_ignores_only_the_raw_search_tables():
    assert not include_name("search_fts_data", "table", {})
    assert not include_name("search_vocab", "table", {})
    assert include_name("users", "table", {})
    assert include_name("search_", "column", {"table_name": "users"})
