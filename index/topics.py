"""Saved searches (digest topics) matched against a small set of articles, with the chat's rules.

The digest (bot.digests.build) asks one question: which of this week's few hundred articles does a topic
find? The answer must follow the same rules as the chat search (`index.query`: diacritics
optional, tone placement, "phrases", -exclusions, month/year filters, every word), which only
Whoosh over this package's schema gives, so the Whoosh part lives here and the bot gets plain
values: topic text in, article ids out.
"""

from __future__ import annotations

from collections.abc import Iterable

from whoosh.fields import Schema
from whoosh.filedb.filestore import RamStorage
from whoosh.query import Term
from whoosh.searching import Searcher

from bantin.articles.model import Article
from bantin.index.analysis import fold
from bantin.index.query import ParsedQuery, match_query, parse_query, phrase_pattern
from bantin.index.schema import SCHEMA, article_document

#: What decides a match (index.query.match_query and the date filter): the live schema's own
#: `text` and `period` fields; the ranking-only fields would triple the indexing time.
_MATCH_FIELDS = ("text", "period")
_MATCH_SCHEMA = Schema(**{name: SCHEMA[name] for name in _MATCH_FIELDS})


class TopicIndex:
    """A small in-memory index of just the given articles, built on first use.

    The same analysis and the same rule for what *matches* as the live index, without its ranking
    and without its "relaxed" fallback (a saved search should bring only what was asked for). A
    few hundred recent articles index in a fraction of a second; every topic is then one
    posting-list intersection. Not thread-safe: the caller serialises (and memoises) calls.
    """

    def __init__(self, articles: Iterable[Article]) -> None:
        self._articles = tuple(articles)
        self._searcher: Searcher | None = None
        self._ids: list[str] = []
        self._texts: list[str] = []

    def match(self, topic: str) -> frozenset[str]:
        """The ids of the articles that the chat's search for `topic` would find (every word)."""
        parsed = parse_query(topic)
        if parsed.empty or not self._articles:
            return frozenset()
        found = self._run(parsed)
        if not found and parsed.period is not None and parsed.words:
            found = self._run(parsed.without_date())  # "2019" read as a word, as the chat does
        return frozenset(self._ids[d] for d in found)

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None

    def _open(self) -> Searcher:
        if self._searcher is None:
            ram = RamStorage().create_index(_MATCH_SCHEMA)
            writer = ram.writer()
            self._ids, self._texts = [], []
            for article in self._articles:
                document = article_document(article)
                writer.add_document(**{name: document[name] for name in _MATCH_FIELDS if name in document})
                self._ids.append(article.id)
                self._texts.append(fold("\n".join((article.title, *article.paragraphs))).lower())
            writer.commit()
            self._searcher = ram.searcher()
        return self._searcher

    def _run(self, parsed: ParsedQuery) -> set[int]:
        searcher = self._open()
        docs: set[int] | None = None
        if parsed.period is not None:
            docs = set(searcher.docs_for_query(Term("period", parsed.period)))
        if parsed.words:
            matched = set(searcher.docs_for_query(match_query(parsed)))
            docs = matched if docs is None else docs & matched
        docs = docs or set()
        for phrase in parsed.phrases:
            pattern = phrase_pattern(phrase)
            docs = {d for d in docs if pattern.search(self._texts[d])}
        return docs
