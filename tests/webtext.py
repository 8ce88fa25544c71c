"""Vietnamese text in windows-1258, the way legacy CMSs write it (for fixtures and the test site).

cp1258 has the vowels with their shape marks (â ê ô ă ơ ư, and đ) but no tone marks on them: a
tone is a separate combining byte. Python's codec maps one character to one byte, so precomposed
NFC text must first be split into base (+ shape mark) and tone mark.
"""

from __future__ import annotations

import unicodedata


def to_cp1258(text: str) -> bytes:
    out = bytearray()
    for char in text:
        try:
            out += char.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        decomposed = unicodedata.normalize("NFD", char)
        base, marks = decomposed[0], decomposed[1:]
        # Recompose the base with its shape mark when cp1258 has that letter (ê, ơ, ă…).
        for n, mark in enumerate(marks):  # NFD puts a dot below before the circumflex (ậ)
            shaped = unicodedata.normalize("NFC", base + mark)
            try:
                shaped.encode("cp1258")
            except UnicodeEncodeError:
                continue
            base, marks = shaped, marks[:n] + marks[n + 1 :]
            break
        out += (base + marks).encode("cp1258")
    return bytes(out)
