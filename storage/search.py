"""Full-text search over content items (opportunities, FAQ, services) in every locale we serve.

`SearchIndex` is the interface; the work happens in a backend chosen by the session's database.
SQLite uses FTS5 ranked with bm25 (tables in migration 0003); PostgreSQL will get its own backend.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from rapidfuzz import process
from rapidfuzz.distance import OSA
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.text import SEARCH_LOCALES, language, stems, terms, words

SEARCH_TABLE_PREFIX = "search_"
MAX_QUERY_WORDS = 32  # a pasted paragraph is searched by its first words
MAX_QUERY_TERMS = 64
MAX_CORRECTIONS = 3  # unknown words corrected per query, longest first
MIN_VOCABULARY_LENGTH = 4  # shorter terms are neither corrected nor offered as corrections


@dataclass(frozen=True)
class Hit:
    """One item that matched a query."""

    item_id: int
    locale: str  # the locale of the text that matched
    score: float  # higher is better


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic name filter: the search tables are raw SQL (FTS5), not ORM models."""
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
        dialect = session.get_bind().dialect.name
        self._backend: SearchBackend | None = SQLiteSearch(session) if dialect == "sqlite" else None
        self._dialect = dialect

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


class _Document(NamedTuple):
    """One indexed text: an item's terms in one locale."""

    id: int
    locale: str
    terms: str


def _vocabulary(item_terms: Iterable[str]) -> set[str]:
    """Terms worth remembering for typo correction: long enough, and not numbers."""
    return {
        term
        for term in item_terms
        if len(term) >= MIN_VOCABULARY_LENGTH and not any(c.isdigit() for c in term)
    }


def _allowed_edits(term: str) -> int:
    """Typos forgiven in a term: one up to 7 letters, two from 8."""
    return 1 if len(term) < 8 else 2


def _quote(term: str) -> str:
    """An FTS5 string literal: user input can never become query syntax."""
    return '"' + term.replace('"', '""') + '"'


class _Word:
    """A query word and its terms as each locale would stem it, computed once per stemmer."""

    def __init__(self, lowered: str) -> None:
        self.lowered = lowered
        self._by_language: dict[str, list[str]] = {}

    def stems(self, locale: str) -> list[str]:
        """The word's terms in `locale`."""
        lang = language(locale)
        if lang not in self._by_language:
            self._by_language[lang] = stems(self.lowered, lang)
        return self._by_language[lang]

    def every_stem(self) -> set[str]:
        """The word's terms in every locale we serve."""
        return {term for locale in SEARCH_LOCALES for term in self.stems(locale)}


_MATCH = text(
    """
    WITH matches AS (
        SELECT docs.item_id, docs.locale, bm25(search_fts) AS rank
        FROM search_fts JOIN search_docs AS docs ON docs.id = search_fts.rowid
        WHERE search_fts MATCH :match AND docs.kind = :kind
    ), tiered AS (
        SELECT item_id, locale, rank,
               CASE WHEN locale = :locale THEN 0
                    WHEN locale = :language OR substr(locale, 1, :prefix_length) IN
                         (:language || '_', :language || '-') THEN 1
                    ELSE 2 END AS tier
        FROM matches
    ), best AS (
        SELECT item_id, locale, rank, tier,
               row_number() OVER (PARTITION BY item_id ORDER BY tier, rank) AS nth
        FROM tiered
    )
    SELECT item_id, locale, rank FROM best WHERE nth = 1 ORDER BY tier, rank LIMIT :limit
    """
)
_KNOWN = text(
    "SELECT locale, term FROM search_vocab WHERE kind = :kind AND term IN :terms"
).bindparams(bindparam("terms", expanding=True))
_CANDIDATES_IN_LOCALE = text(
    """
    SELECT locale, term, df FROM search_vocab
    WHERE kind = :kind AND locale = :locale AND term >= :low AND term < :high
      AND length(term) BETWEEN :shortest AND :longest
    """
)
_CANDIDATES = text(
    """
    SELECT locale, term, df FROM search_vocab
    WHERE kind = :kind AND term >= :low AND term < :high
      AND length(term) BETWEEN :shortest AND :longest
    """
)
_DOCUMENTS = text(
    "SELECT id, locale, terms FROM search_docs WHERE kind = :kind AND item_id = :item_id"
)
_INSERT_DOCUMENT = text(
    "INSERT INTO search_docs (kind, item_id, locale, terms) "
    "VALUES (:kind, :item_id, :locale, :terms)"
)
_INDEX_DOCUMENTS = text(
    "INSERT INTO search_fts (rowid, terms) SELECT id, terms FROM search_docs "
    "WHERE kind = :kind AND item_id = :item_id AND locale IN :locales"
).bindparams(bindparam("locales", expanding=True))
_UNINDEX_DOCUMENT = text(
    "INSERT INTO search_fts (search_fts, rowid, terms) VALUES ('delete', :id, :terms)"
)
_DELETE_DOCUMENTS = text("DELETE FROM search_docs WHERE id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)
_COUNT_TERM = text(
    "INSERT INTO search_vocab (kind, locale, term, df) VALUES (:kind, :locale, :term, 1) "
    "ON CONFLICT (kind, locale, term) DO UPDATE SET df = df + 1"
)
_UNCOUNT_TERM = text(
    "UPDATE search_vocab SET df = df - 1 WHERE kind = :kind AND locale = :locale AND term = :term"
)
_FORGET_TERM = text(
    "DELETE FROM search_vocab WHERE kind = :kind AND locale = :locale AND term = :term AND df <= 0"
)


class SQLiteSearch:
    """FTS5 backend: one row per item and locale, ranked by bm25, typos corrected by a term list.

    A query word is stemmed as the user's locale would stem it, and as every locale whose texts
    hold the resulting term; a word that no locale knows is corrected against the term list.
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def replace(self, kind: str, item_id: int, texts: dict[str, str]) -> None:
        """(Re)index an item's texts; unchanged locales are left as they are."""
        wanted = {locale: " ".join(terms(content, locale)) for locale, content in texts.items()}
        wanted = {locale: item_terms for locale, item_terms in wanted.items() if item_terms}
        existing = await self._documents(kind, item_id)
        stale = [doc for doc in existing if wanted.get(doc.locale) != doc.terms]
        kept = {doc.locale for doc in existing} - {doc.locale for doc in stale}
        await self._unindex(kind, stale)
        fresh = [
            {"kind": kind, "item_id": item_id, "locale": locale, "terms": item_terms}
            for locale, item_terms in wanted.items()
            if locale not in kept
        ]
        if not fresh:
            return
        await self.session.execute(_INSERT_DOCUMENT, fresh)
        await self.session.execute(
            _INDEX_DOCUMENTS,
            {"kind": kind, "item_id": item_id, "locales": [row["locale"] for row in fresh]},
        )
        counted = [
            {"kind": kind, "locale": row["locale"], "term": term}
            for row in fresh
            for term in _vocabulary(row["terms"].split())
        ]
        if counted:
            await self.session.execute(_COUNT_TERM, counted)

    async def remove(self, kind: str, item_id: int) -> None:
        """Drop every text of the item."""
        await self._unindex(kind, await self._documents(kind, item_id))

    async def search(self, kind: str, query: str, locale: str, limit: int) -> list[Hit]:
        """Best items first, one per item: own locale, then same language, then the rest."""
        match_terms = await self._query_terms(kind, query, locale)
        if not match_terms:
            return []
        lang = language(locale)
        rows = await self.session.execute(
            _MATCH,
            {
                "match": " OR ".join(_quote(term) for term in match_terms),
                "kind": kind,
                "locale": locale,
                "language": lang,
                "prefix_length": len(lang) + 1,
                "limit": limit,
            },
        )
        return [Hit(item_id, hit_locale, -rank) for item_id, hit_locale, rank in rows]

    async def _query_terms(self, kind: str, query: str, locale: str) -> list[str]:
        """The FTS terms of a query: its stems in the user's locale, in each locale that has them,
        and corrections of the words that no locale has."""
        query_words = [_Word(word) for word in words(query, locale)[:MAX_QUERY_WORDS]]
        known = await self._known(kind, [word.every_stem() for word in query_words])
        found: dict[str, None] = {}
        unknown: list[_Word] = []
        for word in query_words:
            own = word.stems(locale)
            found.update(dict.fromkeys(own))
            found.update(dict.fromkeys(word.stems("")))  # as the locales without a stemmer index it
            matched = [term for term_locale, term in known if term in word.stems(term_locale)]
            found.update(dict.fromkeys(matched))
            if not matched and _vocabulary(own):
                unknown.append(word)
        unknown.sort(key=lambda word: max(map(len, word.stems(locale))), reverse=True)
        for word in unknown[:MAX_CORRECTIONS]:
            found.update(dict.fromkeys(await self._corrections(kind, word, locale)))
        return list(found)[:MAX_QUERY_TERMS]

    async def _known(self, kind: str, candidates: list[set[str]]) -> list[tuple[str, str]]:
        """The (locale, term) pairs of the index among the candidate terms."""
        wanted = sorted(_vocabulary(term for terms_ in candidates for term in terms_))
        if not wanted:
            return []
        rows = await self.session.execute(_KNOWN, {"kind": kind, "terms": wanted})
        return [(term_locale, term) for term_locale, term in rows]

    async def _corrections(self, kind: str, word: _Word, locale: str) -> list[str]:
        """The closest known terms to an unknown word: from the user's locale if it has one close
        enough, else from any locale. The first letter must be right, as in most spell checkers."""
        for statement, locales in (
            (_CANDIDATES_IN_LOCALE, (locale,)),
            (_CANDIDATES, SEARCH_LOCALES),
        ):
            variants = {term for term_locale in locales for term in word.stems(term_locale)}
            longest = max(map(len, variants))
            edits = _allowed_edits(max(variants, key=len))
            close: list[tuple[int, bool, int, str]] = []  # distance, foreign, -df, term
            for initial in sorted({term[0] for term in variants}):
                rows = await self.session.execute(
                    statement,
                    {
                        "kind": kind,
                        "locale": locale,
                        "low": initial,
                        "high": chr(ord(initial) + 1),
                        "shortest": min(map(len, variants)) - edits,
                        "longest": longest + edits,
                    },
                )
                close += self._closest(word, locale, edits, rows.all())
            if close:
                best = min(close)
                return [term for distance, *_, term in close if distance == best[0]][:1]
        return []

    @staticmethod
    def _closest(
        word: _Word, locale: str, edits: int, candidates: Sequence[Any]
    ) -> list[tuple[int, bool, int, str]]:
        """Candidates within `edits` of the word as their own locale stems it."""
        by_locale: dict[str, list[Any]] = {}
        for candidate in candidates:
            by_locale.setdefault(candidate.locale, []).append(candidate)
        close = []
        for term_locale, group in by_locale.items():
            choices = [candidate.term for candidate in group]
            for variant in word.stems(term_locale):
                for _, distance, index in process.extract(
                    variant, choices, scorer=OSA.distance, score_cutoff=edits, limit=None
                ):
                    candidate = group[index]
                    close.append(
                        (int(distance), term_locale != locale, -candidate.df, candidate.term)
                    )
        return close

    async def _documents(self, kind: str, item_id: int) -> list[_Document]:
        """The item's indexed texts."""
        rows = await self.session.execute(_DOCUMENTS, {"kind": kind, "item_id": item_id})
        return [_Document(*row) for row in rows]

    async def _unindex(self, kind: str, documents: list[_Document]) -> None:
        """Remove texts from the full-text index, the term counts and the document table."""
        if not documents:
            return
        await self.session.execute(
            _UNINDEX_DOCUMENT, [{"id": doc.id, "terms": doc.terms} for doc in documents]
        )
        uncounted = [
            {"kind": kind, "locale": doc.locale, "term": term}
            for doc in documents
            for term in _vocabulary(doc.terms.split())
        ]
        if uncounted:
            await self.session.execute(_UNCOUNT_TERM, uncounted)
            await self.session.execute(_FORGET_TERM, uncounted)
        await self.session.execute(_DELETE_DOCUMENTS, {"ids": [doc.id for doc in documents]})
