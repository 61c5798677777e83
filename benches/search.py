"""Search latency: storage.search.SearchIndex on SQLite FTS5, with 10,000 items in 16 locales.

Two indexes, each in a fresh WAL SQLite file migrated like the bot's: 10,000 FAQ entries, each
translated into all 16 locales (160,000 texts: a question and two phrasings), and 10,000
opportunities, each in its source locale and two translations (30,000 longer texts). Texts mix
each locale's real topic words (doctor, school, course, ...) and function words with made-up
rare words in the locale's script, so the vocabulary is as large as a real city's content.

Queries are what people send: a topic word, a whole question, a topic word with a typo, a topic
word in another language, and made-up words that match nothing (the slowest path: every
typo-correction step runs and finds nothing). Each is checked: is the first hit about the topic?

Latency is one `search()` call in an open session, as a turn makes it, on the database reopened
after indexing (as the bot finds it). The queries run in ROUNDS passes; each cell is the median
pass, so a neighbour's burst of CPU does not decide the p99. The heap left by setup is frozen
(gc.freeze) before timing: a full collection of it costs 30-60 ms here, with or without search.
Run alone: `python -m benches search`.
"""

from __future__ import annotations

import gc
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from storage.db import create_engine, create_sessionmaker, migrate
from storage.search import SearchIndex

ITEMS = 10_000
QUERIES = 400
ROUNDS = 3
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
class Query:
    """What a user sends, and the topic the first hit must be about (None: not checked)."""

    label: str
    locale: str
    text: str
    topic: int | None


@dataclass
class Case:
    """One benchmark case: what was indexed, how long it took, per-query latencies and answers."""

    name: str
    texts: int
    build_seconds: float
    rounds: list[dict[str, list[float]]] = field(default_factory=list)  # label -> latencies
    right: dict[str, list[bool]] = field(default_factory=dict)

    def median_round(self, label: str, q: int) -> float:
        """The q-th latency percentile of the label's queries, in the median round."""
        return statistics.median(percentile(latencies[label], q) for latencies in self.rounds)


Item = tuple[dict[str, str], list[int]]  # texts by locale, topics


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

    def faq(self) -> Item:
        """A question and two phrasings, in every locale."""
        topics = self.rng.sample(range(16), 2)
        texts = {
            locale: ". ".join(self.sentence(locale, topics, self.rng.randint(6, 12)) for _ in "abc")
            for locale in LOCALES
        }
        return texts, topics

    def opportunity(self) -> Item:
        """A title and a description in the source locale and two translations."""
        topics = self.rng.sample(range(16), 3)
        texts = {
            locale: self.sentence(locale, topics[:1], 5) + ". " + self.sentence(locale, topics, 40)
            for locale in self.rng.sample(LOCALES, 3)
        }
        return texts, topics


def typo(word: str, rng: random.Random) -> str:
    """One keyboard slip after the first letter: a letter dropped, doubled or swapped."""
    at = rng.randint(1, len(word) - 2)
    slip = rng.choice(("drop", "double", "swap"))
    if slip == "drop":
        return word[:at] + word[at + 1 :]
    if slip == "double":
        return word[:at] + word[at] + word[at:]
    return word[:at] + word[at + 1] + word[at] + word[at + 2 :]


def queries(corpus: Corpus, rng: random.Random) -> list[Query]:
    """The mix of what people send, in random locales."""
    picked = []
    for index in range(QUERIES):
        locale = rng.choice(LOCALES)
        topic = rng.randrange(16)
        word = corpus.topics[locale][topic]
        match index % 5:
            case 0:
                picked.append(Query("topic word", locale, word, topic))
            case 1:
                question = corpus.sentence(locale, [topic], rng.randint(5, 9))
                picked.append(Query("question", locale, question, None))
            case 2:
                long_words = [i for i, w in enumerate(corpus.topics[locale]) if len(w) >= 5]
                topic = rng.choice(long_words)
                misspelt = typo(corpus.topics[locale][topic], rng)
                picked.append(Query("typo", locale, misspelt, topic))
            case 3:
                foreign = corpus.topics[rng.choice(CROSS_LOCALES)][topic]
                picked.append(Query("other language", locale, foreign, topic))
            case _:
                made_up = " ".join("".join(rng.choices(LETTERS[locale], k=9)) for _ in "ab")
                picked.append(Query("no match", locale, made_up, None))
    return picked


async def measure(name: str, kind: str, make: Callable[[], Item], plan: list[Query]) -> Case:
    """Index ITEMS items in a fresh database, then time the planned searches."""
    topics: dict[int, list[int]] = {}
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'search.db'}"
        engine = create_engine(url)
        await migrate(engine)
        texts, started = 0, time.perf_counter()
        for first in range(0, ITEMS, BATCH):
            async with create_sessionmaker(engine)() as session:
                index = SearchIndex(session)
                for item_id in range(first, first + BATCH):
                    item_texts, topics[item_id] = make()
                    texts += len(item_texts)
                    await index.replace(kind, item_id, item_texts)
                await session.commit()
        case = Case(name, texts, time.perf_counter() - started)
        await engine.dispose()

        engine = create_engine(url)
        gc.collect()
        gc.freeze()
        async with create_sessionmaker(engine)() as session:
            index = SearchIndex(session)
            for query in plan[:20]:  # warm the page cache and the stemmers
                await index.search(kind, query.text, query.locale)
            for _ in range(ROUNDS):
                latencies: dict[str, list[float]] = {}
                for query in plan:
                    started = time.perf_counter()
                    hits = await index.search(kind, query.text, query.locale)
                    latencies.setdefault(query.label, []).append(
                        (time.perf_counter() - started) * 1000
                    )
                    if not case.rounds and query.label == "no match":
                        case.right.setdefault(query.label, []).append(not hits)
                    elif not case.rounds and query.topic is not None:
                        right = bool(hits) and query.topic in topics[hits[0].item_id]
                        case.right.setdefault(query.label, []).append(right)
                latencies["all"] = [value for values in latencies.values() for value in values]
                case.rounds.append(latencies)
        gc.unfreeze()
        await engine.dispose()
    return case


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
        "and description in 3 of the 16 locales. Targets: p99 < 20 ms (FAQ), < 50 ms "
        f"(opportunities). Median of {ROUNDS} passes. *Right*: the first hit is about the topic "
        "asked for (for *no match*: nothing was found).",
        "",
        "| index | queries | n | p50 ms | p99 ms | max ms (any pass) | right |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for case in cases:
        for label, values in case.rounds[0].items():
            right = case.right.get(label)
            share = f"{sum(right) / len(right):.0%}" if right else "–"
            worst = max(max(latencies[label]) for latencies in case.rounds)
            lines.append(
                f"| {case.name} | {label} | {len(values)} | {case.median_round(label, 50):.1f} | "
                f"{case.median_round(label, 99):.1f} | {worst:.1f} | {share} |"
            )
    lines.append("")
    lines += [
        f"{case.name}: {case.texts:,} texts indexed in {case.build_seconds:.0f} s "
        f"({ITEMS / case.build_seconds:,.0f} items/s, one `replace()` per item)."
        for case in cases
    ]
    return lines
