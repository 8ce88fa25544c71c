"""How an article is opened from a message: the `/xem_<id>` command and the `t.me` deep link.

Neutral ground: search listings, reading in full and the digests all link articles the same way,
and none of them needs the others for it.
"""

from __future__ import annotations

import re

#: Article ids a read command can carry (Telegram commands are `[A-Za-z0-9_]`).
READ_ID = re.compile(r"^[A-Za-z0-9_]{1,40}$")
READ_COMMANDS = ("xem", "read")
#: `/start xem_<id>`: a deep link (t.me/<bot>?start=xem_<id>) that opens an article. Telegram allows
#: start payloads of up to 64 characters from A-Z, a-z, 0-9, _ and -.
READ_PAYLOAD = "xem_"
START_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
_BOT_USERNAME = re.compile(r"[A-Za-z0-9_]{1,64}")


def read_deep_link(bot_username: str | None, article_id: str) -> str | None:
    """`https://t.me/<bot>?start=xem_<id>`: opens a private chat with the bot, which shows the
    article. For places where a button cannot carry a private reading (channel posts, other
    apps). None without a username or when the id cannot be a start payload."""
    payload = READ_PAYLOAD + article_id
    if not article_id or not bot_username or not _BOT_USERNAME.fullmatch(bot_username) \
            or not START_PAYLOAD.fullmatch(payload):
        return None
    return f"https://t.me/{bot_username}?start={payload}"


def deep_link_article(payload: str) -> str | None:
    """The article id of a `/start` payload made by `read_deep_link`, else None."""
    if payload.startswith(READ_PAYLOAD) and len(payload) > len(READ_PAYLOAD) and START_PAYLOAD.fullmatch(payload):
        return payload[len(READ_PAYLOAD) :]
    return None


def read_command(article_id: str) -> str | None:
    """`/xem_<id>`, a tappable command that shows an article's full text in the chat."""
    return f"/xem_{article_id}" if READ_ID.match(article_id) else None
