"""Full-text search over content items (opportunities, FAQ, services) in every locale we serve.

`SearchIndex` is the interface; the work happens in a backend chosen by the session's database.
Both backends share `VocabularySearch` (the same terms, term counts and typo corrections) and
differ in how texts are stored, matched and ranked: SQLite uses FTS5 ranked with bm25 (here),
PostgreSQL a tsvector per text, scored by the same bm25 formula, and pg_trgm to find corrections
(storage/search_postgres.py). The tables of both are in migration 0003.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from rapidfuzz import process
from rapidfuzz.distance import OSA
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.text import fold, language, stems, terms, words

SEARCH_TABLE_PREFIX = "search_"
MAX_QUERY_WORDS = 32  # a pasted paragraph is searched by its first words
MAX_QUERY_TERMS = 64
MAX_CORRECTIONS = 3  # unknown words corrected per query, longest first
MIN_CORRECTABLE_LENGTH = 4  # shorter terms are neither corrected nor offered as corrections
PREFIX_SHARE = 0.6  # a known term as long as this share of a typed word may be its stem
MAX_MATCHES = 4000  # texts one query may rank; bm25 costs about 2 µs per matching text
COMMON_SHARE = 0.25  # a word in this share of a locale's texts is a stop word there ...
COMMON_MIN_TEXTS = 50  # ... once the locale has this many texts to tell


@dataclass(frozen=True)
class Hit:
    """One item that matched a query."""

    item_id: int
    locale: str  # the locale of the text that matched
    score: float  # bm25, higher is better; the list puts the user's locale first regardless


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic name filter: the search tables are raw SQL (FTS5, tsvector), not ORM models."""
    return not (type_ == "table" and name is not None and name.startswith(SEARCH_TABLE_PREFIX))


class SearchBackend(Protocol):
    """What a database needs to provide for `SearchIndex`."""

    async def replace(self, kind: str, item_id: int, texts: dict[str, str]) -> None:
        """(Re)index an item's texts, locale → text."""

    async def remove(self, kind: str, item_id: int) -> None:
        """Drop an item from the index."""

    async def search(self, kind: str, query: str, locale: str, limit: int) -> list[Hit]:
        """Best items first, the user's own locale before the others."""


class SearchIndex:
    """Full-text search over content items of one `kind` ("opportunity", "faq", "service")."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._dialect = session.get_bind().dialect.name
        self._backend: SearchBackend | None = None
        if self._dialect == "sqlite":
            self._backend = SQLiteSearch(session)
        elif self._dialect == "postgresql":
            from storage.search_postgres import PostgresSearch  # it builds on this module

            self._backend = PostgresSearch(session)

    @property
    def backend(self) -> SearchBackend:
        """The backend for this session's database."""
        if self._backend is None:
            raise NotImplementedError(f"no search backend for {self._dialect} yet")
        return self._backend

    async def replace(self, kind: str, item_id: int, texts: dict[str, str]) -> None:
        """(Re)index an item: locale -> searchable text (e.g. title + description, or question +
        phrasings)."""
        await self.backend.replace(kind, item_id, texts)

    async def remove(self, kind: str, item_id: int) -> None:
        """Drop an item from the index (nothing happens if it is not there)."""
        await self.backend.remove(kind, item_id)

    async def search(self, kind: str, query: str, locale: str, limit: int = 20) -> list[Hit]:
        """Best items first (one Hit per item), the user's own locale ranked before others."""
        if limit <= 0 or not query.strip():
            return []
        return await self.backend.search(kind, query, locale, limit)


# A text's rowid: kind code (15 bits), item id (40 bits), locale code (8 bits).
ITEM_SHIFT, KIND_SHIFT = 8, 48
LOCALE_MASK, ITEM_MASK = (1 << ITEM_SHIFT) - 1, (1 << (KIND_SHIFT - ITEM_SHIFT)) - 1
MAX_KIND_CODE = (1 << (63 - KIND_SHIFT)) - 1


class IndexedText(NamedTuple):
    """One indexed text: its packed rowid and its terms."""

    id: int
    terms: str

    @property
    def locale_code(self) -> int:
        """The code of the text's locale."""
        return self.id & LOCALE_MASK


class _Codes(NamedTuple):
    """The code of a kind, and every indexed locale by code."""

    kind: int
    locales: dict[int, str]

    def of(self, locale: str) -> int | None:
        """The code of a locale, if it has texts."""
        return next((code for code, name in self.locales.items() if name == locale), None)


def _rowid(kind_code: int, item_id: int, locale_code: int) -> int:
    """The rowid of one item's text in one locale."""
    return kind_code << KIND_SHIFT | item_id << ITEM_SHIFT | locale_code


def _correctable(term: str) -> bool:
    """Whether a term is long enough to correct or to offer as a correction, and not a number."""
    return len(term) >= MIN_CORRECTABLE_LENGTH and not any(c.isdigit() for c in term)


def _shortest_prefix(word: str) -> int:
    """The shortest known term that may stand for the start of a longer typed word."""
    return math.ceil(PREFIX_SHARE * len(word))


def _allowed_edits(term: str) -> int:
    """Typos forgiven in a term: one up to 7 letters, two from 8."""
    return 1 if len(term) < 8 else 2


class _Word:
    """A query word and its terms as each locale would stem it, computed once per stemmer."""

    def __init__(self, lowered: str) -> None:
        self.lowered = lowered
        self.folded = fold(lowered)
        self._by_language: dict[str, list[str]] = {}

    def stems(self, locale: str) -> list[str]:
        """The word's terms in `locale`."""
        lang = language(locale)
        if lang not in self._by_language:
            self._by_language[lang] = stems(self.lowered, lang)
        return self._by_language[lang]

    def every_stem(self, locales: Iterable[str]) -> set[str]:
        """The word's terms in each of the locales."""
        return {term for locale in locales for term in self.stems(locale)}


class _Close(NamedTuple):
    """A known term close to an unknown word, ordered best first."""

    foreign: bool  # not in the user's locale
    distance: int
    minus_length: int  # longer is more specific
    minus_df: int  # more texts is likelier
    term: str


class RankQuery(NamedTuple):
    """What a backend ranks: texts of one kind holding any of the terms."""

    kind: int
    terms: list[str]
    own: int  # the code of the user's locale, -1 if it has no texts
    same_language: list[int]  # codes of the other locales of the user's language

    def parameters(self) -> dict[str, object]:
        """The bound parameters both backends' ranking statements take."""
        return {
            "low": self.kind << KIND_SHIFT,
            "high": ((self.kind + 1) << KIND_SHIFT) - 1,
            "locale_mask": LOCALE_MASK,
            "own": self.own,
            "same_language": self.same_language,
        }


class _Terms(NamedTuple):
    """FTS terms that stand for one query word, how many texts they match, and whether the word
    is too common to be worth ranking by ("the", "di", "في") when the query has other words."""

    terms: list[str]
    matches: int
    common: bool = False


_CODES = text(
    "SELECT 0, code, kind FROM search_kinds WHERE kind = :kind "
    "UNION ALL SELECT 1, code, locale FROM search_locales"
)
_KIND_CODE = text("SELECT code FROM search_kinds WHERE kind = :kind")
# Insert only what is missing: on PostgreSQL, ON CONFLICT alone would use up an identity value on
# every call, and codes must stay small (they are packed into rowids).
_ADD_KIND = text(
    "INSERT INTO search_kinds (kind) SELECT CAST(:kind AS TEXT) "
    "WHERE NOT EXISTS (SELECT 1 FROM search_kinds WHERE kind = :kind) ON CONFLICT DO NOTHING"
)
_LOCALE_CODES = text("SELECT locale, code FROM search_locales WHERE locale IN :locales").bindparams(
    bindparam("locales", expanding=True)
)
_ADD_LOCALE = text(
    "INSERT INTO search_locales (locale) SELECT CAST(:locale AS TEXT) "
    "WHERE NOT EXISTS (SELECT 1 FROM search_locales WHERE locale = :locale) ON CONFLICT DO NOTHING"
)
_KNOWN = text(
    "SELECT locale, term, df FROM search_vocab WHERE kind = :kind AND term IN :terms"
).bindparams(bindparam("terms", expanding=True))
_SAME_INITIAL = text(
    """
    SELECT locale, term, df FROM search_vocab
    WHERE kind = :kind AND term >= :low AND term < :high
      AND length(term) BETWEEN :shortest AND :longest
    """
)
_DOCUMENTS = text("SELECT id, terms FROM search_docs WHERE id BETWEEN :low AND :high")


class VocabularySearch(ABC):
    """What both backends share: one text per item and locale, typos corrected by a term list.

    search_vocab counts, per kind and locale, the texts holding each term. A query word stands
    for the terms it stems to in the locales that hold them; a word no locale holds is corrected
    against the list. The count also bounds the work: the most common words of a long question
    are left out (bm25 would give them little weight anyway). A backend stores, matches and
    ranks the texts.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def replace(self, kind: str, item_id: int, texts: dict[str, str]) -> None:
        """(Re)index an item's texts; unchanged locales are left as they are."""
        if not 0 <= item_id <= ITEM_MASK:
            raise ValueError(f"item ids must be within 0..{ITEM_MASK}")
        wanted = {locale: " ".join(terms(content, locale)) for locale, content in texts.items()}
        wanted = {locale: item_terms for locale, item_terms in wanted.items() if item_terms}
        kind_code = await self._kind_code(kind, create=bool(wanted))
        if kind_code is None:
            return
        locale_codes = await self._locale_codes(wanted)
        wanted_by_id = {
            _rowid(kind_code, item_id, locale_codes[locale]): item_terms
            for locale, item_terms in wanted.items()
        }
        existing = await self._documents(kind_code, item_id)
        stale = [doc for doc in existing if wanted_by_id.get(doc.id) != doc.terms]
        kept = {doc.id for doc in existing} - {doc.id for doc in stale}
        await self._unindex(kind_code, stale)
        fresh = [IndexedText(id, terms) for id, terms in wanted_by_id.items() if id not in kept]
        if fresh:
            await self._add(kind_code, fresh)

    async def remove(self, kind: str, item_id: int) -> None:
        """Drop every text of the item."""
        kind_code = await self._kind_code(kind, create=False)
        if kind_code is not None and 0 <= item_id <= ITEM_MASK:
            await self._unindex(kind_code, await self._documents(kind_code, item_id))

    async def search(self, kind: str, query: str, locale: str, limit: int) -> list[Hit]:
        """Best items first, one per item: own locale, then same language, then the rest."""
        codes = await self._codes(kind)
        match_terms = await self._query_terms(codes, query, locale) if codes else []
        if not codes or not match_terms:
            return []
        own = codes.of(locale)
        query_to_rank = RankQuery(
            codes.kind,
            match_terms,
            -1 if own is None else own,
            [
                code
                for code, name in codes.locales.items()
                if code != own and language(name) == language(locale)
            ],
        )
        # An item matches in up to one text per locale: fetch texts, best first, until `limit`
        # items have turned up (a window function over every match costs more than this).
        rows_wanted = limit * 4
        while True:
            rows = await self._ranked(query_to_rank, rows_wanted)
            hits: dict[int, Hit] = {}
            for rowid, score in rows:
                item_id = rowid >> ITEM_SHIFT & ITEM_MASK
                if item_id not in hits:
                    hits[item_id] = Hit(item_id, codes.locales[rowid & LOCALE_MASK], score)
            if len(hits) >= limit or len(rows) < rows_wanted:
                return list(hits.values())[:limit]
            rows_wanted *= 4

    async def _query_terms(self, codes: _Codes, query: str, locale: str) -> list[str]:
        """The FTS terms of a query, within the work budget, rarest words first."""
        query_words = [_Word(word) for word in words(query, locale)[:MAX_QUERY_WORDS]]
        every_locale = {*codes.locales.values(), locale}
        candidates = {term for word in query_words for term in word.every_stem(every_locale)}
        if not candidates:
            return []
        candidates.add("")  # each locale's count of texts
        rows = (
            await self.session.execute(_KNOWN, {"kind": codes.kind, "terms": sorted(candidates)})
        ).all()
        known = [(codes.locales[code], term, df) for code, term, df in rows if term]
        texts = {codes.locales[code]: df for code, term, df in rows if not term}
        matches: dict[str, int] = {}
        for _, term, df in known:
            matches[term] = matches.get(term, 0) + df
        groups: list[_Terms] = []
        unknown: list[_Word] = []
        for word in query_words:
            found = [(at, term, df) for at, term, df in known if term in word.stems(at)]
            if found:
                group_terms = list(dict.fromkeys(term for _, term, _ in found))
                common = all(
                    texts[at] >= COMMON_MIN_TEXTS and df >= COMMON_SHARE * texts[at]
                    for at, _, df in found
                )
                groups.append(
                    _Terms(group_terms, sum(matches[term] for term in group_terms), common)
                )
            elif any(map(_correctable, [*word.stems(locale), word.folded])):
                unknown.append(word)
        unknown.sort(key=lambda word: len(word.folded), reverse=True)
        for word in unknown[:MAX_CORRECTIONS]:
            correction = await self._correction(codes, word, locale)
            if correction:
                groups.append(correction)
        return self._within_budget(groups)

    @staticmethod
    def _within_budget(groups: list[_Terms]) -> list[str]:
        """The rarest words' terms while they match at most MAX_MATCHES texts (at least one),
        leaving out common words unless the query has nothing else."""
        if not all(group.common for group in groups):
            groups = [group for group in groups if not group.common]
        chosen: dict[str, None] = {}
        total = 0
        for group in sorted(groups, key=lambda group: group.matches):
            if chosen and total + group.matches > MAX_MATCHES:
                break
            total += group.matches
            chosen.update(dict.fromkeys(group.terms))
        return list(chosen)[:MAX_QUERY_TERMS]

    async def _correction(self, codes: _Codes, word: _Word, locale: str) -> _Terms | None:
        """The closest known term to an unknown word, from the user's locale if it has one close
        enough. The first letter must be right, as in most spell checkers."""
        forms = list(filter(_correctable, {*word.every_stem(codes.locales.values()), word.folded}))
        if not forms:
            return None
        edits = _allowed_edits(max(forms, key=len))
        shortest = min(min(map(len, forms)) - edits, _shortest_prefix(word.folded))
        candidates = await self._candidates(
            codes.kind,
            sorted(forms),
            max(MIN_CORRECTABLE_LENGTH, shortest),
            max(map(len, forms)) + edits,
        )
        close = self._closest(word, codes, locale, edits, candidates)
        if not close:
            return None
        best = min(close)
        return _Terms([best.term], -best.minus_df)

    @staticmethod
    def _closest(
        word: _Word, codes: _Codes, locale: str, edits: int, candidates: Sequence[Any]
    ) -> list[_Close]:
        """Candidates within `edits` of the word: as the candidate's locale stems it, as typed,
        or within one slip of the typed word's start (a misspelt ending can keep a stemmer from
        stripping it)."""
        if not candidates:
            return []
        locale_codes, known_terms, dfs = zip(*candidates, strict=True)
        distances: dict[int, int] = {}

        def keep(query: str, most: int, accept: Callable[[int], bool]) -> None:
            for _, distance, index in process.extract(
                query, known_terms, scorer=OSA.distance, score_cutoff=most, limit=None
            ):
                if accept(index):
                    distances[index] = min(int(distance), distances.get(index, most))

        def stemmed_so(variant: str) -> Callable[[int], bool]:
            return lambda index: variant in word.stems(codes.locales[locale_codes[index]])

        for variant in word.every_stem(codes.locales.values()):
            keep(variant, edits, stemmed_so(variant))
        keep(word.folded, edits, lambda index: True)
        shortest, typed = _shortest_prefix(word.folded), len(word.folded)
        for cut in range(max(1, shortest - 1), typed):
            keep(word.folded[:cut], 1, lambda index: shortest <= len(known_terms[index]) < typed)
        return [
            _Close(
                codes.locales[locale_codes[index]] != locale,
                distance,
                -len(known_terms[index]),
                -dfs[index],
                known_terms[index],
            )
            for index, distance in distances.items()
        ]

    async def _codes(self, kind: str) -> _Codes | None:
        """The kind's code and every locale's; None if nothing of that kind was indexed."""
        kind_code, locales = None, {}
        for is_locale, code, name in await self.session.execute(_CODES, {"kind": kind}):
            if is_locale:
                locales[code] = name
            else:
                kind_code = code
        return None if kind_code is None else _Codes(kind_code, locales)

    async def _kind_code(self, kind: str, create: bool) -> int | None:
        """The kind's code, given one on first use if `create`."""
        if create:
            await self.session.execute(_ADD_KIND, {"kind": kind})
        code = await self.session.scalar(_KIND_CODE, {"kind": kind})
        if code is not None and code > MAX_KIND_CODE:
            raise ValueError("too many kinds of content for the search index")
        return code

    async def _locale_codes(self, locales: Iterable[str]) -> dict[str, int]:
        """Each locale's code, given one on first use."""
        names = sorted(locales)
        if not names:
            return {}
        await self.session.execute(_ADD_LOCALE, [{"locale": name} for name in names])
        rows = await self.session.execute(_LOCALE_CODES, {"locales": names})
        codes = {name: code for name, code in rows}
        if any(code > LOCALE_MASK for code in codes.values()):
            raise ValueError("too many locales for the search index")
        return codes

    async def _documents(self, kind_code: int, item_id: int) -> list[IndexedText]:
        """The item's indexed texts: one rowid range."""
        first = _rowid(kind_code, item_id, 0)
        rows = await self.session.execute(_DOCUMENTS, {"low": first, "high": first | LOCALE_MASK})
        return [IndexedText(*row) for row in rows]

    @staticmethod
    def _term_pairs(kind_code: int, documents: list[IndexedText]) -> dict[str, object]:
        """Parameters naming each distinct term of each text, and "" that counts the texts."""
        pairs = [[doc.locale_code, term] for doc in documents for term in {"", *doc.terms.split()}]
        return {"kind": kind_code, "pairs": json.dumps(pairs, ensure_ascii=False)}

    async def _unindex(self, kind_code: int, documents: list[IndexedText]) -> None:
        """Remove texts from the index and the term counts."""
        if documents:
            await self._drop(kind_code, documents)

    async def _same_initial(
        self, kind_code: int, forms: list[str], shortest: int, longest: int
    ) -> list[Any]:
        """Every known term `shortest` to `longest` long that starts with a form's first letter
        (terms compare by code point: a range per letter)."""
        candidates: list[Any] = []
        for initial in sorted({form[0] for form in forms}):
            rows = await self.session.execute(
                _SAME_INITIAL,
                {
                    "kind": kind_code,
                    "low": initial,
                    "high": chr(ord(initial) + 1),
                    "shortest": shortest,
                    "longest": longest,
                },
            )
            candidates += rows.all()
        return candidates

    # --- what a backend provides --------------------------------------------------------

    @abstractmethod
    async def _add(self, kind_code: int, documents: list[IndexedText]) -> None:
        """Store and index new texts and count their terms."""

    @abstractmethod
    async def _drop(self, kind_code: int, documents: list[IndexedText]) -> None:
        """Remove texts from the index, the term counts and the document table."""

    @abstractmethod
    async def _ranked(self, query: RankQuery, rows: int) -> list[tuple[int, float]]:
        """Up to `rows` matching texts as (rowid, score): own locale, then same language, then
        the rest, each best (highest score) first."""

    @abstractmethod
    async def _candidates(
        self, kind_code: int, forms: list[str], shortest: int, longest: int
    ) -> Sequence[Any]:
        """Known terms (locale code, term, df) that may be a typo of one of the forms: the same
        first letter, `shortest` to `longest` long. `_closest` then measures each one."""


_MATCH = text(
    """
    SELECT rowid, bm25(search_fts) AS score,
           CASE WHEN rowid & :locale_mask = :own THEN 0
                WHEN rowid & :locale_mask IN :same_language THEN 1
                ELSE 2 END AS tier
    FROM search_fts WHERE search_fts MATCH :match AND rowid BETWEEN :low AND :high
    ORDER BY tier, score LIMIT :rows
    """
).bindparams(bindparam("same_language", expanding=True))
_INSERT_DOCUMENT = text("INSERT INTO search_docs (id, terms) VALUES (:id, :terms)")
_INDEX_DOCUMENT = text("INSERT INTO search_fts (rowid, terms) VALUES (:id, :terms)")
_UNINDEX_DOCUMENT = text(
    "INSERT INTO search_fts (search_fts, rowid, terms) VALUES ('delete', :id, :terms)"
)
_DELETE_DOCUMENTS = text("DELETE FROM search_docs WHERE id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)
# :pairs is a JSON array of [locale code, term]; a text's terms are counted once per text.
# The term "" counts a locale's texts.
_COUNT_TERMS = text(
    """
    INSERT INTO search_vocab (kind, locale, term, df)
    SELECT :kind, json_extract(value, '$[0]'), json_extract(value, '$[1]'), 1
    FROM json_each(:pairs) WHERE true
    ON CONFLICT (kind, term, locale) DO UPDATE SET df = df + excluded.df
    """
)
_UNCOUNT_TERMS = text(
    """
    INSERT INTO search_vocab (kind, locale, term, df)
    SELECT :kind, json_extract(value, '$[0]'), json_extract(value, '$[1]'), 0
    FROM json_each(:pairs) WHERE true
    ON CONFLICT (kind, term, locale) DO UPDATE SET df = df - 1
    """
)
_FORGET_TERMS = text(
    """
    DELETE FROM search_vocab WHERE kind = :kind AND df <= 0
      AND term IN (SELECT json_extract(value, '$[1]') FROM json_each(:pairs))
    """
)


def _quote(term: str) -> str:
    """An FTS5 string literal: user input can never become query syntax."""
    return '"' + term.replace('"', '""') + '"'


class SQLiteSearch(VocabularySearch):
    """FTS5 backend: texts ranked by bm25; corrections are sought among terms of the same first
    letter."""

    async def _add(self, kind_code: int, documents: list[IndexedText]) -> None:
        """Store texts, add them to the FTS5 index, count their terms."""
        rows = [doc._asdict() for doc in documents]
        await self.session.execute(_INSERT_DOCUMENT, rows)
        await self.session.execute(_INDEX_DOCUMENT, rows)
        await self.session.execute(_COUNT_TERMS, self._term_pairs(kind_code, documents))

    async def _drop(self, kind_code: int, documents: list[IndexedText]) -> None:
        """Take texts out of the FTS5 index, the term counts and the document table."""
        await self.session.execute(_UNINDEX_DOCUMENT, [doc._asdict() for doc in documents])
        uncounted = self._term_pairs(kind_code, documents)
        await self.session.execute(_UNCOUNT_TERMS, uncounted)
        await self.session.execute(_FORGET_TERMS, uncounted)
        await self.session.execute(_DELETE_DOCUMENTS, {"ids": [doc.id for doc in documents]})

    async def _ranked(self, query: RankQuery, rows: int) -> list[tuple[int, float]]:
        """FTS5 MATCH ranked by bm25 (which FTS5 makes negative: lower is better)."""
        match = " OR ".join(_quote(term) for term in query.terms)
        result = await self.session.execute(
            _MATCH, {**query.parameters(), "match": match, "rows": rows}
        )
        return [(rowid, -score) for rowid, score, _ in result]

    async def _candidates(
        self, kind_code: int, forms: list[str], shortest: int, longest: int
    ) -> Sequence[Any]:
        """Every known term of the right length that starts with a form's first letter."""
        return await self._same_initial(kind_code, forms, shortest, longest)
