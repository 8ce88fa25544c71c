"""Text clean-up shared by every input format: decoding, NFC, whitespace."""

from __future__ import annotations

import codecs
import re
import unicodedata

# Zero-width and BOM characters that pages carry invisibly; soft hyphen too.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]+")
# Control characters that str.split() does not treat as space; they become a space.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f]+")
# Latin eth (Icelandic) looks like Vietnamese Đ and old fonts/keyboards typed it for Đ; it would
# fold to nothing useful in the index, so it becomes the Vietnamese letter.
_ETH = str.maketrans({"\u00d0": "\u0110", "\u00f0": "\u0111"})


class UndecodableError(ValueError):
    """The bytes are not text in any encoding the scraper writes."""


def decode(data: bytes) -> str:
    """Decode a saved page: BOM-marked UTF-8/UTF-16, else UTF-8, else a clear error.

    The scraper writes UTF-8 or UTF-16 with BOM; anything else (cp1258, binary) is rejected rather
    than guessed, because a wrongly decoded title is worse than a reported failure.
    """
    if data.startswith(codecs.BOM_UTF8):
        payload, encoding = data[3:], "utf-8"
    elif data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        payload, encoding = data, "utf-16"
    else:
        payload, encoding = data, "utf-8"
        if b"\x00" in payload[:65536]:
            raise UndecodableError("tệp nhị phân, không phải trang văn bản")
    try:
        text = payload.decode(encoding)
    except UnicodeDecodeError as exc:
        raise UndecodableError(f"không đọc được mã {encoding} (byte {exc.start})") from exc
    if "\x00" in text:
        raise UndecodableError("tệp nhị phân, không phải trang văn bản")
    return text


def clean_line(line: str) -> str:
    """NFC, no invisible/control characters, Ð→Đ, single spaces, trimmed.

    Tone placement (`uỷ`/`ủy`) and old spellings (`kì`) are kept as written: the index folds tone
    placement, and `kì`/`kỳ` are left to the reader (see tests/test_page_fixtures.py).
    """
    if not unicodedata.is_normalized("NFC", line):
        line = unicodedata.normalize("NFC", line)
    if _INVISIBLE.search(line):
        line = _INVISIBLE.sub("", line)
    if _CONTROL.search(line):
        line = _CONTROL.sub(" ", line)
    if "\u00d0" in line or "\u00f0" in line:
        line = line.translate(_ETH)
    # str.split() knows every Unicode space (NBSP, thin spaces, ideographic space…).
    return " ".join(line.split())


def clean_text(text: str) -> str:
    """`clean_line` for a value that should be a single line (titles, authors)."""
    return clean_line(text.replace("\r", " ").replace("\n", " "))


def split_paragraphs(text: str) -> list[str]:
    """Blank-line separated blocks, each joined into one clean paragraph."""
    paragraphs: list[str] = []
    current: list[str] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = clean_line(raw)
        if line:
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    return paragraphs
