"""PostgreSQL search backend: a tsvector per text, ranked by bm25, corrections found by pg_trgm.

The texts hold the terms `storage.text` made (normalised, folded, stemmed), so the tsvector is
built from those terms as they are: no text search configuration re-parses or re-stems them, and
a query matches exactly the terms SQLite would match. The score is FTS5's bm25, computed from the
term counts in search_vocab and each text's length, so both databases rank alike.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, text

from storage.search import IndexedText, RankQuery, VocabularySearch

MAX_POSITION = 16383  # the largest position a tsvector records; later ones are clamped
BM25_K1, BM25_B = 1.2, 0.75  # FTS5's
MIN_IDF = 1e-6  # FTS5's floor for a term in more than half of the texts
# Two letters swapped in a word under 7 letters can leave it less than pg_trgm's 30% of trigrams
# in common with the right word; such words are compared with every term of their length instead.
TRIGRAM_MIN_LENGTH = 7

_INSERT_DOCUMENTS = text(
    "INSERT INTO search_docs (id, terms, size, vector) "
    "VALUES (:id, :terms, :size, CAST(:vector AS tsvector))"
)
_DELETE_DOCUMENTS = text("DELETE FROM search_docs WHERE id = ANY(CAST(:ids AS BIGINT[]))")
_GROW_KIND = text(
    "UPDATE search_kinds SET indexed_terms = indexed_terms + :size WHERE code = :kind"
)
# :pairs is a JSON array of [locale code, term]; the term "" counts a locale's texts. Rows are
# taken in key order, so two transactions indexing at once lock them in the same order.
_PAIRS = """
    SELECT CAST(pair ->> 0 AS INTEGER) AS locale, pair ->> 1 AS term, count(*) AS texts
    FROM jsonb_array_elements(CAST(:pairs AS JSONB)) AS pairs(pair)
    GROUP BY 1, 2
"""
_COUNT_TERMS = text(
    f"""
    INSERT INTO search_vocab (kind, locale, term, df)
    SELECT CAST(:kind AS INTEGER), locale, term, texts FROM ({_PAIRS}) AS counted
    ORDER BY term, locale
    ON CONFLICT (kind, term, locale) DO UPDATE SET df = search_vocab.df + excluded.df
    """
)
_UNCOUNT_TERMS = text(
    f"""
    UPDATE search_vocab SET df = search_vocab.df - counted.texts FROM ({_PAIRS}) AS counted
    WHERE search_vocab.kind = :kind AND search_vocab.term = counted.term
      AND search_vocab.locale = counted.locale
    """
)
_FORGET_TERMS = text(
    f"""
    DELETE FROM search_vocab WHERE kind = :kind AND df <= 0
      AND term IN (SELECT term FROM ({_PAIRS}) AS counted)
    """
)
# bm25 exactly as FTS5 computes it, so both databases rank alike: FTS5 counts texts, terms and
# lengths over its whole table, here the texts of every kind (search_vocab's "" counts texts,
# search_kinds.indexed_terms their lengths); tf is the number of positions a text holds.
_MATCH = text(
    """
    WITH bm25 AS (
        SELECT CAST(:k1 AS DOUBLE PRECISION) AS k1, CAST(:b AS DOUBLE PRECISION) AS b,
               CAST(:min_idf AS DOUBLE PRECISION) AS min_idf
    ), texts AS (
        SELECT CAST(sum(df) AS DOUBLE PRECISION) AS total FROM search_vocab WHERE term = ''
    ), weights AS (
        SELECT term, greatest(ln((texts.total - sum(df) + 0.5) / (sum(df) + 0.5)), bm25.min_idf)
               AS idf
        FROM search_vocab, texts, bm25
        WHERE term = ANY(CAST(:terms AS TEXT[]))
        GROUP BY term, texts.total, bm25.min_idf
    ), average AS (
        SELECT greatest(sum(indexed_terms) / texts.total, 1) AS size
        FROM search_kinds, texts GROUP BY texts.total
    )
    SELECT docs.id,
           sum(weights.idf * lexemes.tf * (bm25.k1 + 1)
               / (lexemes.tf + bm25.k1 * (1 - bm25.b + bm25.b * docs.size / average.size)))
               AS score,
           CASE WHEN (docs.id & :locale_mask) = :own THEN 0
                WHEN (docs.id & :locale_mask) IN :same_language THEN 1
                ELSE 2 END AS tier
    FROM search_docs AS docs
    CROSS JOIN LATERAL (
        SELECT lexeme, cardinality(positions) AS tf FROM unnest(docs.vector)
    ) AS lexemes
    JOIN weights ON weights.term = lexemes.lexeme
    CROSS JOIN average
    CROSS JOIN bm25
    WHERE docs.vector @@ CAST(:query AS tsquery) AND docs.id BETWEEN :low AND :high
    GROUP BY docs.id
    ORDER BY tier, score DESC, docs.id
    LIMIT :rows
    """
).bindparams(bindparam("same_language", expanding=True))
# The trigram index finds terms that share enough letter triples with a form; `_closest` then
# keeps only those within the allowed edits.
_CANDIDATES = text(
    """
    SELECT DISTINCT vocab.locale, vocab.term, vocab.df
    FROM unnest(CAST(:forms AS TEXT[])) AS forms(form)
    JOIN search_vocab AS vocab ON vocab.term % forms.form
    WHERE vocab.kind = :kind AND left(vocab.term, 1) = ANY(CAST(:initials AS TEXT[]))
      AND length(vocab.term) BETWEEN :shortest AND :longest
    """
)


def _lexeme(term: str) -> str:
    """A quoted tsvector/tsquery lexeme: taken as it is, never as operators, weights or prefixes."""
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def _vector(terms: str) -> str:
    """The tsvector text of a text's terms, with each term's positions (its frequency)."""
    positions: dict[str, list[str]] = defaultdict(list)
    for position, term in enumerate(terms.split(), start=1):
        positions[term].append(str(min(position, MAX_POSITION)))
    return " ".join(f"{_lexeme(term)}:{','.join(where)}" for term, where in positions.items())


class PostgresSearch(VocabularySearch):
    """tsvector backend: texts matched through a GIN index and ranked by bm25; corrections are
    sought among known terms that pg_trgm finds similar."""

    async def _add(self, kind_code: int, documents: list[IndexedText]) -> None:
        """Store texts with their vectors, count their terms and their length."""
        rows = [
            {
                "id": doc.id,
                "terms": doc.terms,
                "size": len(doc.terms.split()),
                "vector": _vector(doc.terms),
            }
            for doc in documents
        ]
        await self.session.execute(_INSERT_DOCUMENTS, rows)
        await self.session.execute(_COUNT_TERMS, self._term_pairs(kind_code, documents))
        size = sum(row["size"] for row in rows)
        await self.session.execute(_GROW_KIND, {"kind": kind_code, "size": size})

    async def _drop(self, kind_code: int, documents: list[IndexedText]) -> None:
        """Delete texts and take their terms and length out of the counts."""
        pairs = self._term_pairs(kind_code, documents)
        await self.session.execute(_UNCOUNT_TERMS, pairs)
        await self.session.execute(_FORGET_TERMS, pairs)
        size = sum(len(doc.terms.split()) for doc in documents)
        await self.session.execute(_GROW_KIND, {"kind": kind_code, "size": -size})
        await self.session.execute(_DELETE_DOCUMENTS, {"ids": [doc.id for doc in documents]})

    async def _ranked(self, query: RankQuery, rows: int) -> list[tuple[int, float]]:
        """Texts holding any of the terms, by tier and then bm25."""
        result = await self.session.execute(
            _MATCH,
            {
                **query.parameters(),
                "terms": query.terms,
                "query": " | ".join(map(_lexeme, query.terms)),
                "k1": BM25_K1,
                "b": BM25_B,
                "min_idf": MIN_IDF,
                "rows": rows,
            },
        )
        return [(rowid, score) for rowid, score, _ in result]

    async def _candidates(
        self, kind_code: int, forms: list[str], shortest: int, longest: int
    ) -> Sequence[Any]:
        """Known terms of the right length and first letter that are trigram-similar to a form;
        for short words, every such term."""
        if min(map(len, forms)) < TRIGRAM_MIN_LENGTH:
            return await self._same_initial(kind_code, forms, shortest, longest)
        result = await self.session.execute(
            _CANDIDATES,
            {
                "kind": kind_code,
                "forms": forms,
                "initials": sorted({form[0] for form in forms}),
                "shortest": shortest,
                "longest": longest,
            },
        )
        return result.all()
