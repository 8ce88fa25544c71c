"""The folded syllable-bigram BM25 baseline of the topical benchmark (bench/relevance.py, bench/pool_topics.py).

A plain Whoosh index, independent of the `index` package on purpose (the ranking under test may
change; this baseline must not): title, lead and body are each indexed twice, as folded syllable
bigrams (adjacent syllables, never across punctuation) and as folded syllables. A query is the
OR of its folded bigrams in the three bigram fields plus its folded syllables at a lower weight,
scored with Whoosh's BM25F. So "hoi dong nhan dan" ranks by "hoi_dong", "dong_nhan",
"nhan_dan" first, which a syllable engine cannot do. Cached under bench/.cache like the others.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import Any

from whoosh.analysis import Token, Tokenizer

from articles.model import Article
from bench.search import CACHE

FOLDER = CACHE / "bigram-index"
DEPTH = 10
FIELD_BOOST = {"title": 2.0, "sapo": 1.5, "body": 1.0}
UNIGRAM_WEIGHT = 0.3

_WORD = re.compile(r"\w+")
_BREAK = re.compile(r"[^\w\s]")  # any punctuation between two syllables ends a bigram run


def fold_text(text: str) -> str:
    """Lower case without diacritics, đ → d (self-contained: see the module docstring)."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def folded_syllables(text: str) -> list[list[str]]:
    """Runs of folded syllables, split wherever punctuation separates two of them."""
    folded = fold_text(text)
    runs: list[list[str]] = [[]]
    last_end = 0
    for match in _WORD.finditer(folded):
        if runs[-1] and _BREAK.search(folded[last_end : match.start()]):
            runs.append([])
        runs[-1].append(match.group())
        last_end = match.end()
    return [run for run in runs if run]


def bigrams(text: str) -> list[str]:
    return [f"{a}_{b}" for run in folded_syllables(text) for a, b in pairwise(run)]


def unigrams(text: str) -> list[str]:
    return [syllable for run in folded_syllables(text) for syllable in run]


class _ListTokenizer(Tokenizer):
    """Whoosh tokenizer over a precomputed term list (bigrams or syllables)."""

    def __init__(self, bigram: bool) -> None:
        self.bigram = bigram

    def __eq__(self, other: object) -> bool:
        return self.__class__ is other.__class__ and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash((self.__class__, self.bigram))

    def __call__(self, value: str, positions: bool = False, **kwargs: Any) -> Iterator[Token]:
        token = Token(positions=positions, **{k: v for k, v in kwargs.items() if k in ("mode", "removestops")})
        token.boost, token.stopped = 1.0, False
        for pos, text in enumerate(bigrams(value) if self.bigram else unigrams(value)):
            token.text = text
            if positions:
                token.pos = pos
            yield token


def bigram_baseline() -> Callable[[str], list[str]]:
    """Build (once) and open the bigram index; return a query → top-10 ids function."""
    from whoosh import fields, index
    from whoosh.query import Or, Term

    from bench.relevance import build_once

    text_fields = list(FIELD_BOOST)
    spec: dict[str, Any] = {"id": fields.ID(stored=True, unique=True)}
    for name in text_fields:
        spec[f"{name}_bi"] = fields.TEXT(analyzer=_ListTokenizer(bigram=True), phrase=False)
        spec[f"{name}_uni"] = fields.TEXT(analyzer=_ListTokenizer(bigram=False), phrase=False)
    schema = fields.Schema(**spec)

    def document(article: Article) -> dict[str, str]:
        doc = {"id": article.id}
        for name, value in {"title": article.title, "sapo": article.lead, "body": article.body}.items():
            doc[f"{name}_bi"] = doc[f"{name}_uni"] = value
        return doc

    build_once(FOLDER, schema, "bigram", document)
    searcher = index.open_dir(str(FOLDER)).searcher()

    def search(query: str) -> list[str]:
        terms = [
            Term(f"{name}_bi", bigram, boost=boost)
            for bigram in dict.fromkeys(bigrams(query))
            for name, boost in FIELD_BOOST.items()
        ]
        terms += [
            Term(f"{name}_uni", syllable, boost=boost * UNIGRAM_WEIGHT)
            for syllable in dict.fromkeys(unigrams(query))
            for name, boost in FIELD_BOOST.items()
        ]
        if not terms:
            return []
        return [hit["id"] for hit in searcher.search(Or(terms), limit=DEPTH)]

    return search
