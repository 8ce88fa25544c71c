"""The Whoosh schema and how an `Article` becomes one index document.

Four scored text fields, chosen for what they cost at build time as much as for ranking:

- `title` and `lead`: short, so they afford everything: exact syllables, folded syllables and
  folded bigrams. They carry most of the ranking signal (accent bonus, adjacency, title > lead).
- `text`: title + lead + body, folded syllables only. Every query word must match here, so one
  posting list per word decides what matches (cheap to intersect and to count), while the
  short fields decide the order. Exact and bigram terms for the whole body would more than double
  the postings Whoosh has to write (measured: bigrams alone cut the build rate fivefold); whether
  query words are adjacent in the body is judged instead from the stored text of the best few
  candidates (see `index.ranking`). It does keep positions (`TermPositions`): a quoted phrase is
  checked against every candidate from them (`index.phrases`), not by reading stored texts.
- `pairs`: folded bigrams of the article's first `PAIR_CHARS` characters (title, lead, the start
  of the body), so that "hội đồng nhân dân" written out in the body ranks above the same four
  syllables scattered, for every candidate and not only the few re-ranked from stored text.
  Measured on 3,000 articles (CPU seconds to build): no pairs 10.7, pairs over the first 1,500
  characters 18.2, over 3,000 characters 24.1, over everything 25.2 (the cost is Whoosh writing
  one posting per distinct bigram). An article's topic is in its first paragraphs; what is said
  later is still found through `text` and judged adjacent by the re-ranker.

Stored values serve the results page, snippets and "related": title, lead, the body (zlib
compressed), url and the ISO publication date.
"""

from __future__ import annotations

import itertools
import operator
import sys
import zlib
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from whoosh import columns, fields, formats
from whoosh.analysis.analyzers import CompositeAnalyzer

from bantin.articles.model import VIETNAM_TZ, Article, published_iso, published_sort_key
from bantin.index.analysis import PairTokenizer, vietnamese_analyzer

#: Bump when analysis, fields or their files change: an index built with another version is rebuilt
#: in full.
#: 2: positions in `text` (quoted phrases).
#: 3: `pairs`, folded syllable bigrams of the article's start (issue 14).
#: 4: posting values (positions) of `text` in their own subfile of each segment (`index.codec`).
SCHEMA_VERSION = 4
#: How much of an article (title, lead, then body) the `pairs` field covers; see the docstring.
PAIR_CHARS = 1500


class TermCounts(formats.Format):
    """Postings that keep only the term count (as the weight BM25 reads), no positions.

    Whoosh's `Frequency` also writes the count a second time as an encoded value per posting;
    leaving it out makes posting blocks smaller and cheaper to write, and nothing here reads it.
    """

    posting_size = 0
    __inittypes__: ClassVar[dict[str, type]] = {"field_boost": float}

    def __init__(self, field_boost: float = 1.0, **options: Any) -> None:
        self.field_boost = field_boost
        self.options = options

    def word_values(
        self, value: str, analyzer: CompositeAnalyzer, **kwargs: Any
    ) -> Iterator[tuple[str, int, float, bytes]]:
        boost = self.field_boost
        counts = Counter(token.text for token in analyzer(value, **kwargs))
        return ((word, n, n * boost, b"") for word, n in counts.items())

    def encode(self, value: object) -> bytes:
        return b""

    def decode_frequency(self, valuestring: bytes) -> int:
        return 1

    def decode_weight(self, valuestring: bytes) -> float:
        return self.field_boost

    def combine(self, vs: object) -> bytes:
        return b""


class TermPositions(TermCounts):
    """`TermCounts` plus each posting's positions, for quoted phrases (see `index.phrases`).

    Whoosh's `Positions` pickles a list per posting and its decoding is Python per position; here
    positions are deltas in the narrowest array type that holds them (one type-code byte, then the
    array's bytes, little-endian), decoded in C. Positions come from the tokenizer, which leaves a
    gap wherever a phrase may not continue (punctuation between two syllables).
    """

    posting_size = -1

    def word_values(
        self, value: str, analyzer: CompositeAnalyzer, **kwargs: Any
    ) -> Iterator[tuple[str, int, float, bytes]]:
        boost = self.field_boost
        found: defaultdict[str, list[int]] = defaultdict(list)
        for token in analyzer(value, positions=True, **kwargs):
            found[token.text].append(token.pos)
        one = _ONE_POSITION
        for word, ps in found.items():
            n = len(ps)
            yield word, n, n * boost, one[ps[0]] if n == 1 and ps[0] < 0x100 else encode_positions(ps)

    def decode_positions(self, valuestring: bytes) -> list[int]:
        return list(decode_positions(valuestring))


_BIG_ENDIAN = sys.byteorder == "big"
_ONE_BYTE_CODE = ord("B")
#: `encode_positions([p])` for p < 256, the most frequent value by far (a word once, early on).
_ONE_POSITION = [b"B" + bytes((p,)) for p in range(0x100)]


def encode_positions(positions: list[int]) -> bytes:
    """Ascending positions as a type code ("B", "H" or "I") and the array of their deltas."""
    deltas = positions if len(positions) == 1 else list(map(operator.sub, positions, [0, *positions]))
    top = max(deltas)
    if top < 0x100:
        return b"B" + bytes(deltas)  # the common case, and the cheapest: called per word per article
    code = "H" if top < 0x10000 else "I"
    packed = array(code, deltas)
    if _BIG_ENDIAN:
        packed.byteswap()
    return code.encode("ascii") + packed.tobytes()


def decode_positions(value: bytes) -> Sequence[int]:
    """The positions `encode_positions` packed (ascending)."""
    if value[0] == _ONE_BYTE_CODE:  # the common case: no array needed
        return (value[1],) if len(value) == 2 else list(itertools.accumulate(value[1:]))
    deltas = array(chr(value[0]))
    deltas.frombytes(value[1:])
    if _BIG_ENDIAN:
        deltas.byteswap()
    return list(itertools.accumulate(deltas))


def _text_field(analyzer: CompositeAnalyzer, *, stored: bool = False, positions: bool = False) -> fields.TEXT:
    field = fields.TEXT(analyzer=analyzer, stored=stored, phrase=False)
    field.format = TermPositions() if positions else TermCounts()
    return field


def build_schema() -> fields.Schema:
    """The schema; `open_dir` is given this same object so readers never unpickle it mid-commit."""
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        title=_text_field(vietnamese_analyzer(), stored=True),
        lead=_text_field(vietnamese_analyzer(), stored=True),
        text=_text_field(vietnamese_analyzer(exact=False, bigrams=False), positions=True),
        pairs=_text_field(PairTokenizer()),
        body=fields.STORED(),
        url=fields.STORED(),
        published=fields.STORED(),
        # Newest-first sorting reads this column; undated articles get 0 and sort last.
        published_ts=fields.COLUMN(columns.NumericColumn("q", default=0)),
        # "2019" and "2019-09": year/month filters are single term lookups.
        period=fields.KEYWORD(scorable=False),
    )


SCHEMA = build_schema()


def article_document(article: Article) -> dict[str, object]:
    """The index document for one article (keyword arguments for `add_document`)."""
    text = "\n".join((article.title, *article.paragraphs))
    doc: dict[str, object] = {
        "id": article.id,
        "title": article.title,
        "lead": article.lead,
        "text": text,
        "pairs": text[:PAIR_CHARS],
        "body": zlib.compress(article.body.encode("utf-8"), 1) if len(article.paragraphs) > 1 else b"",
        "url": article.url,
        "published": published_iso(article.published),
    }
    moment = published_sort_key(article.published)
    if moment is not None:
        doc["published_ts"] = int(moment.timestamp())
        local = moment.astimezone(VIETNAM_TZ)  # "tháng 9/2019" means September in Vietnam
        doc["period"] = f"{local.year:04d} {local.year:04d}-{local.month:02d}"
    return doc


def stored_body(stored: dict[str, Any]) -> str:
    """The body text back from a stored document."""
    body = stored.get("body")
    return zlib.decompress(body).decode("utf-8") if body else ""
