"""Whoosh's default codec with field lengths held in memory.

BM25 needs a document's field length for every posting it scores, and Whoosh writes a block's
length statistics by asking for it for every posting it writes. The stock reader answers each
call with a seek and a read on the lengths column, which profiling showed to be about a third of
commit time and a large share of query time. One byte per document and field is tiny (35k
articles × 3 fields ≈ 100 kB), so this reader loads a field's lengths once and answers from memory.

The codec object is pickled into every segment, so this class must stay importable as
`index.codec.BantinCodec`.
"""

from __future__ import annotations

from typing import Any

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3Codec, W3PerDocReader, _lenfield
from whoosh.util.numeric import byte_to_length

from bantin.index.mapped import install

# Every reader and writer of our segments comes through here: read them from the map, not a copy.
install()

#: Field lengths are stored as one (lossy) byte; this is its decoding table.
BYTE_TO_LENGTH = tuple(byte_to_length(b) for b in range(256))


class BantinCodec(W3Codec):
    """`W3Codec` whose per-document reader caches field lengths."""

    def per_document_reader(self, storage: Any, segment: Any) -> W3PerDocReader:
        return CachedLengthsReader(storage, segment)


class CachedLengthsReader(W3PerDocReader):
    """Answers `doc_field_length` from a per-field table loaded on first use."""

    def __init__(self, storage: Any, segment: Any) -> None:
        super().__init__(storage, segment)
        self._length_tables: dict[str, bytes | None] = {}

    def length_table(self, fieldname: str) -> bytes | None:
        """One length byte per document (see `BYTE_TO_LENGTH`), or None if the field has none."""
        try:
            return self._length_tables[fieldname]
        except KeyError:
            pass
        column = self._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
        table = bytes(column) if column is not None else None
        self._length_tables[fieldname] = table
        return table

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> int:
        table = self._length_tables.get(fieldname) or self.length_table(fieldname)
        if table is None or docnum >= len(table):
            return default
        return BYTE_TO_LENGTH[table[docnum]]
