"""From what a citizen types to Whoosh queries: pure functions, no index access.

`parse_query` understands plain keywords, "quoted phrases", `-exclusions` and month/year filters
typed the way people write dates ("2019", "9/2019", "tháng 9/2019", "thang 9 2019"). It never
raises: anything it cannot use is ignored, and an unusable query parses as empty.

`build_query` turns a parsed query into one Whoosh query of two parts:

- *match* — which documents qualify: every word's folded form in the `text` field (title + lead +
  body), minus exclusions. One posting list per word keeps matching and counting cheap.
- *rank* — optional clauses that only order the matches: the word (folded, and exact when typed
  with accents) in the title and lead, and adjacent word pairs as bigrams there.

How the match loosens when it finds too little is `index.ranking`'s business.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from whoosh.query import And, AndMaybe, AndNot, DisjunctionMax, NullQuery, Or, Query, Term

from bantin.index.abbreviations import ABBREVIATIONS
from bantin.index.analysis import BIGRAM_SEP, breaks_phrase, fold, query_syllables

#: Longer queries are cut: beyond this many words a query is a pasted paragraph, and every
#: extra word costs a posting list.
MAX_WORDS = 12
MAX_CHARS = 200

# Rank weights per field, and bonuses as shares of them; tuned on bench/relevance_set.json.
TITLE = 3.0
LEAD = 1.5
TEXT = 1.0
EXACT = 0.8  # extra, as a share of the field's weight, when the accents typed match exactly
BIGRAM = 0.5  # adjacent words, as a share of the field's weight
PHRASE_BIGRAM = 2.0  # the same for words the user quoted
BODY_BIGRAM = 2.0  # adjacent words in the `pairs` field (the article's first paragraphs)
ALTERNATIVE = 1.0  # another spelling (abbreviation ↔ expansion), per query word it stands for
TIEBREAK = 0.5  # what the other fields of a group add, as a share of their score

_QUOTES = str.maketrans({c: '"' for c in "“”„‟«»＂″"})
_DASHES = "-−–—"
_SPACE = re.compile(r"\s+")
_EDGES = re.compile(r"([\W_]*).*?([\W_]*)", re.DOTALL)
_TYPED = re.compile(r"[^\W_]+")  # the tokenizer's syllables, before lower-casing
_CHUNK = re.compile(r'(?P<neg>[-−–—]?)"(?P<phrase>[^"]*)"|(?P<word>\S+)')

# Date expressions, matched on the folded lower-case query. The look-arounds keep "2/2017" inside
# "6/2/2017" (a day, treated as words) from being read as a month.
_EDGE_L = r"(?<![\w/.\-])"
_EDGE_R = r"(?![\w/\-]|\.\d)"
_MONTH = r"(0?[1-9]|1[0-2])"
_YEAR = r"((?:19|20)\d\d)"
_DATE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(_EDGE_L + r"(?:thang\s*)?" + _MONTH + r"\s*[/.\-]\s*" + _YEAR + _EDGE_R), "my"),
    (re.compile(_EDGE_L + r"thang\s+" + _MONTH + r"\s*,?\s+(?:nam\s+)?" + _YEAR + _EDGE_R), "my"),
    (re.compile(_EDGE_L + _YEAR + r"-" + _MONTH + _EDGE_R), "ym"),
    (re.compile(_EDGE_L + r"(?:nam\s+)?" + _YEAR + _EDGE_R), "y"),
)


@dataclass(frozen=True)
class Word:
    """One query syllable: `exact` as typed (normalised), `folded` without diacritics.

    `joined` is False when punctuation separates it from the previous word, so no bigram
    links the two.
    """

    exact: str
    folded: str
    joined: bool = True
    upper: bool = False  # typed in capitals ("TU"): an abbreviation, not the syllable "tu"

    @property
    def accented(self) -> bool:
        return self.exact != self.folded


@dataclass(frozen=True)
class Alternative:
    """Other spellings of `words[start:end]`: an abbreviation and what it stands for (either way)."""

    start: int
    end: int
    forms: tuple[tuple[Word, ...], ...]

    def slots(self, words: tuple[Word, ...]) -> frozenset[str]:
        return frozenset(w.folded for w in words[self.start : self.end])


@dataclass(frozen=True)
class ParsedQuery:
    """What the user asked for, independent of any index."""

    words: tuple[Word, ...] = ()
    phrases: tuple[tuple[Word, ...], ...] = ()
    excluded: tuple[tuple[Word, ...], ...] = ()
    year: int | None = None
    month: int | None = None
    date_words: tuple[Word, ...] = field(default=())
    truncated: bool = False

    @property
    def empty(self) -> bool:
        """Nothing to search for: no words and no date."""
        return not self.words and self.year is None

    @property
    def period(self) -> str | None:
        """The `period` term of the date filter ("2019" or "2019-09"), if any."""
        if self.year is None:
            return None
        return f"{self.year:04d}" if self.month is None else f"{self.year:04d}-{self.month:02d}"

    def without_date(self, *, as_words: bool = True) -> ParsedQuery:
        """The same query without its date filter, the date read as words (or dropped), for when
        the date filter finds nothing."""
        if self.year is None:
            return self
        words = (self.words + self.date_words)[:MAX_WORDS] if as_words else self.words
        return ParsedQuery(words, self.phrases, self.excluded, truncated=self.truncated)

    def text(self) -> str:
        """The query as words, for display and suggestions."""
        return " ".join(w.exact for w in self.words)

    @cached_property
    def alternatives(self) -> tuple[Alternative, ...]:
        """Abbreviations in the query and their expansions, and expansions and their abbreviations."""
        return find_alternatives(self.words)


@dataclass(frozen=True)
class CleanQuery:
    """The text a search reads of what was typed: NFC, no control or format characters, single
    spaces, at most MAX_CHARS (cut at a word boundary; `truncated` says so). The one place a
    query is cleaned and capped: the bot asks here whether there is anything to search for, the
    index parses this text and shows it back (`SearchPage.query`, which page buttons search again)."""

    text: str = ""
    truncated: bool = False

    @property
    def has_words(self) -> bool:
        """A letter or digit to search for (else the bot explains how to search, not "not found")."""
        return any(ch.isalnum() for ch in self.text)


def clean_query(raw: object) -> CleanQuery:
    """Clean and cap anything (even non-strings); never raises."""
    if not isinstance(raw, str):
        return CleanQuery()
    text = "".join(c if c.isprintable() else " " for c in unicodedata.normalize("NFC", raw))
    text = _SPACE.sub(" ", text).strip()
    if len(text) <= MAX_CHARS:
        return CleanQuery(text)
    cut = text.rfind(" ", 0, MAX_CHARS + 1)
    return CleanQuery(text[: cut if cut > 0 else MAX_CHARS], truncated=True)


def parse_query(text: object) -> ParsedQuery:
    """Parse anything (even non-strings) into a `ParsedQuery`; never raises."""
    if not isinstance(text, str):
        return ParsedQuery()
    cleaned = clean_query(text)
    text, truncated = cleaned.text.translate(_QUOTES), cleaned.truncated  # one kind of quote

    year = month = None
    date_words: tuple[Word, ...] = ()
    text, found = _take_date(text)
    if found is not None:
        year, month, date_text = found
        date_words = tuple(w for w in _words(date_text) if w.folded.isdigit())

    words: list[Word] = []
    phrases: list[tuple[Word, ...]] = []
    excluded: list[tuple[Word, ...]] = []
    tail: str | None = None  # what ended the previous plain chunk (None: no plain chunk before)
    naming = False  # the last chunk was an exclusion that a capitalised name may continue
    for match in _CHUNK.finditer(text):
        if match.group("word") is not None:
            chunk = match.group("word")
            if naming and chunk[0].isupper() and excluded:
                # "-miền Trung", "-tỉnh Gia Lai": a common noun and the name it heads, excluded whole
                excluded[-1] += _words(chunk)
                naming = chunk[-1].isalnum()
                continue
            naming = False
            if chunk[0] in _DASHES and len(chunk) > 1:
                negated = _words(chunk[1:])
                if negated:
                    excluded.append(negated)
                    naming = chunk[1].isalpha() and chunk[-1].isalnum()
                tail = None
                continue
            edges = _EDGES.fullmatch(chunk)
            lead, end = (edges.group(1), edges.group(2)) if edges else ("", "")
            words.extend(_words(chunk, joined=tail is not None and not breaks_phrase(tail + lead)))
            tail = end
        else:
            tail, naming = None, False
            phrase = _words(match.group("phrase"))
            if not phrase:
                continue
            if match.group("neg"):
                excluded.append(phrase)
                continue
            words.extend(phrase)
            if len(phrase) > 1:
                phrases.append(phrase)

    if len(words) > MAX_WORDS:
        words, truncated = words[:MAX_WORDS], True
        kept = {w.folded for w in words}
        phrases = [p for p in phrases if all(w.folded in kept for w in p)]
    if len(excluded) > MAX_WORDS:
        excluded, truncated = excluded[:MAX_WORDS], True
    return ParsedQuery(
        words=tuple(words),
        phrases=tuple(phrases),
        excluded=tuple(excluded),
        year=year,
        month=month,
        date_words=date_words,
        truncated=truncated,
    )


def build_query(query: ParsedQuery | str) -> Query:
    """The Whoosh query for a parsed query (or a query string); `NullQuery` when empty."""
    parsed = parse_query(query) if isinstance(query, str) else query
    match = match_query(parsed)
    if match is NullQuery:
        return NullQuery
    rank = rank_query(parsed)
    return match if rank is NullQuery else AndMaybe(match, rank)


def match_query(parsed: ParsedQuery) -> Query:
    """Which documents qualify (see the module docstring); `NullQuery` when none can.

    Its terms have boost 0: matching is all they do, `rank_query` does the scoring.
    """
    if not parsed.words:
        return NullQuery
    spans = {i: alt for alt in parsed.alternatives for i in range(alt.start, alt.end)}
    terms: list[Query] = []
    seen: set[str] = set()
    for i, word in enumerate(parsed.words):
        alt = spans.get(i)
        if alt is not None:
            if i == alt.start:
                own = _all([Term("text", w.folded, boost=0.0) for w in parsed.words[alt.start : alt.end]])
                terms.append(Or([own, *(_form_match(form) for form in alt.forms)]))
        elif word.folded not in seen:
            terms.append(Term("text", word.folded, boost=0.0))
        seen.add(word.folded)
    positive = _all(terms)
    negative = exclusion_query(parsed)
    return positive if negative is NullQuery else AndNot(positive, negative)


def _all(terms: list[Query]) -> Query:
    return terms[0] if len(terms) == 1 else And(terms)


def _form_match(form: tuple[Word, ...]) -> Query:
    """An alternative spelling matches as one word, or as its adjacent pairs (a written-out name)."""
    if len(form) == 1:
        return Term("text", form[0].folded, boost=0.0)
    return _all([Term("pairs", a.folded + BIGRAM_SEP + b.folded, boost=0.0) for a, b in itertools.pairwise(form)])


class Unit(DisjunctionMax):
    """A rank group; `slots` are the (folded) query words it counts for in the coverage factor."""

    def __init__(
        self, subqueries: list[Query], *, tiebreak: float, slots: frozenset[str], boost: float = 1.0, kind: str = "word"
    ):
        super().__init__(subqueries, boost=boost, tiebreak=tiebreak)
        self.slots = slots
        self.kind = kind  # "word", "pair" (adjacent query words) or "form" (another spelling)


def exclusion_query(parsed: ParsedQuery) -> Query:
    """Documents to leave out: any excluded word, or all the words of an excluded phrase."""
    groups: list[Query] = [
        Term("text", group[0].folded) if len(group) == 1 else And([Term("text", w.folded) for w in group])
        for group in parsed.excluded
    ]
    if not groups:
        return NullQuery
    return groups[0] if len(groups) == 1 else Or(groups)


def rank_query(parsed: ParsedQuery) -> Query:
    """The scoring clauses: one group per word and per adjacent pair; `NullQuery` when none.

    A group scores the best field it matches (DisjunctionMax), so a word found in the title and
    again in the lead and body counts once, at title strength, instead of three times; a word
    typed with accents adds `EXACT` where it is spelled exactly so.
    """
    groups: list[Query] = []
    words: dict[str, Word] = {}
    for word in parsed.words:
        if word.folded not in words or (word.accented and not words[word.folded].accented):
            words[word.folded] = word
    for word in words.values():
        fields: list[Query] = []
        for fieldname, base in (("title", TITLE), ("lead", LEAD)):
            if word.accented:
                fields.append(Or([Term(fieldname, word.folded), Term(fieldname, word.exact, boost=EXACT)], boost=base))
            else:
                fields.append(Term(fieldname, word.folded, boost=base))
        fields.append(Term("text", word.folded, boost=TEXT))
        groups.append(Unit(fields, tiebreak=TIEBREAK, slots=frozenset([word.folded])))
    pairs: dict[str, float] = {}
    for left, right in itertools.pairwise(parsed.words):
        if right.joined and left.folded != right.folded:
            pairs.setdefault(left.folded + BIGRAM_SEP + right.folded, BIGRAM)
    for phrase in parsed.phrases:
        for left, right in itertools.pairwise(phrase):
            pairs[left.folded + BIGRAM_SEP + right.folded] = PHRASE_BIGRAM
    for pair, weight in pairs.items():
        fields = [
            Term("title", pair, boost=TITLE * weight),
            Term("lead", pair, boost=LEAD * weight),
            Term("pairs", pair, boost=TEXT * BODY_BIGRAM * weight / BIGRAM),
        ]
        groups.append(Unit(fields, tiebreak=TIEBREAK, slots=frozenset(pair.split(BIGRAM_SEP)), kind="pair"))
    for alt in parsed.alternatives:
        slots = alt.slots(parsed.words)
        for form in alt.forms:
            groups.append(_form_group(form, slots, ALTERNATIVE * len(slots)))
    if not groups:
        return NullQuery
    return groups[0] if len(groups) == 1 else Or(groups)


def _form_group(form: tuple[Word, ...], slots: frozenset[str], boost: float) -> Query:
    """The rank group of an alternative spelling: one word, or its pairs, best field wins."""
    if len(form) == 1:
        f = form[0].folded
        fields: list[Query] = [Term("title", f, boost=TITLE), Term("lead", f, boost=LEAD), Term("text", f, boost=TEXT)]
    else:
        share = 1.0 / (len(form) - 1)
        pairs = [a.folded + BIGRAM_SEP + b.folded for a, b in itertools.pairwise(form)]
        fields = [
            Or([Term(name, p, boost=base * share) for p in pairs])
            for name, base in (("title", TITLE), ("lead", LEAD), ("pairs", TEXT))
        ]
    return Unit(fields, tiebreak=TIEBREAK, slots=slots, boost=boost, kind="form")


# -- abbreviations ----------------------------------------------------------------------------------

_SYLLABLE_SHAPE = re.compile(r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnpqrstvx])?[aeiouy]+(?:ch|ng|nh|[cmnpt])?")


def _spelling_words(spelling: str) -> tuple[Word, ...]:
    return _words(unicodedata.normalize("NFC", spelling))


def _usable_form(form: tuple[Word, ...]) -> bool:
    """A one-syllable abbreviation that is also a common syllable ("tu") cannot be searched for."""
    return len(form) > 1 or _SYLLABLE_SHAPE.fullmatch(form[0].folded) is None


@lru_cache(maxsize=1)
def _abbreviation_table() -> dict[tuple[str, ...], tuple[tuple[Word, ...], ...]]:
    """Folded spelling → every equivalent spelling (rows sharing a spelling are merged)."""
    groups: dict[tuple[str, ...], dict[tuple[str, ...], tuple[Word, ...]]] = {}
    for row in ABBREVIATIONS:
        forms = {tuple(w.folded for w in form): form for form in map(_spelling_words, row)}
        merged = dict(forms)
        for key in forms:
            merged.update(groups.get(key, {}))
        for key in merged:
            groups[key] = merged
    return {key: tuple(forms[k] for k in sorted(forms)) for key, forms in groups.items()}



def find_alternatives(words: tuple[Word, ...]) -> tuple[Alternative, ...]:
    """Spans of the query found in the abbreviation table, longest first, not overlapping.

    A one-syllable spelling that is also an ordinary syllable ("TU" = tỉnh ủy, "tu") counts only
    when typed in capitals.
    """
    table = _abbreviation_table()
    longest = max(len(key) for key in table)
    found: list[Alternative] = []
    folded = [w.folded for w in words]
    i = 0
    while i < len(words):
        for size in range(min(longest, len(words) - i), 0, -1):
            key = tuple(folded[i : i + size])
            forms = table.get(key)
            if forms is None:
                continue
            if size == 1 and not words[i].upper and not _usable_form(words[i : i + 1]):
                continue
            others = tuple(f for f in forms if tuple(w.folded for w in f) != key and _usable_form(f))
            if others:
                found.append(Alternative(i, i + size, others))
                i += size - 1
                break
        i += 1
    return tuple(found)


def phrase_pattern(phrase: tuple[Word, ...]) -> re.Pattern[str]:
    """Matches the phrase's folded syllables in folded text, separated only by spaces/hyphens."""
    body = r"[\s\-]+".join(re.escape(w.folded) for w in phrase)
    return re.compile(r"(?<![^\W_])" + body + r"(?![^\W_])")


# -- helpers -----------------------------------------------------------------------------------


def _words(text: str, *, joined: bool = False) -> tuple[Word, ...]:
    """The syllables of a piece of text; the first is `joined` only if asked (adjacent chunks)."""
    out: list[Word] = []
    syllables = query_syllables(text)
    typed = _TYPED.findall(unicodedata.normalize("NFC", text))
    if len(typed) != len(syllables):
        typed = [""] * len(syllables)
    for i, ((exact, boundary), original) in enumerate(zip(syllables, typed, strict=True)):
        link = joined if i == 0 else not boundary
        out.append(Word(exact, fold(exact), link, len(original) > 1 and original.isupper()))
    return tuple(out)


def _take_date(text: str) -> tuple[str, tuple[int, int | None, str] | None]:
    """Remove the first month/year expression; returns the rest and (year, month, matched text)."""
    folded = fold(text).lower()
    if len(folded) != len(text):
        return text, None
    for pattern, kind in _DATE_PATTERNS:
        for match in pattern.finditer(folded):
            start, end = match.span()
            original = text[start:end].lower()
            if original.startswith("nam") and not original.startswith("năm"):
                # "nam" without its breve is more likely "Nam" (Việt Nam) than "năm": only the year.
                start += match.group(0).index(match.group(1))
            if original.startswith("th") and not original.startswith(("tháng", "thang")):
                continue  # "thắng 9/2019" is not a month
            if kind == "my":
                year, month = int(match.group(2)), int(match.group(1))
            elif kind == "ym":
                year, month = int(match.group(1)), int(match.group(2))
            else:
                year, month = int(match.group(1)), None
            matched = text[start:end]
            return (text[:start] + " " + text[end:]).strip(), (year, month, matched)
    return text, None
