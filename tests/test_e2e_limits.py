"""End to end, the report of issue 12 item 6: eight results a page with ~1,600-character titles.

Before the fix the bot sent an 8,547-character message, Telegram (here the fake Bot API, which
checks as Telegram does) answered 400 and the user got an apology. Now: a valid reply, every page
reachable by its buttons, inline results and /latest within the limits too.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator

import pytest

from tests.e2e import buttons, cli, plain, running_bot
from tests.fake_botapi import FakeBotAPI

pytestmark = pytest.mark.e2e
CHAT = 4242
APOLOGY = "Xin lỗi, mình gặp trục trặc"


def long_title(n: int) -> str:
    words = f"Hội nghị chuyển đổi số lần thứ {n} của tỉnh <Đắk Lắk> & các huyện, thị xã 😀".split()
    out: list[str] = []
    while len(" ".join(out)) < 1600:
        out.append(words[len(out) % len(words)])
    return " ".join(out)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI() as api:
        yield api


@pytest.fixture(scope="module")
def bot(fake: FakeBotAPI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen[str]]:
    data = tmp_path_factory.mktemp("data")
    export = data / "export.jsonl"
    with export.open("w", encoding="utf-8") as out:
        for n in range(1, 21):
            record = {"id": f"dai{n}", "title": long_title(n), "sapo": "Tỉnh bàn về chuyển đổi số ở cơ sở. " * 20,
                      "body": "Các huyện báo cáo kết quả chuyển đổi số.",
                      "published": f"2024-05-{n:02d}T08:00:00+07:00"}
            if n % 2:
                record["url"] = f"https://bao.example.vn/bai-{n}"
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    cli(data, "ingest", str(export))
    cli(data, "reindex")
    with running_bot(fake, data, BANTIN_PER_PAGE="8", BANTIN_RATE_BURST="20", BANTIN_RATE_PER_MINUTE="60") as proc:
        yield proc


def test_eight_huge_titles_get_a_valid_reply_and_every_page(fake: FakeBotAPI, bot: subprocess.Popen[str]) -> None:
    fake.send_text(CHAT, "chuyen doi so")
    sent = fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == CHAT)[0]
    assert fake.violations == []
    text = plain(sent)
    assert APOLOGY not in text and "20 kết quả" in text and "trang 1/3" in text
    assert len(text.encode("utf-16-le")) // 2 <= 4096 and text.count("…") >= 8
    seen = {int(n) for n in re.findall(r"^(\d+)\. ", text, re.M)}
    message_id = fake.messages_in(CHAT)[-1]["message_id"]
    current = sent
    for page in (2, 3):  # the next-page buttons reach every result
        nav = next(b for b in buttons(current) if b["text"].startswith("Sau"))
        fake.press_button(CHAT, message_id, nav["callback_data"])
        current = fake.wait_for("editMessageText", lambda c: c.params.get("chat_id") == CHAT, count=page - 1)[-1]
        assert f"trang {page}/3" in plain(current)
        seen |= {int(n) for n in re.findall(r"^(\d+)\. ", plain(current), re.M)}
    assert seen == set(range(1, 21))
    assert fake.violations == []
    assert not [c for c in fake.calls("sendMessage", chat_id=CHAT) if APOLOGY in str(c.params.get("text"))]


def test_latest_and_inline_fit_too(fake: FakeBotAPI, bot: subprocess.Popen[str]) -> None:
    fake.send_text(CHAT + 1, "/latest")
    latest = fake.wait_for("sendMessage", lambda c: c.params.get("chat_id") == CHAT + 1)[0]
    assert APOLOGY not in plain(latest) and plain(latest).count("…") >= 8
    query_id = fake.inline_query(CHAT + 2, "chuyen doi so")
    answer = fake.wait_for("answerInlineQuery", lambda c: c.params.get("inline_query_id") == query_id)[0]
    results = answer.params["results"]
    assert len(results) == 10 and all(len(r["title"]) <= 256 for r in results)
    assert fake.violations == []
