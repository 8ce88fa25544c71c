"""Bylines: who wrote an article (`author`) and whose article it reprints (`source_credit`).

Sites print them in many ways — `Trường Xuân`, `MINH NGUYỆT`, `H.Nguyên - T.Lan`, `N.Đ |` before the
body, `Quốc Sự - Uỷ viên UBKT Huyện ủy` (a role after the name), `CTV: Hoàng Lan`, an institution
(`Ban Tuyên giáo Huyện ủy Ea Rông`), `Theo Trí Thức Trẻ` / `Nguồn: baochinhphu.vn` (a credit), or a
name and a credit together (`Minh Anh (Theo VOV)`). The data (labels, roles, institutions) lives in
`articles.markers`; the shapes here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bantin.articles.markers import BYLINE_LABELS, INSTITUTION_HEADS, ROLE_WORDS, SOURCE_CREDIT

_NAME_WORD = re.compile(r"^(?:[(\[]?[A-ZĐÀ-Ỹ][\w.'’]*[)\]]?|[A-ZĐ][\w]*\.[\w.]*|-|–|&|và)$")
_SENTENCE_END = (".", "!", "?", ":", ";", ",", "…")
_JOINERS = frozenset({"-", "–", "&", "và"})
_INITIAL_END = re.compile(r"\b\w\.$")
_ROLE_SPLIT = re.compile(r"\s*(?:\s[-–]\s|,\s*)\s*")
_NAME_AND_CREDIT = re.compile(r"^(?P<name>[^()]+?)\s*\(\s*(?i:theo|nguồn)\s*:?\s+(?P<credit>[^()]+)\)\.?$")
_DOMAIN = re.compile(r"^[\w.-]+\.(?:vn|com|net|org|gov\.vn|info)$", re.IGNORECASE)


@dataclass(frozen=True)
class Byline:
    author: str | None = None
    source_credit: str | None = None


def is_name(block: str) -> bool:
    """A short run of capitalised names or initials, no sentence punctuation (`Trường Xuân`, `Đ.T`)."""
    if len(block) > 48 or (block.endswith(_SENTENCE_END) and not _INITIAL_END.search(block)):
        return False
    words = block.split()
    if not 1 <= len(words) <= 6 or any(ch.isdigit() for ch in block):
        return False
    return all(_NAME_WORD.match(word) and (word in _JOINERS or word.lstrip("([")[:1].isupper()) for word in words)


def parse_byline(block: str) -> Byline | None:
    """The byline a block states, or None when the block is something else (a sentence, a title)."""
    if not block or len(block) > 100:
        return None
    credit = _credit(block)
    if credit:
        return Byline(source_credit=credit)
    both = _NAME_AND_CREDIT.match(block)
    if both and is_name(both.group("name").strip()):
        credit = _credit("Theo " + both.group("credit"))
        if credit:
            return Byline(author=both.group("name").strip(), source_credit=credit)
    if is_name(block):
        return Byline(author=block)
    labelled = BYLINE_LABELS.match(block)
    if labelled:
        name = block[labelled.end() :].strip()
        inner = parse_byline(name) if name and not BYLINE_LABELS.match(name) else None
        if inner and inner.author:
            return inner
        return Byline(author=name) if name and len(name.split()) <= 8 and not name.endswith(".") else None
    author = _name_with_role(block)
    if author:
        return Byline(author=author)
    if _is_institution(block):
        return Byline(author=block.rstrip("."))
    return None


def _credit(block: str) -> str | None:
    match = SOURCE_CREDIT.match(block)
    if not match:
        return None
    credit = match.group("credit").strip().rstrip(".")
    if _DOMAIN.match(credit):
        return credit
    words = credit.split()
    if not 1 <= len(words) <= 8 or "," in credit or not credit[0].isupper():
        return None
    return credit


def _name_with_role(block: str) -> str | None:
    """`Quốc Sự - Uỷ viên UBKT Huyện ủy` → `Quốc Sự`: a name, then a dash or comma, then a role."""
    parts = _ROLE_SPLIT.split(block, maxsplit=1)
    if len(parts) != 2 or len(block.split()) > 16 or block.endswith(("!", "?")):
        return None
    name, role = parts[0].strip(), parts[1].strip().casefold()
    if is_name(name) and role.startswith(ROLE_WORDS):
        return name
    return None


def _is_institution(block: str) -> bool:
    """`Ban Tuyên giáo Huyện ủy Ea Rông`: an organisation's name signs the article."""
    words = block.split()
    if not 2 <= len(words) <= 14 or block.endswith(_SENTENCE_END) or any(c.isdigit() for c in block):
        return False
    capitalised = sum(1 for word in words if word[0].isupper())
    return block.casefold().startswith(INSTITUTION_HEADS) and block[0].isupper() and 2 * capitalised >= len(words)
