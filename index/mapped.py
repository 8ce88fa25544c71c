"""Index files read straight from the memory map, so search processes share one copy of them.

Whoosh maps each compound segment (`*.seg`) with mmap, then hands every file inside it (terms,
postings, stored fields, columns) out as a `BufferFile` whose constructor wraps the mapped bytes
in `io.BytesIO`, and BytesIO copies them. Every reader therefore held a private copy of the whole
terms and postings files: measured on the 35k archive, 360 MB of anonymous memory per process
before the first query, once per search worker. Read through `MappedFile` instead, those pages
stay file-backed and shared: the page cache holds them once, whatever the number of workers, and
the kernel may drop them under pressure rather than swap.

`BufferFile`'s random-access reads (`get`, `get_int`, …: the postings blocks and the hash tables)
already slice the map directly; only its sequential reads (`read`, `seek`, pickles) went through
the copy. `install()` makes `whoosh.filedb.compound` build `SharedBufferFile` instead (Whoosh is
pinned at 2.7.4); it runs when this module is imported.
"""

from __future__ import annotations

import os
from typing import Any

from whoosh.filedb import compound
from whoosh.filedb.structfile import BufferFile

#: Most bytes `MappedFile.peek` returns.
PEEK = 256


class MappedFile:
    """A read-only, seekable file over a buffer that copies only what is read (unlike BytesIO)."""

    __slots__ = ("_buf", "_pos", "_size", "closed")

    def __init__(self, buf: Any) -> None:
        self._buf = memoryview(buf).cast("B")
        self._size = len(self._buf)
        self._pos = 0
        self.closed = False

    def read(self, size: int | None = -1) -> bytes:
        start = self._pos
        end = self._size if size is None or size < 0 else min(self._size, start + size)
        if end <= start:
            return b""
        self._pos = end
        return bytes(self._buf[start:end])

    def peek(self, size: int = 0) -> bytes:
        """Bytes from the position on, without moving it: `pickle.load` prefetches through this
        (up to 8 kB) instead of calling `read` once per opcode, which was 20 calls per posting
        block header and 40% of decoding a posting list."""
        # Pickle asks for 8 kB; a block header is ~30 bytes, so less is copied (it reads on if needed).
        return bytes(self._buf[self._pos : min(self._size, self._pos + min(max(size, 1), PEEK))])

    def readinto(self, target: Any) -> int:
        view = memoryview(target).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        limit = self._size if size is None or size < 0 else min(self._size, self._pos + size)
        start = end = self._pos
        buf = self._buf
        while end < limit:  # pickles of protocol 2+ rarely ask for lines: a plain scan will do
            end += 1
            if buf[end - 1] == 0x0A:
                break
        self._pos = end
        return bytes(buf[start:end])

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_CUR:
            offset += self._pos
        elif whence == os.SEEK_END:
            offset += self._size
        if offset < 0:
            raise ValueError(f"negative seek position {offset}")
        self._pos = offset
        return offset

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class SharedBufferFile(BufferFile):
    """Whoosh's `BufferFile` reading through `MappedFile` rather than a copy in a BytesIO."""

    def __init__(self, buf: Any, name: str | None = None, onclose: Any = None) -> None:
        self._buf = buf
        self._name = name
        self.file = MappedFile(buf)
        self.onclose = onclose
        self.is_real = False
        self.is_closed = False

    def subset(self, position: int, length: int, name: str | None = None) -> SharedBufferFile:
        return SharedBufferFile(self._buf[position : position + length], name=name or self._name)


def install() -> None:
    """Make compound segments hand out `SharedBufferFile`s (idempotent)."""
    compound.BufferFile = SharedBufferFile


install()
