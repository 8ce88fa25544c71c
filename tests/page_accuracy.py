"""Per-field accuracy of the raw-page parser on the hand-written newsroom pages in tests/fixtures/pages.

Run: .venv/bin/python tests/page_accuracy.py   (put another checkout's root first on PYTHONPATH to
measure its parser on the same pages, e.g. the parser before a change). Prints one line per field.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PAGES = Path(__file__).resolve().parent / "fixtures" / "pages"
FIELDS = ("title", "date", "author", "source_credit", "body", "clean")


def expectations() -> dict[str, dict[str, object]]:
    result: dict[str, dict[str, object]] = json.loads((PAGES / "expected.json").read_text(encoding="utf-8"))
    return result


def check(name: str, expected: dict[str, object]) -> dict[str, bool]:
    """Which fields of one page the parser gets right (a page that fails to parse gets none)."""
    from bantin.articles.rawpage import PageError, parse_page

    try:
        article = parse_page((PAGES / name).read_bytes(), source=str(PAGES / name))
    except PageError:
        return dict.fromkeys(FIELDS, False)
    paragraphs = list(article.paragraphs)
    body = (
        len(paragraphs) == expected["paragraphs"]
        and paragraphs[0].startswith(str(expected["first_paragraph_startswith"]))
        and paragraphs[-1].endswith(str(expected["last_paragraph_endswith"]))
    )
    everything = "\n".join([article.title, *paragraphs])
    absent = expected["absent"]
    assert isinstance(absent, list)
    return {
        "title": article.title == expected["title"],
        "date": article.to_json()["published"] == expected["published"],
        "author": article.author == expected["author"],
        "source_credit": getattr(article, "source_credit", None) == expected["source_credit"],
        "body": body,
        "clean": body and not any(junk in everything for junk in absent),
    }


def main() -> int:
    cases = expectations()
    totals = dict.fromkeys(FIELDS, 0)
    for name, expected in sorted(cases.items()):
        result = check(name, expected)
        for key, ok in result.items():
            totals[key] += ok
        wrong = [key for key, ok in result.items() if not ok]
        if wrong and "-v" in sys.argv:
            print(f"  {name}: {', '.join(wrong)}")
    for key in FIELDS:
        print(f"{key:14} {totals[key]:3d}/{len(cases)}  {100 * totals[key] / len(cases):5.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
