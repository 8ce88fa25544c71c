"""Whoosh's default codec with field lengths held in memory and positions kept apart.

BM25 needs a document's field length for every posting it scores, and Whoosh writes a block's
length statistics by asking for it for every posting it writes. The stock reader answers each
call with a seek and a read on the lengths column, which profiling showed to be about a third of
commit time and a large share of query time. One byte per document and field is tiny (35k
articles × 3 fields ≈ 100 kB), so this reader loads a field's lengths once and answers from memory.

Positions apart: Whoosh writes a posting block as ONE compressed pickle of (ids, weights, values),
so every search that reads a term's ids and weights decompresses and unpickles its positions too,
and maps their pages. In `text` the positions are 85% of the block bytes, yet only quoted phrases
read them. Fields whose values have no fixed size (`schema.TermPositions`) therefore write each
block's values to the segment's ".pos" subfile, and the ".pst" block keeps ids, weights and the
(offset, length) of its values there; they are read only when a value is asked for. Measured on
the 35k archive: .pst 288 MB → 180 MB (+ 110 MB of .pos), resident after 1,000 queries 273 → 171
MB of .pst and 0.3 MB of .pos (PSS 667 → 561 MB), search CPU p50/p95 23/66 → 19/43 ms.

The codec object is pickled into every segment, so this class must stay importable as
`index.codec.BantinCodec`. A codec unpickled from a segment written before positions were kept
apart has no `positions_apart` in its `__dict__` and reads (and would write) the old layout.
"""

from __future__ import annotations

import pickle
import zlib
from typing import Any

from whoosh.codec.whoosh3 import (
    LENGTHS_COLUMN,
    W3Codec,
    W3FieldWriter,
    W3LeafMatcher,
    W3PerDocReader,
    W3PostingsWriter,
    W3TermsReader,
    _lenfield,
)
from whoosh.formats import Format
from whoosh.util.numeric import byte_to_length

from bantin.index.mapped import install

# Every reader and writer of our segments comes through here: read them from the map, not a copy.
install()

#: Field lengths are stored as one (lossy) byte; this is its decoding table.
BYTE_TO_LENGTH = tuple(byte_to_length(b) for b in range(256))


#: Postings per block (Whoosh's default is 128). Every search decodes whole posting lists, a
#: block at a time (`index.engine`), and each block costs a header read, a decompression and an
#: unpickling whatever its size: on the 35k archive, decoding the commonest `text` lists took
#: 0.92 s at 128 and 0.58 s at 512 (profiled), the postings file shrank 180 → 173 MB, and quoted
#: phrases, which read the positions of the blocks holding a candidate, got no slower (CPU p95
#: 186 → 175 ms over 300 phrases). Block statistics decide nothing here, so no result changes.
#: The size is pickled into each segment's codec: segments written before keep theirs.
BLOCK = 512


class BantinCodec(W3Codec):
    """`W3Codec` whose per-document reader caches field lengths and whose variable-size posting
    values (positions) live in their own subfile."""

    #: The subfile of a segment holding the posting values of variable-size formats.
    POSITIONS_EXT = ".pos"
    #: Class default for codecs pickled before the layout existed; `__init__` sets it.
    positions_apart = False

    def __init__(self, blocklimit: int | None = None, compression: int = 3, inlinelimit: int = 1) -> None:
        super().__init__(blocklimit=blocklimit or BLOCK, compression=compression, inlinelimit=inlinelimit)
        self.positions_apart = True

    def per_document_reader(self, storage: Any, segment: Any) -> W3PerDocReader:
        return CachedLengthsReader(storage, segment)

    def field_writer(self, storage: Any, segment: Any) -> W3FieldWriter:
        if not self.positions_apart:
            return super().field_writer(storage, segment)
        return ApartFieldWriter(self, storage, segment)

    def terms_reader(self, storage: Any, segment: Any) -> W3TermsReader:
        if not self.positions_apart:
            return super().terms_reader(storage, segment)
        tiname = segment.make_filename(self.TERMS_EXT)
        tilen = storage.file_length(tiname)
        tifile = storage.open_file(tiname)
        postfile = segment.open_file(storage, self.POSTS_EXT)
        posfile = segment.open_file(storage, self.POSITIONS_EXT)
        return ApartTermsReader(self, tifile, tilen, postfile, posfile)


def values_apart(format_: Format) -> bool:
    """Whether a field's posting values go to the ".pos" subfile: those of no fixed size
    (fixed-size values are few bytes, and size-0 ones are not written at all)."""
    size = format_.fixed_value_size()
    return size is None or size < 0


class ApartFieldWriter(W3FieldWriter):
    """Writes a segment's terms and postings, and the values of variable-size fields apart."""

    def __init__(self, codec: BantinCodec, storage: Any, segment: Any) -> None:
        super().__init__(codec, storage, segment)
        self._posfile = self._create_file(BantinCodec.POSITIONS_EXT)

    def start_field(self, fieldname: str, fieldobj: Any) -> None:
        super().start_field(fieldname, fieldobj)
        if values_apart(fieldobj.format):
            codec = self._codec
            self._postwriter = ApartPostingsWriter(
                self._postfile, self._posfile, blocklimit=codec._blocklimit,
                compression=codec._compression, inlinelimit=codec._inlinelimit,
            )

    def close(self) -> None:
        super().close()
        self._posfile.close()


class ApartPostingsWriter(W3PostingsWriter):
    """W3 posting blocks whose values are replaced by where they were written in ".pos"."""

    def __init__(self, postfile: Any, posfile: Any, **options: Any) -> None:
        super().__init__(postfile, **options)
        self._posfile = posfile

    def _mini_values(self) -> tuple[int, int]:
        # Called once per block by `_write_block`: the block's values, compressed as the block
        # is, go to .pos; the block keeps (offset, length).
        blob = pickle.dumps(tuple(self._values), 2)
        if self._compression:
            blob = zlib.compress(blob, self._compression)
        posfile = self._posfile
        offset = posfile.tell()
        posfile.write(blob)
        return offset, len(blob)


class ApartTermsReader(W3TermsReader):
    """Hands out `ApartLeafMatcher`s for the fields whose values were written apart."""

    def __init__(self, codec: BantinCodec, dbfile: Any, length: int, postfile: Any, posfile: Any) -> None:
        super().__init__(codec, dbfile, length, postfile)
        self._posfile = posfile

    def matcher(self, fieldname: str, tbytes: bytes, format_: Format, scorer: Any = None) -> Any:
        if not values_apart(format_):
            return super().matcher(fieldname, tbytes, format_, scorer=scorer)
        terminfo = self.term_info(fieldname, tbytes)
        term = (fieldname, tbytes)
        if terminfo.is_inlined():  # inlined values are in the term info
            return self._codec.postings_reader(self._postfile, terminfo, format_, term=term, scorer=scorer)
        offset, length = terminfo.extent()
        return ApartLeafMatcher(self._postfile, self._posfile, offset, length, format_, term=term, scorer=scorer)

    def close(self) -> None:
        super().close()
        self._posfile.close()


class ApartLeafMatcher(W3LeafMatcher):
    """`W3LeafMatcher` over blocks whose values are in ".pos": ids and weights never read them,
    `value()` (phrases, Whoosh's merges) reads the current block's on first use."""

    def __init__(self, postfile: Any, posfile: Any, startoffset: int, length: int, format_: Format,
                 term: Any = None, scorer: Any = None) -> None:
        self._posfile = posfile
        super().__init__(postfile, startoffset, length, format_, term=term, scorer=scorer)

    def _read_values(self) -> None:
        if self._data is None:
            self._read_data()
        pointer = self._data[2]
        if pointer is None:  # written when the field kept no values (an index of an older schema)
            self._values = None
            return
        offset, length = pointer
        blob = self._posfile.get(offset, length)
        if self._compression:
            blob = zlib.decompress(blob)
        self._values = pickle.loads(blob)


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
