"""Posting lists decoded once into compact arrays, and set-based matching over them.

Why not `Searcher.search`: Vietnamese is written in syllables, and the common ones ("thị",
"thanh", "đảng", "cao" …) each occur in half the archive. An AND of a few of them matches
thousands of articles, and Whoosh walks its matcher tree for every one of them in pure Python
(tens of microseconds per match and per clause); measured, that put the median query near 100 ms.
Here a term's postings are decoded once per reader into two arrays (sorted document numbers and
term counts, 8 bytes a posting), matching is set arithmetic done in C, and `index.scoring` scores
only the few documents that can reach the top. Decoded lists stay cached within a budget.

`docs()` understands the query types `index.query` produces: Term, And, Or, DisjunctionMax,
AndNot, AndMaybe and NullQuery.
"""

from __future__ import annotations

import itertools
import math
import threading
from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, NamedTuple

from whoosh import query as wq
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.reading import IndexReader, TermNotFound
from whoosh.util.numeric import length_to_byte

from bantin.index.budget import Budget
from bantin.index.codec import BYTE_TO_LENGTH, CachedLengthsReader
from bantin.index.schema import decode_positions, stored_body

K1 = 1.2
#: Length normalisation per field: titles are all short, so their length says little.
FIELD_B = {"title": 0.3, "lead": 0.6, "text": 0.75}
DEFAULT_B = 0.75
#: Cached postings, counted in postings (8 bytes each): the whole archive's `text` field is
#: about 7 million, so common syllables always stay decoded.
CACHE_BUDGET = 12_000_000
#: Stored documents kept decoded: re-ranking and the snippets of one search read the same few,
#: and popular articles come back in many searches (about 10 kB each).
STORED_CACHE = 2048


class Postings(NamedTuple):
    """One term's live postings: ascending document numbers and their term counts."""

    ids: array[int]
    tfs: array[float]


_EMPTY = Postings(array("i"), array("f"))


class Bm25(NamedTuple):
    """BM25 for one term: score(doc) = scale * tf / (tf + norms[doc])."""

    scale: float
    norms: list[float]


class Stored(NamedTuple):
    """A stored document: its fields as Whoosh keeps them, the body decompressed, and a memo
    for text derived from them (folded forms), computed by whoever needs it first."""

    fields: dict[str, Any]
    body: str
    memo: dict[str, str]


class NoPositions(Exception):
    """The index holds no positions for the field (built with an older schema)."""


class Engine:
    """Postings and matching over one reader (one commit); build a new one when it changes."""

    def __init__(self, reader: IndexReader, *, budget: int = CACHE_BUDGET) -> None:
        self.reader = reader
        self.budget = budget
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, str], Postings] = OrderedDict()
        self._cached = 0
        self._leaves = list(reader.leaf_readers())
        self._deleted = [_deleted_docs(sub) for sub, _ in self._leaves]
        self.doc_count = max(1, reader.doc_count_all())
        self._field_norms: dict[str, list[float]] = {}
        self._columns: dict[str, list[int]] = {}
        self._stored: OrderedDict[int, Stored] = OrderedDict()

    # -- postings ------------------------------------------------------------------------------

    def postings(self, fieldname: str, text: str) -> Postings:
        """One term's postings (shared: do not modify)."""
        key = (fieldname, text)
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        found = self._decode(fieldname, text)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = found
                self._cached += len(found.ids)
                while self._cached > self.budget and len(self._cache) > 1:
                    _, dropped = self._cache.popitem(last=False)
                    self._cached -= len(dropped.ids)
        return found

    def _decode(self, fieldname: str, text: str) -> Postings:
        if not self.reader.doc_frequency(fieldname, text):
            return _EMPTY
        ids: array[int] = array("i")
        tfs: array[float] = array("f")
        for (sub, base), deleted in zip(self._leaves, self._deleted, strict=True):
            try:
                matcher = sub.postings(fieldname, text)
            except TermNotFound:
                continue
            start = len(ids)
            _read_postings(matcher, base, ids, tfs)
            if deleted:
                kept = [(d, w) for d, w in zip(ids[start:], tfs[start:], strict=True) if d - base not in deleted]
                del ids[start:], tfs[start:]
                ids.extend(d for d, _ in kept)
                tfs.extend(w for _, w in kept)
        return Postings(ids, tfs)

    def positions(self, fieldname: str, text: str, docs: set[int], budget: Budget) -> dict[int, Sequence[int]]:
        """The term's positions in each of `docs` that contains it (fields with `TermPositions`).

        Reads the posting blocks again rather than caching positions (several times the size of
        the postings): only blocks holding one of `docs` are looked into, and only those
        documents' positions are decoded. Raises `NoPositions` when the index has none (built
        before they were added).
        """
        found: dict[int, Sequence[int]] = {}
        if not docs or not self.reader.doc_frequency(fieldname, text):
            return found
        ordered = sorted(docs)
        for sub, base in self._leaves:
            try:
                matcher = sub.postings(fieldname, text)
            except TermNotFound:
                continue
            if isinstance(matcher, FilterMatcher):
                matcher = matcher.child
            if not isinstance(matcher, W3LeafMatcher):
                raise NoPositions(fieldname)
            low = base
            while matcher.is_active():
                # the block's header has its last id: a block with no candidate is not even read
                high = base + matcher._maxid
                at = bisect_left(ordered, low)
                low = high + 1
                budget.spend(1)
                if at == len(ordered) or ordered[at] > high:
                    matcher._next_block()
                    continue
                matcher._read_data()
                deltas = matcher._data[0]
                values = _block_values(matcher)
                if not isinstance(values, tuple) or len(values) != len(deltas):
                    raise NoPositions(fieldname)
                ids = itertools.accumulate(deltas, initial=base)
                next(ids)  # the base itself
                decoded = 0
                for docnum, value in zip(ids, values, strict=True):
                    if docnum in docs:
                        found[docnum] = decode_positions(value)
                        decoded += len(value)  # about one byte per position
                budget.spend(len(deltas) + decoded)
                matcher._next_block()
        return found

    def stored(self, docnum: int) -> Stored:
        """A document's stored fields and body, decoded once while it stays among the recent ones."""
        with self._lock:
            found = self._stored.get(docnum)
            if found is not None:
                self._stored.move_to_end(docnum)
                return found
        fields = self.reader.stored_fields(docnum)
        found = Stored(fields, stored_body(fields), {})
        with self._lock:
            self._stored[docnum] = found
            if len(self._stored) > STORED_CACHE:
                self._stored.popitem(last=False)
        return found

    def bm25(self, fieldname: str, text: str) -> Bm25:
        """The term's BM25 parameters (Lucene's idf; length norm per field, see FIELD_B)."""
        df = len(self.postings(fieldname, text).ids)
        n = self.doc_count
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        return Bm25(idf * (K1 + 1.0), self._norms(fieldname))

    def _norms(self, fieldname: str) -> list[float]:
        norms = self._field_norms.get(fieldname)
        if norms is None:
            b = FIELD_B.get(fieldname, DEFAULT_B)
            avg = max(1.0, self.reader.field_length(fieldname) / self.doc_count)
            by_byte = [K1 * (1.0 - b + b * length / avg) for length in BYTE_TO_LENGTH]
            norms = []
            for sub, _ in self._leaves:
                norms.extend(by_byte[byte] for byte in _length_table(sub, fieldname))
            with self._lock:
                self._field_norms[fieldname] = norms
        return norms

    # -- matching ------------------------------------------------------------------------------

    def docs(self, query: wq.Query) -> set[int]:
        """Every live document the query matches."""
        if isinstance(query, wq.Term):
            return set(self.postings(query.fieldname, _text(query.text)).ids)
        if isinstance(query, wq.And):
            # Terms stay arrays: only the smallest part becomes a set, the others are probed.
            parts: list[set[int] | array[int]] = [
                self.postings(q.fieldname, _text(q.text)).ids if isinstance(q, wq.Term) else self.docs(q)
                for q in query.subqueries
            ]
            parts.sort(key=len)
            if not parts:
                return set()
            result = set(parts[0])
            for part in parts[1:]:
                result = intersect(result, part)
                if not result:
                    break
            return result
        if isinstance(query, wq.Or | wq.DisjunctionMax):
            union: set[int] = set()
            for q in query.subqueries:
                union |= self.docs(q)
            return union
        if isinstance(query, wq.AndNot):
            return self.docs(query.a) - self.docs(query.b)
        if isinstance(query, wq.AndMaybe):
            return self.docs(query.a)
        return set()

    def column(self, fieldname: str) -> list[int]:
        """A numeric column's value for every document (0 when missing), loaded once."""
        with self._lock:
            values = self._columns.get(fieldname)
        if values is None:
            values = []
            for sub, _ in self._leaves:
                if sub.has_column(fieldname):
                    values.extend(int(v) for v in sub.column_reader(fieldname))
                else:
                    values.extend([0] * sub.doc_count_all())
            with self._lock:
                self._columns[fieldname] = values
        return values


def intersect(docs: set[int], ids: set[int] | array[int]) -> set[int]:
    """`docs` ∩ `ids` (a set, or ascending ids): a C-level pass, or binary searches when `docs` is tiny."""
    if isinstance(ids, set):
        return docs & ids
    if len(docs) * 16 < len(ids):
        size = len(ids)
        return {d for d in docs if (i := bisect_left(ids, d)) < size and ids[i] == d}
    return docs.intersection(ids)


def _read_postings(matcher: Any, base: int, ids: array[int], tfs: array[float]) -> None:
    """Append a fresh leaf matcher's (base + docnum, weight) pairs to `ids`/`tfs`.

    Whoosh's own iteration costs several Python calls per posting; its W3 blocks hold
    delta-encoded ids and (minified) weights that decode a block at a time in C instead. The
    values (positions) are not read: in segments of `BantinCodec` they are not even in the block.
    Deleted documents are removed by the caller, so the reader's deletion wrapper is taken off.
    """
    if isinstance(matcher, FilterMatcher):
        matcher = matcher.child
    if isinstance(matcher, W3LeafMatcher):
        while matcher.is_active():
            matcher._read_data()
            deltas, weights, _ = matcher._data
            docnums = itertools.accumulate(deltas, initial=base)
            next(docnums)
            ids.extend(docnums)
            if weights is None or isinstance(weights, float):
                tfs.extend(itertools.repeat(1.0 if weights is None else weights, len(deltas)))
            else:
                tfs.extend(weights)
            matcher._next_block()
        return
    while matcher.is_active():
        ids.append(base + matcher.id())
        tfs.append(matcher.weight())
        matcher.next()


def _block_values(matcher: W3LeafMatcher) -> object:
    """The current block's encoded values: in the block itself for segments written before
    positions were kept apart, read from the segment's ".pos" subfile since (`index.codec`).
    None when the field kept no values (Whoosh gives a tuple of Nones for size-0 formats)."""
    matcher._read_values()
    values = matcher._values
    if isinstance(values, tuple) and values and values[0] is None:
        return None
    return values


def _length_table(sub: Any, fieldname: str) -> bytes:
    """One length byte per document of a segment (from our codec's cache when it is there)."""
    perdoc = getattr(sub, "_perdoc", None)
    table = perdoc.length_table(fieldname) if isinstance(perdoc, CachedLengthsReader) else None
    if table is None or len(table) < sub.doc_count_all():
        count = sub.doc_count_all()
        table = bytes(length_to_byte(sub.doc_field_length(d, fieldname, 0) or 0) for d in range(count))
    return table


def _deleted_docs(sub: Any) -> frozenset[int]:
    if not sub.has_deletions():
        return frozenset()
    return frozenset(d for d in range(sub.doc_count_all()) if sub.is_deleted(d))


def _text(text: object) -> str:
    return text.decode("utf-8") if isinstance(text, bytes) else str(text)
