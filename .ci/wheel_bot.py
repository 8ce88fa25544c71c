"""Wheel smoke, part 2: the installed `bantin run` against the local fake Bot API; a citizen's first
query must get results. Run with the checkout on PYTHONPATH (for tests/fake_botapi.py, stdlib only)
and the wheel's `bantin` as argv[1]; the data dir comes from BANTIN_DATA_DIR."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.fake_botapi import FakeBotAPI, parse_telegram_html


def main(bantin: str) -> int:
    fake = FakeBotAPI()
    fake.start()
    env = {**os.environ, "BANTIN_TOKEN": fake.token, "BANTIN_API_URL": fake.url, "BANTIN_SEARCH_WORKERS": "1"}
    bot = subprocess.Popen([bantin, "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        fake.wait_for("setMyCommands", count=2, timeout=60)
        fake.send_text(4242, "nong thon moi")
        reply = fake.wait_for("sendMessage", lambda c: str(c.params.get("chat_id")) == "4242", timeout=60)[0]
        text = parse_telegram_html(str(reply.params["text"]))[0]
        print(text)
        assert "1." in text and "nông thôn mới" in text.lower(), text  # numbered results, not a notice
        assert not fake.violations, fake.violations
    finally:
        bot.send_signal(signal.SIGTERM)
        out, _ = bot.communicate(timeout=30)
        fake.stop()
    assert "Traceback" not in out, out
    print("bantin run (wheel) answered a citizen's first query")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
