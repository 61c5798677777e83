"""Search latency: storage.search.SearchIndex on SQLite FTS5, with 10,000 items in 16 locales.

Two indexes, each in a fresh WAL SQLite file migrated like the bot's: 10,000 FAQ entries, each
translated into all 16 locales (160,000 texts: a question and two phrasings), and 10,000
opportunities, each in its source locale and two translations (30,000 longer texts). Texts mix
each locale's real topic words (doctor, school, course, ...) and function words with made-up
rare words in the locale's script, so the vocabulary is as large as a real city's content.

Queries are what people send: one or two topic words, a whole question, a typo in a topic word,
a word from another language, and made-up words that match nothing (the slowest path: every
typo-correction step runs and finds nothing). Latency is one `search()` call inside an open
session, as a turn makes it.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from storage.db import create_engine, create_sessionmaker, migrate
from storage.search import SearchIndex

ITEMS = 10_000
QUERIES = 400
BATCH = 250  # items indexed per commit
SEED = 20261123
RARE_WORDS_PER_LOCALE = 6_000

# Per locale: sixteen topic words (same meaning in every locale, in this order), a few function
# words, and the letters made-up words are spelled with.
TOPICS = {
    "en": "doctor hospital school course language job house documents lawyer food bus volunteer "
    "children appointment free help",
    "it": "medico ospedale scuola corso lingua lavoro casa documenti avvocato cibo autobus "
    "volontariato bambini appuntamento gratuito aiuto",
    "ar": "طبيب مستشفى مدرسة دورة لغة عمل سكن وثائق محامي طعام حافلة تطوع أطفال موعد مجاني مساعدة",
    "ur": "ڈاکٹر ہسپتال اسکول کورس زبان نوکری گھر دستاویزات وکیل کھانا بس رضاکار بچے ملاقات مفت "
    "مدد",
    "tr": "doktor hastane okul kurs dil iş ev belgeler avukat yemek otobüs gönüllü çocuklar "
    "randevu ücretsiz yardım",
    "ku": "bijîşk nexweşxane dibistan kurs ziman kar xanî belge parêzer xwarin otobus dilxwaz "
    "zarok randevû belaş alîkarî",
    "ckb": "دکتۆر نەخۆشخانە قوتابخانە خول زمان کار خانوو بەڵگەنامە پارێزەر خواردن پاس خۆبەخش "
    "منداڵ ژوان بەخۆڕایی یارمەتی",
    "fa": "دکتر بیمارستان مدرسه دوره زبان کار خانه مدارک وکیل غذا اتوبوس داوطلب کودکان نوبت "
    "رایگان کمک",
    "ps": "ډاکټر روغتون ښوونځی کورس ژبه کار کور اسناد وکیل خواړه بس رضاکار ماشومان ملاقات وړیا "
    "مرسته",
    "uk": "лікар лікарня школа курс мова робота житло документи юрист їжа автобус волонтер діти "
    "запис безкоштовно допомога",
    "fr": "médecin hôpital école cours langue travail logement documents avocat nourriture bus "
    "bénévolat enfants rendez-vous gratuit aide",
    "es": "médico hospital escuela curso idioma trabajo vivienda documentos abogado comida "
    "autobús voluntariado niños cita gratis ayuda",
    "de": "Arzt Krankenhaus Schule Kurs Sprache Arbeit Wohnung Dokumente Anwalt Essen Bus "
    "Ehrenamt Kinder Termin kostenlos Hilfe",
    "el": "γιατρός νοσοκομείο σχολείο μάθημα γλώσσα δουλειά σπίτι έγγραφα δικηγόρος φαγητό "
    "λεωφορείο εθελοντισμός παιδιά ραντεβού δωρεάν βοήθεια",
    "bn": "ডাক্তার হাসপাতাল স্কুল কোর্স ভাষা কাজ বাড়ি কাগজপত্র আইনজীবী খাবার বাস স্বেচ্ছাসেবক "
    "শিশু অ্যাপয়েন্টমেন্ট বিনামূল্যে সাহায্য",
    "ti": "ሓኪም ሆስፒታል ቤትትምህርቲ ኮርስ ቋንቋ ስራሕ ገዛ ሰነዳት ጠበቓ መግቢ ኣውቶቡስ ወለንታዊ ቆልዑ ቆጸራ ብናጻ ሓገዝ",
}
FUNCTION_WORDS = {
    "en": "where how can i find a the for in my is to",
    "it": "dove come posso trovare il la un per in mio di è",
    "ar": "أين كيف يمكنني أجد في من على هل إلى",
    "ur": "کہاں کیسے میں کے لیے کی ہے کیا",
    "tr": "nerede nasıl bulabilirim bir için ve mı bu",
    "ku": "li ku çawa ez dikarim bibînim ji bo",
    "ckb": "لە کوێ چۆن دەتوانم بۆ و",
    "fa": "کجا چگونه می‌توانم پیدا کنم در برای از",
    "ps": "چیرته څنګه زه کولی شم د په لپاره",
    "uk": "де як можна знайти для в на мені",
    "fr": "où comment trouver un le la pour je peux",
    "es": "dónde cómo puedo encontrar un el la para en",
    "de": "wo wie kann ich finden einen der die für",
    "el": "πού πώς μπορώ να βρω ένα για στο",
    "bn": "কোথায় কীভাবে আমি পেতে পারি জন্য একটি",
    "ti": "ኣበይ ከመይ ክረክብ እኽእል ን ኣብ",
}
LETTERS = {
    "en": "abcdefghiklmnoprstuvwy",
    "it": "abcdefgilmnoprstuvzàèò",
    "ar": "ابتثجحخدذرزسشصضطظعغفقكلمنهويةأ",
    "ur": "ابپتٹثجچحخدڈذرڑزژسشصضطظعغفقکگلمنوہھیے",
    "tr": "abcçdefgğhıijklmnoöprsştuüvyz",
    "ku": "abcçdeêfghiîjklmnopqrsştuûvwxyz",
    "ckb": "ئابپتجچحخدرڕزژسشعغفڤقکگلڵمنوۆهەیێ",
    "fa": "ابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهی",
    "ps": "ابپتټثجځچڅحخدډذرړزږژسښشصضطظعغفقکګلمنڼوهۍيېی",
    "uk": "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя",
    "fr": "abcdefghijlmnopqrstuvéèàêç",
    "es": "abcdefghijlmnñopqrstuvyzáéíóú",
    "de": "abcdefghiklmnoprstuwzäöüß",
    "el": "αβγδεζηθικλμνξοπρστυφχψωάέήίόύώ",
    "bn": "অআইউএওকখগঘচছজঝটঠডঢতথদধনপফবভমযরলশষসহািীুূেো",
    "ti": "ሀሁሂሃሄህሆለሉሊላሌልሎመሙሚማሜምሞረሩሪራሬርሮሰሱሲሳሴስሶበቡቢባቤብቦተቱቲታቴትቶነኑኒናኔንኖ",
}
LOCALES = tuple(TOPICS)
CROSS_LOCALES = ("en", "it", "ar", "fr")  # the other languages people most often type in


@dataclass
class Case:
    """One benchmark case: what was indexed, how long it took, and per-query latencies."""

    name: str
    texts: int
    build_seconds: float
    latencies: dict[str, list[float]]


class Corpus:
    """Made-up content in 16 locales with real topic words and a large made-up vocabulary."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.topics = {locale: words.split() for locale, words in TOPICS.items()}
        self.function_words = {locale: words.split() for locale, words in FUNCTION_WORDS.items()}
        self.rare = {locale: self._made_up(locale) for locale in LOCALES}

    def _made_up(self, locale: str) -> list[str]:
        """Distinct made-up words, used by the texts with a Zipf-like frequency."""
        letters, found = LETTERS[locale], set()
        while len(found) < RARE_WORDS_PER_LOCALE:
            found.add("".join(self.rng.choices(letters, k=self.rng.randint(4, 10))))
        return sorted(found)

    def rare_word(self, locale: str) -> str:
        """A made-up word, the common ones far more often."""
        words = self.rare[locale]
        return words[int(len(words) * self.rng.random() ** 3)]

    def sentence(self, locale: str, topics: list[int], length: int) -> str:
        """A sentence of `length` words around the given topics."""
        words = [self.topics[locale][topic] for topic in topics]
        while len(words) < length:
            if self.rng.random() < 0.35:
                words.append(self.rng.choice(self.function_words[locale]))
            else:
                words.append(self.rare_word(locale))
        self.rng.shuffle(words)
        return " ".join(words)

    def faq(self) -> dict[str, str]:
        """A question and two phrasings, in every locale."""
        topics = self.rng.sample(range(16), 2)
        return {
            locale: ". ".join(self.sentence(locale, topics, self.rng.randint(6, 12)) for _ in "abc")
            for locale in LOCALES
        }

    def opportunity(self) -> dict[str, str]:
        """A title and a description in the source locale and two translations."""
        topics = self.rng.sample(range(16), 3)
        locales = self.rng.sample(LOCALES, 3)
        return {
            locale: self.sentence(locale, topics[:1], 5) + ". " + self.sentence(locale, topics, 40)
            for locale in locales
        }


def typo(word: str, rng: random.Random) -> str:
    """One keyboard slip after the first letter: a letter dropped, doubled or swapped."""
    if len(word) < 5:
        return word
    at = rng.randint(1, len(word) - 2)
    slip = rng.choice(("drop", "double", "swap"))
    if slip == "drop":
        return word[:at] + word[at + 1 :]
    if slip == "double":
        return word[:at] + word[at] + word[at:]
    return word[:at] + word[at + 1] + word[at] + word[at + 2 :]


def queries(corpus: Corpus, rng: random.Random) -> list[tuple[str, str, str]]:
    """(label, locale, query): the mix of what people send."""
    kinds: list[tuple[str, Callable[[str], str]]] = [
        ("topic words", lambda loc: " ".join(rng.sample(corpus.topics[loc], rng.randint(1, 2)))),
        ("question", lambda loc: corpus.sentence(loc, [rng.randrange(16)], rng.randint(5, 9))),
        ("typo", lambda loc: typo(rng.choice(corpus.topics[loc]), rng)),
        ("other language", lambda loc: rng.choice(corpus.topics[rng.choice(CROSS_LOCALES)])),
        ("no match", lambda loc: " ".join("".join(rng.choices(LETTERS[loc], k=9)) for _ in "ab")),
    ]
    picked = []
    for index in range(QUERIES):
        label, make = kinds[index % len(kinds)]
        locale = rng.choice(LOCALES)
        picked.append((label, locale, make(locale)))
    return picked


async def measure(
    name: str, kind: str, make: Callable[[], dict[str, str]], plan: list[tuple[str, str, str]]
) -> Case:
    """Index ITEMS items in a fresh database, then time the planned searches."""
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(folder) / 'search.db'}")
        await migrate(engine)
        sessions = create_sessionmaker(engine)
        texts, started = 0, time.perf_counter()
        for first in range(0, ITEMS, BATCH):
            async with sessions() as session:
                index = SearchIndex(session)
                for item_id in range(first, first + BATCH):
                    item = make()
                    texts += len(item)
                    await index.replace(kind, item_id, item)
                await session.commit()
        build_seconds = time.perf_counter() - started
        latencies: dict[str, list[float]] = {}
        async with sessions() as session:
            index = SearchIndex(session)
            for _, locale, query in plan[:20]:  # warm the page cache and the stemmers
                await index.search(kind, query, locale)
            for label, locale, query in plan:
                started = time.perf_counter()
                await index.search(kind, query, locale)
                elapsed = (time.perf_counter() - started) * 1000
                latencies.setdefault(label, []).append(elapsed)
                latencies.setdefault("all", []).append(elapsed)
        await engine.dispose()
    return Case(name, texts, build_seconds, latencies)


def percentile(values: list[float], q: int) -> float:
    """The q-th percentile."""
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


async def run() -> list[str]:
    """Build both indexes, time the queries, and report p50/p99 per query kind."""
    corpus = Corpus(random.Random(SEED))
    cases = [
        await measure("FAQ", "faq", corpus.faq, queries(corpus, random.Random(SEED + 1))),
        await measure(
            "opportunities",
            "opportunity",
            corpus.opportunity,
            queries(corpus, random.Random(SEED + 2)),
        ),
    ]
    lines = [
        f"### Search: {ITEMS:,} items in 16 locales, {QUERIES} queries per index (SQLite FTS5)",
        "",
        "FAQ: every entry in all 16 locales (question and two phrasings). Opportunities: title "
        "and description in 3 locales. Targets: p99 < 20 ms (FAQ), < 50 ms (opportunities).",
        "",
        "| index | texts | indexed items/s | queries | n | p50 ms | p99 ms | max ms |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for case in cases:
        for label, values in case.latencies.items():
            lines.append(
                f"| {case.name} | {case.texts:,} | {ITEMS / case.build_seconds:,.0f} | {label} | "
                f"{len(values)} | {percentile(values, 50):.1f} | {percentile(values, 99):.1f} | "
                f"{max(values):.1f} |"
            )
    return lines


if __name__ == "__main__":
    print("\n".join(asyncio.run(run())))
