"""A local HTTP server that plays the Telegram Bot API, for end-to-end tests.

Why: the real Bot API cannot be used from tests (no network, no real chats), and mocking PTB's
``Bot`` object would skip exactly the layer where bots break in production: request encoding,
HTML that Telegram refuses to parse, messages that are too long, callback data over 64 bytes,
flood control. This fake speaks HTTP like ``api.telegram.org`` does, so the bot under test runs
unmodified (``BANTIN_API_URL=fake.url``), and it validates what the bot sends the way Telegram
does, so a reply that would be a ``400 Bad Request`` in production fails the test too.

Stdlib only. Usage::

    with FakeBotAPI() as fake:
        ...start the bot with base_url=f"{fake.url}/bot"...
        fake.send_text(42, "/start")
        call = fake.wait_for("sendMessage", lambda c: c.params["chat_id"] == 42)[0]
        assert not fake.violations

How PTB 22 encodes requests (checked against ``telegram.request``): every call is a POST to
``<base_url><token>/<method>``. Without files the body is ``application/x-www-form-urlencoded``;
with files it is ``multipart/form-data``, the files as parts with a filename and every other
parameter as a plain part. In both cases each value is a string: ``str`` parameters are sent
as-is, everything else (ints, bools, dicts, lists) is ``json.dumps``-ed. So the fake has to
know which parameters are strings: ``text="42"`` must stay ``"42"`` while ``chat_id=42`` and
``reply_markup={...}`` are decoded (see ``_STRING_PARAMS``). ``application/json`` bodies (other
clients, curl) and query strings are accepted too.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["Call", "FakeBotAPI", "decode_params", "parse_telegram_html"]

# --------------------------------------------------------------------------------------------
# Telegram's HTML parse mode
# --------------------------------------------------------------------------------------------

# Tag name -> entity type; "a", "pre", "tg-emoji" and blockquote variants are special-cased.
_TAG_TYPES: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "tg-emoji": "custom_emoji",
    "blockquote": "blockquote",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
# Telegram (tdlib) treats these ASCII characters as whitespace inside tags.
_TAG_SPACE = frozenset(" \t\r\n\f\v")
MAX_ENTITIES = 100


def _utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's offsets and limits."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    """Telegram reports parse errors at UTF-8 byte offsets; mirror that for familiar messages."""
    return len(text[:index].encode("utf-8", "surrogatepass"))


@dataclass
class _OpenTag:
    """A start tag waiting for its end tag."""

    name: str
    argument: str
    start: int  # UTF-16 offset in the plain text
    byte_pos: int
    expandable: bool = False


def _decode_entity(text: str, i: int) -> tuple[str | None, int]:
    """Decode an HTML entity at ``text[i] == "&"``.

    Returns (character, index after it), or (None, i) when this ``&`` does not start an entity and
    is therefore literal text (as in Telegram: ``Q&A`` or ``&#0;`` stay as typed).
    Raises ValueError for a well-formed *named* entity other than lt/gt/amp/quot: Telegram would
    show it literally (the user sees ``&nbsp;``), which is always a rendering bug in the bot.
    """
    n = len(text)
    j = i + 1
    if j < n and text[j] == "#":
        j += 1
        base = 10
        if j < n and text[j] in "xX":
            base = 16
            j += 1
        digits_start = j
        allowed = "0123456789abcdefABCDEF" if base == 16 else "0123456789"
        while j < n and text[j] in allowed:
            j += 1
        if j == digits_start or j >= n or text[j] != ";":
            return None, i
        code = int(text[digits_start:j], base)
        if code == 0 or code >= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None, i
        return chr(code), j + 1
    while j < n and text[j].isascii() and text[j].isalnum():
        j += 1
    if j == i + 1 or j >= n or text[j] != ";":
        return None, i
    name = text[i + 1 : j]
    if name in _NAMED_ENTITIES:
        return _NAMED_ENTITIES[name], j + 1
    raise ValueError(
        f'Unsupported HTML entity "&{name};" at byte offset {_byte_offset(text, i)} '
        "(only &lt; &gt; &amp; &quot; and numeric entities are decoded)"
    )


def _parse_start_tag(text: str, i: int, begin: int) -> tuple[_OpenTag, int]:
    """Parse ``<name attr=...>`` from just after the ``<``; returns (tag, index after ``>``)."""
    n = len(text)
    bpos = _byte_offset(text, begin)
    j = i
    while j < n and text[j] not in _TAG_SPACE and text[j] != ">":
        j += 1
    if j >= n:
        raise ValueError(f"Unclosed start tag at byte offset {bpos}")
    name = text[i:j].lower()
    if name not in _TAG_TYPES:
        raise ValueError(f'Unsupported start tag "{name}" at byte offset {bpos}')
    attrs: dict[str, str | None] = {}
    i = j
    while True:
        while i < n and text[i] in _TAG_SPACE:
            i += 1
        if i >= n:
            raise ValueError(f"Unclosed start tag at byte offset {bpos}")
        if text[i] == ">":
            i += 1
            break
        attr_begin = i
        while i < n and text[i] not in _TAG_SPACE and text[i] not in "=>":
            i += 1
        attr_name = text[attr_begin:i].lower()
        if not attr_name:
            raise ValueError(f'Empty attribute name in the tag "{name}" at byte offset {bpos}')
        while i < n and text[i] in _TAG_SPACE:
            i += 1
        if i >= n:
            raise ValueError(f"Unclosed start tag at byte offset {bpos}")
        if text[i] != "=":
            attrs[attr_name] = None  # valueless attribute, e.g. <blockquote expandable>
            continue
        i += 1
        while i < n and text[i] in _TAG_SPACE:
            i += 1
        if i >= n:
            raise ValueError(f"Unclosed start tag at byte offset {bpos}")
        if text[i] in "\"'":
            quote = text[i]
            i += 1
            value: list[str] = []
            while i < n and text[i] != quote:
                if text[i] == "&":
                    ch, k = _decode_entity(text, i)
                    if ch is not None:
                        value.append(ch)
                        i = k
                        continue
                value.append(text[i])
                i += 1
            if i >= n:
                raise ValueError(f"Unclosed start tag at byte offset {bpos}")
            i += 1
            attrs[attr_name] = "".join(value)
        else:
            # An unquoted "name token": letters, digits, '.' and '-', case-insensitive.
            token_begin = i
            while i < n and ((text[i].isascii() and text[i].isalnum()) or text[i] in ".-"):
                i += 1
            if i >= n or (text[i] not in _TAG_SPACE and text[i] != ">"):
                raise ValueError(f"Unexpected end of name token at byte offset {_byte_offset(text, token_begin)}")
            attrs[attr_name] = text[token_begin:i].lower()

    argument = ""
    expandable = False
    if name == "a":
        argument = attrs.get("href") or ""
        if not argument:
            # Telegram would fall back to the link text as URL; a bot emitting <a> without href
            # has a template bug, so the fake is stricter here.
            raise ValueError(f'Tag "a" must have a non-empty "href" attribute at byte offset {bpos}')
    elif name == "code":
        cls = attrs.get("class") or ""
        if cls.startswith("language-"):
            argument = cls[len("language-") :]
    elif name == "span":
        if attrs.get("class") != "tg-spoiler":
            raise ValueError(f'Tag "span" must have class "tg-spoiler" at byte offset {bpos}')
    elif name == "tg-emoji":
        emoji_id = attrs.get("emoji-id") or ""
        if not emoji_id.isdigit() or int(emoji_id) == 0:
            raise ValueError("Invalid custom emoji identifier specified")
        argument = emoji_id
    elif name == "blockquote":
        expandable = "expandable" in attrs
    return _OpenTag(name, argument, 0, bpos, expandable), i


def parse_telegram_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse ``text`` the way Telegram parses ``parse_mode="HTML"``.

    Returns (plain text, entities) with entity offsets/lengths in UTF-16 code units, sorted like
    Telegram sorts them (by offset, outer before inner). Raises ValueError with Telegram-like
    reasons ("Unsupported start tag ...", "Unmatched end tag ...", ...).

    Follows tdlib's parser: every ``<`` starts a tag (so a literal ``<`` must be ``&lt;``), tag
    names are case-insensitive, ``</>`` closes the innermost tag, empty elements produce no
    entity. Deliberately stricter than Telegram in two places that are always bot bugs:
    unknown named entities (``&nbsp;``) and ``<a>`` without ``href`` raise.
    Leading/trailing whitespace is *not* trimmed here (the server trims message texts).
    """
    out: list[str] = []
    u16 = 0
    stack: list[_OpenTag] = []
    entities: list[dict[str, Any]] = []
    # Language of entities[-1] when it is a <code class="language-x">, for merging into <pre>.
    code_language: str | None = None
    n = len(text)
    i = 0
    while i < n:
        ch = text[i]
        if ch == "&":
            decoded, k = _decode_entity(text, i)
            if decoded is not None:
                out.append(decoded)
                u16 += _utf16_len(decoded)
                i = k
                continue
        if ch != "<":
            out.append(ch)
            u16 += 2 if ord(ch) > 0xFFFF else 1
            i += 1
            continue
        begin = i
        i += 1
        if i < n and text[i] == "/":
            bpos = _byte_offset(text, begin)
            if not stack:
                raise ValueError(f"Unexpected end tag at byte offset {bpos}")
            i += 1
            j = i
            while j < n and text[j] not in _TAG_SPACE and text[j] != ">":
                j += 1
            end_name = text[i:j].lower()
            while j < n and text[j] in _TAG_SPACE:
                j += 1
            if j >= n or text[j] != ">":
                raise ValueError(f"Unclosed end tag at byte offset {bpos}")
            i = j + 1
            tag = stack.pop()
            if end_name and end_name != tag.name:
                raise ValueError(
                    f'Unmatched end tag at byte offset {bpos}, expected "</{tag.name}>", found "</{end_name}>"'
                )
            length = u16 - tag.start
            if length > 0:
                code_language = _close_entity(tag, length, entities, code_language)
        else:
            tag, i = _parse_start_tag(text, i, begin)
            tag.start = u16
            stack.append(tag)
    if stack:
        raise ValueError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    # Stable sort: by offset, then longer (outer) first, as Telegram returns them.
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _close_entity(tag: _OpenTag, length: int, entities: list[dict[str, Any]], code_language: str | None) -> str | None:
    """Append the Bot API MessageEntity for a closed tag; returns the new ``code_language``."""
    entity: dict[str, Any] = {"type": _TAG_TYPES[tag.name], "offset": tag.start, "length": length}
    if tag.name == "a":
        m = re.fullmatch(r"tg://user\?id=(\d+)", tag.argument)
        if m:
            entity = {
                "type": "text_mention",
                "offset": tag.start,
                "length": length,
                "user": {"id": int(m[1])},
            }
        else:
            entity["url"] = tag.argument
    elif tag.name == "pre":
        # <pre><code class="language-x">…</code></pre> is a single "pre" entity with a language.
        last = entities[-1] if entities else None
        if last and last["type"] == "code" and last["offset"] == tag.start and last["length"] == length:
            entities.pop()
            if code_language:
                entity["language"] = code_language
    elif tag.name == "tg-emoji":
        entity["custom_emoji_id"] = tag.argument
    elif tag.name == "blockquote" and tag.expandable:
        entity["type"] = "expandable_blockquote"
    entities.append(entity)
    return tag.argument if tag.name == "code" and tag.argument else None


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Strip leading/trailing whitespace like Telegram does to message texts, shifting entities."""
    left = text.lstrip()
    shift = _utf16_len(text) - _utf16_len(left)
    trimmed = left.rstrip()
    total = _utf16_len(trimmed)
    out: list[dict[str, Any]] = []
    for e in entities:
        start = max(int(e["offset"]) - shift, 0)
        end = min(int(e["offset"]) + int(e["length"]) - shift, total)
        if end > start:
            out.append({**e, "offset": start, "length": end - start})
    return trimmed, out


# --------------------------------------------------------------------------------------------
# Request decoding
# --------------------------------------------------------------------------------------------

# Parameters the Bot API types as String: PTB sends them unencoded, so "42" must stay "42".
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_query_id",
        "inline_message_id",
        "next_offset",
        "switch_pm_text",
        "switch_pm_parameter",
        "url",
        "secret_token",
        "ip_address",
        "action",
        "language_code",
        "description",
        "short_description",
        "name",
        "title",
        "emoji",
        "file_id",
        "custom_emoji_id",
        "message_effect_id",
        "business_connection_id",
        "document",
        "photo",
        "audio",
        "video",
        "voice",
        "sticker",
        "animation",
        "thumbnail",
        "query",
        "data",
        "payload",
        "provider_token",
        "currency",
    }
)
_NUMBER_RE = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")


def _coerce(key: str, value: Any) -> Any:
    """Turn one transmitted value back into the Python value the client meant."""
    if not isinstance(value, str) or key in _STRING_PARAMS:
        return value
    s = value.strip()
    if s[:1] in ("{", "[") or s in ("true", "false", "null") or _NUMBER_RE.fullmatch(s):
        try:
            return json.loads(s)
        except ValueError:
            return value
    return value


def _disposition_param(header: str, name: str) -> str | None:
    """Read ``name="..."`` from a Content-Disposition header, undoing httpx's HTML5 escaping."""
    m = re.search(rf'(?:^|;)\s*{name}="((?:[^"\\]|\\.)*)"', header)
    if m is None:
        m = re.search(rf"(?:^|;)\s*{name}=([^;\s]+)", header)
        if m is None:
            return None
    raw = m[1]

    def unescape(match: re.Match[str]) -> str:
        token = match[0]
        return "\\" if token == "\\\\" else chr(int(token[1:], 16))

    return re.sub(r"%(?:22|[01][0-9A-Fa-f])|\\\\", unescape, raw)


def _parse_multipart(body: bytes, boundary: str) -> dict[str, Any]:
    """Minimal multipart/form-data parser: text parts become str, file parts {filename, content}."""
    result: dict[str, Any] = {}
    delimiter = b"--" + boundary.encode("latin-1")
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break  # closing delimiter
        if part.startswith(b"\r\n"):
            part = part[2:]
        head, sep, content = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        if content.endswith(b"\r\n"):
            content = content[:-2]
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, val = line.partition(":")
            headers[key.strip().lower()] = val.strip()
        disposition = headers.get("content-disposition", "")
        name = _disposition_param(disposition, "name")
        if name is None:
            continue
        filename = _disposition_param(disposition, "filename")
        if filename is not None:
            result[name] = {"filename": filename, "content": content}
        else:
            result[name] = content.decode("utf-8", "replace")
    return result


def decode_params(content_type: str, body: bytes, query: str = "") -> dict[str, Any]:
    """Decode a Bot API request (query string + body) into plain Python values.

    Raises ValueError for a body that cannot be parsed.
    """
    raw: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    mime, _, rest = content_type.partition(";")
    mime = mime.strip().lower()
    if mime == "application/json":
        obj = json.loads(body.decode("utf-8") or "{}")
        if not isinstance(obj, dict):
            raise ValueError("JSON body must be an object")
        raw.update(obj)
    elif mime == "multipart/form-data":
        m = re.search(r'boundary="?([^";]+)"?', rest)
        if m is None:
            raise ValueError("multipart body without boundary")
        raw.update(_parse_multipart(body, m[1]))
    elif body:
        raw.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return {key: _coerce(key, value) for key, value in raw.items()}


# --------------------------------------------------------------------------------------------
# The fake server
# --------------------------------------------------------------------------------------------


@dataclass
class Call:
    """One API call the bot made (``getUpdates`` excluded), with its decoded parameters.

    ``status`` and ``response`` (the JSON body sent back) let tests assert how the fake answered,
    e.g. that a retry followed an injected 429.
    """

    method: str
    params: dict[str, Any]
    time: float
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)


class _ApiError(Exception):
    """An error answer; ``violation`` marks errors caused by content Telegram would reject."""

    def __init__(
        self,
        code: int,
        description: str,
        *,
        parameters: dict[str, Any] | None = None,
        violation: bool = False,
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters
        self.violation = violation


@dataclass
class _Fault:
    method: str
    error_code: int
    description: str
    retry_after: int | None
    remaining: int
    chat_id: int | str | None


@dataclass
class _StoredMessage:
    message: dict[str, Any]
    from_bot: bool
    deleted: bool = False


_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
_MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "restricted", "left", "kicked"})
# Inline keyboard button fields of which exactly one must be present.
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "web_app",
    "login_url",
    "callback_game",
    "pay",
)
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
# Update types delivered when allowed_updates is empty (Telegram's default excludes these).
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
MAX_POLL_TIMEOUT = 10.0


class _Handler(BaseHTTPRequestHandler):
    """Hands every request to the FakeBotAPI; keep-alive like the real API (PTB pools connections)."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, each answer waits ~40 ms for an ACK.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging: test output should show the bot's logs, not ours."""

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        try:
            body = self._read_body()
            status, payload = self.server.fake._dispatch(self.path, self.headers.get("Content-Type", ""), body)
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the bot gave up on this request (e.g. it shut down)

    do_POST = _serve
    do_GET = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeBotAPI

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: dropped connections are normal when the bot process is stopped mid-poll."""


class FakeBotAPI:
    """A threaded local HTTP server answering like the Telegram Bot API, for one bot token.

    State (queued updates, messages per chat, recorded calls) lives behind one lock; a condition
    variable wakes long-polling ``getUpdates`` and ``wait_for`` callers.
    """

    def __init__(
        self, token: str = "123456:TEST-TOKEN", bot_username: str = "bantin_test_bot", bot_id: int = 123456
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.bot_id = bot_id
        self.requests: list[Call] = []
        # Content Telegram would reject or silently mangle; an e2e test should end with it empty.
        self.violations: list[str] = []
        self.poll_count = 0  # number of getUpdates calls received
        self._cond = threading.Condition(threading.RLock())
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._allowed_updates: list[str] = []
        self._poll_generation = 0
        self._webhook_url = ""
        self._chats: dict[int | str, dict[str, Any]] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._members: dict[tuple[int | str, int], tuple[str, dict[str, Any]]] = {}
        self._message_ids: dict[int | str, int] = {}
        self._messages: dict[int | str, dict[int, _StoredMessage]] = {}
        self._inline_messages: dict[str, dict[str, Any]] = {}
        self._callback_queries: dict[str, bool] = {}  # id -> answered
        self._inline_queries: dict[str, bool] = {}
        self._faults: list[_Fault] = []
        self._blocked: dict[int | str, str] = {}
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._bot_settings: dict[str, Any] = {}
        self._file_counter = itertools.count(1)
        self._query_counter = itertools.count(1)
        self._latency = 0.0
        self._stopping = False
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._methods: dict[str, Callable[[dict[str, Any]], Any]] = {
            name[len("_m_") :].lower(): getattr(self, name) for name in dir(self) if name.startswith("_m_")
        }
        self._canonical = {
            name[len("_m_") :].lower(): name[len("_m_") :] for name in dir(self) if name.startswith("_m_")
        }

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Bind 127.0.0.1 on an ephemeral port and serve in a daemon thread."""
        if self._server is not None:
            return
        self._stopping = False
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-botapi", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Release long polls, stop serving and close the socket."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeBotAPI:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The API root, e.g. ``http://127.0.0.1:PORT``; PTB's base_url is ``url + "/bot"``."""
        if self._server is None:
            raise RuntimeError("FakeBotAPI is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ---------------------------------------------------------------- incoming updates

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue a raw update for getUpdates; fills ``update_id`` if missing and returns it."""
        with self._cond:
            update = dict(update)
            if "update_id" not in update:
                update["update_id"] = self._next_update_id
            self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
            self._updates.append(update)
            self._cond.notify_all()
            return int(update["update_id"])

    def send_text(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        language_code: str = "vi",
        message_thread_id: int | None = None,
        entities: list[dict[str, Any]] | None = None,
        reply_to: int | None = None,
        first_name: str = "Lan",
    ) -> int:
        """A user writes ``text``; a leading /command gets its bot_command entity like Telegram adds."""
        with self._cond:
            msg = self._user_message(
                chat_id, user_id, chat_type, language_code, message_thread_id, reply_to, first_name
            )
            _set_text(msg, text, entities)
            self._store(chat_id, msg, from_bot=False)
            return self.push_update({"message": msg})

    def send_edited_text(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        language_code: str = "vi",
        message_thread_id: int | None = None,
        entities: list[dict[str, Any]] | None = None,
        reply_to: int | None = None,
        first_name: str = "Lan",
        message_id: int | None = None,
    ) -> int:
        """A user edits a message (default: their latest in the chat) to ``text``."""
        with self._cond:
            stored = self._messages.get(chat_id, {})
            if message_id is None:
                own = [m for m in stored.values() if not m.from_bot]
                message_id = own[-1].message["message_id"] if own else None
            if message_id is not None and message_id in stored:
                msg = dict(stored[message_id].message)
            else:
                msg = self._user_message(
                    chat_id, user_id, chat_type, language_code, message_thread_id, reply_to, first_name
                )
            _set_text(msg, text, entities)
            msg["edit_date"] = int(time.time())
            self._store(chat_id, msg, from_bot=False)
            return self.push_update({"edited_message": msg})

    def send_message_update(
        self,
        chat_id: int,
        message_fields: dict[str, Any],
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        language_code: str = "vi",
        message_thread_id: int | None = None,
        reply_to: int | None = None,
        first_name: str = "Lan",
    ) -> int:
        """An arbitrary user message (sticker, photo, voice...): ``message_fields`` merged in."""
        with self._cond:
            msg = self._user_message(
                chat_id, user_id, chat_type, language_code, message_thread_id, reply_to, first_name
            )
            msg.update(message_fields)
            self._store(chat_id, msg, from_bot=False)
            return self.push_update({"message": msg})

    def send_channel_post(self, chat_id: int, text: str, *, edit_of: int | None = None) -> int:
        """Someone with the right to post publishes ``text`` in a channel (``edit_of``: edits that
        post instead). Like Telegram: a ``channel_post`` with ``sender_chat`` the channel and no
        ``from``; a leading /command gets its bot_command entity. Returns the post's message_id."""
        with self._cond:
            chat = dict(self._known_chat(chat_id, chat_type="channel"))
            msg: dict[str, Any] = {
                "message_id": edit_of if edit_of is not None else self._next_message_id(chat_id),
                "sender_chat": dict(chat),
                "chat": chat,
                "date": int(time.time()),
            }
            _set_text(msg, text, None)
            if edit_of is not None:
                msg["edit_date"] = int(time.time())
            self._store(chat_id, msg, from_bot=False)
            self.push_update({"edited_channel_post" if edit_of is not None else "channel_post": msg})
            return int(msg["message_id"])

    def leave_bot_message(self, chat_id: int, text: str, reply_markup: dict[str, Any] | None = None) -> int:
        """A message the bot sent earlier (e.g. a keyboard left in a chat by an older version),
        stored as sendMessage would store it, without a recorded call; returns its message_id."""
        with self._cond:
            msg = self._new_bot_message(chat_id, {})
            msg["text"] = text
            if reply_markup is not None:
                msg["reply_markup"] = reply_markup
            self._store(chat_id, msg, from_bot=True)
            return int(msg["message_id"])

    def delete_by_user(self, chat_id: int, message_id: int) -> None:
        """A user deletes a message in their chat (the bot is not told, as in Telegram)."""
        with self._cond:
            stored = self._find(chat_id, message_id)
            if stored is not None:
                stored.deleted = True

    def send_as_chat(self, chat_id: int, text: str, *, chat_type: str = "supergroup") -> int:
        """A message sent on behalf of the chat itself (an anonymous group admin): `sender_chat`
        is the chat, and there is no `from`."""
        with self._cond:
            msg = self._user_message(chat_id, None, chat_type, "vi", None, None, "Lan")
            msg.pop("from", None)
            msg["sender_chat"] = msg["chat"]
            _set_text(msg, text, None)
            self._store(chat_id, msg, from_bot=False)
            return self.push_update({"message": msg})

    def press_button(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        user_id: int | None = None,
        language_code: str = "vi",
        check: bool = True,
    ) -> str:
        """A user presses an inline button; returns the callback query id.

        With ``check`` (default), pressing ``data`` that is not on the message's current keyboard
        raises AssertionError: that is a test bug, not something a user can do. Pass
        ``check=False`` to simulate stale or forged callback data.
        """
        with self._cond:
            stored = self._messages.get(chat_id, {}).get(message_id)
            if stored is not None and not stored.deleted:
                message = json.loads(json.dumps(stored.message))
                if check:
                    buttons = _callback_datas(message.get("reply_markup"))
                    if data not in buttons:
                        raise AssertionError(
                            f"message {message_id} in chat {chat_id} has no button {data!r}; buttons: {buttons}"
                        )
            else:
                # Telegram's InaccessibleMessage: date 0.
                message = {"message_id": message_id, "chat": self._chat_brief(chat_id), "date": 0}
            uid = user_id if user_id is not None else self._default_user(chat_id)
            query_id = f"cbq{next(self._query_counter)}"
            self._callback_queries[query_id] = False
            update = {
                "callback_query": {
                    "id": query_id,
                    "from": self._user_dict(uid, language_code=language_code),
                    "message": message,
                    "chat_instance": f"ci{chat_id}",
                    "data": data,
                }
            }
            self.push_update(update)
            return query_id

    def inline_query(self, user_id: int, query: str, *, offset: str = "", language_code: str = "vi") -> str:
        """A user types ``@bot query`` somewhere; returns the inline query id."""
        with self._cond:
            query_id = f"iq{next(self._query_counter)}"
            self._inline_queries[query_id] = False
            self.push_update(
                {
                    "inline_query": {
                        "id": query_id,
                        "from": self._user_dict(user_id, language_code=language_code),
                        "query": query,
                        "offset": offset,
                        "chat_type": "sender",
                    }
                }
            )
            return query_id

    # ---------------------------------------------------------------- inspection

    def calls(self, method: str | None = None, **match: Any) -> list[Call]:
        """Recorded calls, optionally of one method and with params equal to ``match``."""
        with self._cond:
            return [c for c in self.requests if self._matches(c, method, None, match)]

    def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 10.0,
        count: int = 1,
        *,
        since: int = 0,
    ) -> list[Call]:
        """Block until ``count`` matching calls exist (among ``requests[since:]``); return them.

        Raises AssertionError listing every call seen, so a failing e2e test explains itself.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [c for c in self.requests[since:] if self._matches(c, method, predicate, {})]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = "\n".join(f"  {_describe(c)}" for c in self.requests) or "  (none)"
                    raise AssertionError(
                        f"expected {count} matching {method} call(s) within {timeout}s, got {len(found)}."
                        f" Calls seen:\n{seen}"
                    )
                self._cond.wait(remaining)

    def messages_in(self, chat_id: int | str) -> list[dict[str, Any]]:
        """The bot's live (not deleted) messages in a chat, after edits, oldest first.

        Each dict is the Message as Telegram would return it, plus ``text`` and ``reply_markup``
        keys always present (None when absent) for convenient assertions.
        """
        with self._cond:
            result = []
            for mid in sorted(self._messages.get(chat_id, {})):
                stored = self._messages[chat_id][mid]
                if stored.from_bot and not stored.deleted:
                    msg = json.loads(json.dumps(stored.message))
                    msg.setdefault("text", None)
                    msg.setdefault("reply_markup", None)
                    result.append(msg)
            return result

    def commands(self, scope: dict[str, Any] | None = None, language_code: str = "") -> list[dict[str, Any]] | None:
        """Commands stored by setMyCommands for this scope and language (None if never set)."""
        with self._cond:
            stored = self._commands.get(_scope_key(scope, language_code))
            return None if stored is None else json.loads(json.dumps(stored))

    # ---------------------------------------------------------------- setup / fault injection

    def fail_next(
        self,
        method: str,
        *,
        error_code: int = 429,
        description: str | None = None,
        retry_after: int | None = None,
        count: int = 1,
        chat_id: int | None = None,
    ) -> None:
        """The next ``count`` calls of ``method`` (optionally only to ``chat_id``) fail.

        A 429 always carries ``parameters.retry_after`` (default 1 s) like Telegram's flood control.
        """
        if error_code == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            description = (
                f"Too Many Requests: retry after {retry_after}"
                if error_code == 429
                else _DEFAULT_DESCRIPTIONS.get(error_code, "Error")
            )
        with self._cond:
            self._faults.append(
                _Fault(self._canonical_name(method), error_code, description, retry_after, count, chat_id)
            )

    def block_chat(self, chat_id: int, description: str = "Forbidden: bot was blocked by the user") -> None:
        """From now on every send/edit to ``chat_id`` answers 403, as after a user blocks the bot."""
        with self._cond:
            self._blocked[chat_id] = description

    def unblock_chat(self, chat_id: int) -> None:
        """Undo ``block_chat``."""
        with self._cond:
            self._blocked.pop(chat_id, None)

    def set_chat(
        self,
        chat_id: int,
        *,
        type: str = "supergroup",
        title: str = "Nhóm thử nghiệm",
        username: str | None = None,
        is_forum: bool = False,
    ) -> None:
        """Describe a chat for getChat (and for the ``chat`` of messages in it)."""
        with self._cond:
            chat: dict[str, Any] = {"id": chat_id, "type": type}
            if type == "private":
                chat["first_name"] = title
            else:
                chat["title"] = title
            if username:
                chat["username"] = username
            if is_forum:
                chat["is_forum"] = True
            self._chats[chat_id] = chat

    def set_chat_member(self, chat_id: int, user_id: int, status: str, **extra: Any) -> None:
        """Set a member's status for getChatMember; ``extra`` overrides fields (e.g. can_delete_messages)."""
        if status not in _MEMBER_STATUSES:
            raise ValueError(f"unknown chat member status {status!r}")
        with self._cond:
            self._known_chat(chat_id)
            self._members[(chat_id, user_id)] = (status, dict(extra))

    def change_bot_status(self, chat_id: int, status: str, *, by_user: int = 1001, **extra: Any) -> int:
        """The bot's own membership changes (e.g. an admin removes it from a channel): like Telegram,
        getChatMember answers the new status and a ``my_chat_member`` update is queued; returns its id.
        Sends are not refused by this alone: combine with ``block_chat`` for that."""
        if status not in _MEMBER_STATUSES:
            raise ValueError(f"unknown chat member status {status!r}")
        with self._cond:
            old = self._member(chat_id, self.bot_id)
            self._members[(chat_id, self.bot_id)] = (status, dict(extra))
            change = {
                "chat": self._chat_brief(chat_id),
                "from": self._user_dict(by_user),
                "date": int(time.time()),
                "old_chat_member": old,
                "new_chat_member": self._member(chat_id, self.bot_id),
            }
            return self.push_update({"my_chat_member": change})

    def set_latency(self, seconds: float) -> None:
        """Delay every answer by ``seconds`` (to exercise timeouts and concurrency)."""
        with self._cond:
            self._latency = max(0.0, seconds)

    # ---------------------------------------------------------------- HTTP dispatch

    def _dispatch(self, raw_path: str, content_type: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """Route one HTTP request; returns (HTTP status, JSON body)."""
        parts = urlsplit(raw_path)
        m = re.fullmatch(r"/bot([^/]+)/([A-Za-z0-9_]+)/?", parts.path)
        if m is None:
            return 404, _error_body(404, "Not Found")
        if m[1] != self.token:
            return 401, _error_body(401, "Unauthorized")
        method = self._canonical_name(m[2])
        arrived = time.time()
        try:
            params = decode_params(content_type, body, parts.query)
        except (ValueError, UnicodeDecodeError) as exc:
            return 400, _error_body(400, f"Bad Request: can't parse request: {exc}")
        with self._cond:
            latency = self._latency
        if latency:
            time.sleep(latency)
        if method == "getUpdates":
            return self._get_updates(params)
        with self._cond:
            status, payload = self._answer(method, params)
            self.requests.append(Call(method, params, arrived, status, payload))
            self._cond.notify_all()
            return status, payload

    def _answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Apply faults, blocks and validation, then the method's handler (lock held)."""
        try:
            fault = self._take_fault(method, params)
            if fault is not None:
                raise fault
            chat_id = params.get("chat_id")
            if chat_id in self._blocked and (
                method.startswith(("send", "edit")) or method in ("copyMessage", "forwardMessage")
            ):
                raise _ApiError(403, self._blocked[chat_id])
            handler = self._methods.get(method.lower())
            if handler is None:
                raise _ApiError(404, "Not Found", violation=True)
            return 200, {"ok": True, "result": handler(params)}
        except _ApiError as err:
            if err.violation:
                self.violations.append(f"{method}: {err.description}")
            return err.code, _error_body(err.code, err.description, err.parameters)
        except Exception as exc:  # a bug in the fake itself: make it loud but keep serving
            self.violations.append(f"{method}: fake Bot API crashed: {exc!r}")
            return 500, _error_body(500, f"Internal Server Error: {exc!r}")

    def _take_fault(self, method: str, params: dict[str, Any]) -> _ApiError | None:
        for fault in self._faults:
            if fault.method == method and fault.remaining > 0:
                if fault.chat_id is not None and params.get("chat_id") != fault.chat_id:
                    continue
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                parameters = {"retry_after": fault.retry_after} if fault.retry_after is not None else None
                return _ApiError(fault.error_code, fault.description, parameters=parameters)
        return None

    def _canonical_name(self, method: str) -> str:
        # Telegram matches method names case-insensitively.
        return self._canonical.get(method.lower(), method)

    @staticmethod
    def _matches(
        call: Call, method: str | None, predicate: Callable[[Call], bool] | None, match: dict[str, Any]
    ) -> bool:
        if method is not None and call.method.lower() != method.lower():
            return False
        if any(call.params.get(k) != v for k, v in match.items()):
            return False
        return predicate is None or predicate(call)

    # ---------------------------------------------------------------- getUpdates

    def _get_updates(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Long polling with Telegram's offset/limit/allowed_updates semantics.

        A newer getUpdates makes an older one still waiting answer 409, like Telegram does when
        two bot instances poll at once.
        """
        try:
            offset = int(params.get("offset") or 0)
            limit = min(max(int(params.get("limit") or 100), 1), 100)
            timeout = min(max(float(params.get("timeout") or 0), 0.0), MAX_POLL_TIMEOUT)
        except (TypeError, ValueError):
            return 400, _error_body(400, "Bad Request: wrong parameter in getUpdates request")
        deadline = time.monotonic() + timeout
        with self._cond:
            fault = self._take_fault("getUpdates", params)
            if fault is not None:
                return fault.code, _error_body(fault.code, fault.description, fault.parameters)
            if self._webhook_url:
                return 409, _error_body(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            self.poll_count += 1
            self._poll_generation += 1
            generation = self._poll_generation
            self._cond.notify_all()
            if isinstance(params.get("allowed_updates"), list):
                self._allowed_updates = list(params["allowed_updates"])
            if offset < 0:
                self._updates = self._updates[offset:]
            elif offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while True:
                if generation != self._poll_generation:
                    return 409, _error_body(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                # Telegram never stores updates of types the bot did not subscribe to.
                self._updates = [u for u in self._updates if self._allowed(u)]
                if self._updates or self._stopping:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return 200, {"ok": True, "result": json.loads(json.dumps(self._updates[:limit]))}

    def _allowed(self, update: dict[str, Any]) -> bool:
        kinds = [k for k in update if k != "update_id"]
        if not kinds:
            return True
        if self._allowed_updates:
            return kinds[0] in self._allowed_updates
        return kinds[0] not in _OPT_IN_UPDATES

    # ---------------------------------------------------------------- chats, users, messages

    def _default_user(self, chat_id: int | str) -> int:
        return chat_id if isinstance(chat_id, int) and chat_id > 0 else 1001

    def _user_dict(
        self, user_id: int, *, language_code: str | None = None, first_name: str | None = None
    ) -> dict[str, Any]:
        user = self._users.get(user_id) or {"id": user_id, "is_bot": False, "first_name": first_name or "Lan"}
        user = dict(user)
        if first_name:
            user["first_name"] = first_name
        if language_code:
            user["language_code"] = language_code
        self._users[user_id] = user
        return dict(user)

    def _bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Bản tin", "username": self.bot_username}

    def _known_chat(
        self, chat_id: int | str, *, chat_type: str | None = None, first_name: str = "Lan"
    ) -> dict[str, Any]:
        """The chat dict, registering chats the bot hears about (like Telegram learns peers)."""
        chat = self._chats.get(chat_id)
        if chat is None:
            if isinstance(chat_id, int) and chat_id > 0:
                chat = {"id": chat_id, "type": "private", "first_name": first_name}
            else:
                kind = (
                    chat_type
                    if chat_type and chat_type != "private"
                    else ("supergroup" if str(chat_id).startswith("-100") else "group")
                )
                chat = {"id": chat_id, "type": kind, "title": "Nhóm thử nghiệm"}
            self._chats[chat_id] = chat
        return chat

    def _chat_brief(self, chat_id: int | str) -> dict[str, Any]:
        return dict(self._known_chat(chat_id))

    def _resolve_chat(self, params: dict[str, Any]) -> int | str:
        """The target chat of a call: 400 when missing; "@username" resolved via set_chat."""
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _ApiError(400, "Bad Request: chat_id is empty")
        if isinstance(chat_id, str):
            for cid, chat in self._chats.items():
                if chat_id.startswith("@") and chat.get("username", "").lower() == chat_id[1:].lower():
                    return cid
            raise _ApiError(400, "Bad Request: chat not found")
        if not isinstance(chat_id, int):
            raise _ApiError(400, "Bad Request: chat not found")
        return chat_id

    def _next_message_id(self, chat_id: int | str) -> int:
        # One counter per chat shared by users and the bot, as in private chats and groups.
        self._message_ids[chat_id] = self._message_ids.get(chat_id, 0) + 1
        return self._message_ids[chat_id]

    def _store(self, chat_id: int | str, msg: dict[str, Any], *, from_bot: bool) -> None:
        self._messages.setdefault(chat_id, {})[msg["message_id"]] = _StoredMessage(msg, from_bot)

    def _find(self, chat_id: int | str, message_id: Any) -> _StoredMessage | None:
        stored = self._messages.get(chat_id, {}).get(message_id) if isinstance(message_id, int) else None
        return stored if stored is not None and not stored.deleted else None

    def _user_message(
        self,
        chat_id: int,
        user_id: int | None,
        chat_type: str,
        language_code: str,
        message_thread_id: int | None,
        reply_to: int | None,
        first_name: str,
    ) -> dict[str, Any]:
        """The common part of a message a user sends (lock held)."""
        uid = user_id if user_id is not None else self._default_user(chat_id)
        chat = self._chat_brief(chat_id) if chat_id in self._chats else None
        if chat is None:
            chat = dict(self._known_chat(chat_id, chat_type=chat_type, first_name=first_name))
        msg: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "from": self._user_dict(uid, language_code=language_code, first_name=first_name),
            "chat": chat,
            "date": int(time.time()),
        }
        if message_thread_id is not None:
            msg["message_thread_id"] = message_thread_id
            if chat.get("is_forum"):
                msg["is_topic_message"] = True
        if reply_to is not None:
            target = self._find(chat_id, reply_to)
            reply = dict(target.message) if target else {"message_id": reply_to, "chat": chat, "date": 0}
            reply.pop("reply_to_message", None)
            msg["reply_to_message"] = reply
        return msg

    def _new_bot_message(self, chat_id: int | str, params: dict[str, Any]) -> dict[str, Any]:
        """Skeleton of a message the bot sends, with reply and thread handling (lock held)."""
        chat = self._chat_brief(chat_id)
        reply_params = params.get("reply_parameters")
        if not isinstance(reply_params, dict) and params.get("reply_to_message_id") is not None:
            reply_params = {"message_id": params["reply_to_message_id"]}
        reply: dict[str, Any] | None = None
        if isinstance(reply_params, dict):
            target = self._find(chat_id, reply_params.get("message_id"))
            if target is not None:
                reply = dict(target.message)
                reply.pop("reply_to_message", None)
            elif not (reply_params.get("allow_sending_without_reply") or params.get("allow_sending_without_reply")):
                raise _ApiError(400, "Bad Request: message to be replied not found")
        msg: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id),
            "from": self._bot_user(),
            "chat": chat,
            "date": int(time.time()),
        }
        if params.get("message_thread_id") is not None:
            msg["message_thread_id"] = params["message_thread_id"]
            if chat.get("is_forum"):
                msg["is_topic_message"] = True
        if reply is not None:
            msg["reply_to_message"] = reply
        return msg

    # ---------------------------------------------------------------- validation

    def _formatted(
        self,
        params: dict[str, Any],
        *,
        text_key: str = "text",
        entities_key: str = "entities",
        limit: int = 4096,
        required: bool = True,
    ) -> tuple[str, list[dict[str, Any]]]:
        """Parse and validate a text/caption as Telegram does; returns (plain text, entities)."""
        raw = params.get(text_key)
        if raw is None or raw == "":
            if required:
                raise _ApiError(400, "Bad Request: message text is empty", violation=True)
            return "", []
        if not isinstance(raw, str):
            raw = json.dumps(raw)
        mode = str(params.get("parse_mode") or "")
        if mode.lower() == "html":
            try:
                text, entities = parse_telegram_html(raw)
            except ValueError as exc:
                raise _ApiError(400, f"Bad Request: can't parse entities: {exc}", violation=True) from exc
        elif mode.lower() in ("markdown", "markdownv2"):
            text, entities = raw, []  # not validated: the project renders HTML
        elif mode:
            raise _ApiError(400, "Bad Request: unsupported parse_mode", violation=True)
        else:
            text = raw
            given = params.get(entities_key) or []
            if not isinstance(given, list) or not all(
                isinstance(e, dict) and isinstance(e.get("offset"), int) and isinstance(e.get("length"), int)
                for e in given
            ):
                raise _ApiError(400, "Bad Request: can't parse entities JSON object", violation=True)
            entities = [dict(e) for e in given]
        text, entities = _trim(text, entities)
        if not text:
            if required:
                raise _ApiError(400, "Bad Request: message text is empty", violation=True)
            return "", []
        if _utf16_len(text) > limit:
            what = "message is too long" if text_key == "text" else "message caption is too long"
            raise _ApiError(400, f"Bad Request: {what}", violation=True)
        if len(entities) > MAX_ENTITIES:
            # Telegram answers ok but drops the extra entities: formatting silently breaks.
            self.violations.append(f"{len(entities)} entities in one {text_key} (Telegram keeps only {MAX_ENTITIES})")
        return text, entities

    def _check_markup(self, markup: Any) -> dict[str, Any] | None:
        """Validate reply_markup; returns the inline keyboard to echo back (None for others)."""
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object", violation=True)
        if "inline_keyboard" not in markup:
            return None  # reply keyboards / remove / force_reply are not echoed in the Message
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _ApiError(
                400,
                "Bad Request: can't parse inline keyboard: field must be an array of arrays",
                violation=True,
            )
        total = 0
        for row in rows:
            for button in row:
                total += 1
                if not isinstance(button, dict) or not isinstance(button.get("text"), str) or not button["text"]:
                    raise _ApiError(
                        400, "Bad Request: can't parse inline keyboard button: text is empty", violation=True
                    )
                actions = [k for k in _BUTTON_ACTIONS if k in button]
                if not actions:
                    raise _ApiError(
                        400,
                        "Bad Request: can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard",
                        violation=True,
                    )
                if len(actions) > 1:
                    raise _ApiError(
                        400,
                        f"Bad Request: can't parse inline keyboard button: exactly one of {actions} expected",
                        violation=True,
                    )
                if "callback_data" in button:
                    data = button["callback_data"]
                    if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                        raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID", violation=True)
                if "url" in button:
                    url = button["url"]
                    if not isinstance(url, str) or not re.match(r"(?i)(https?|tg)://\S+$", url):
                        raise _ApiError(400, "Bad Request: BUTTON_URL_INVALID", violation=True)
        if total > 100:
            raise _ApiError(400, "Bad Request: reply markup is too long", violation=True)
        echoed: dict[str, Any] = json.loads(json.dumps(markup))  # a deep copy
        return echoed

    # ---------------------------------------------------------------- methods (_m_<Name>)

    def _m_getMe(self, params: dict[str, Any]) -> Any:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _m_logOut(self, params: dict[str, Any]) -> Any:
        return True

    def _m_close(self, params: dict[str, Any]) -> Any:
        return True

    def _m_setWebhook(self, params: dict[str, Any]) -> Any:
        self._webhook_url = str(params.get("url") or "")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self._webhook_url = ""
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _m_getWebhookInfo(self, params: dict[str, Any]) -> Any:
        return {
            "url": self._webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    def _m_setMyCommands(self, params: dict[str, Any]) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _ApiError(400, "Bad Request: can't parse commands JSON object", violation=True)
        for cmd in commands:
            if not isinstance(cmd, dict) or not re.fullmatch(r"[a-z0-9_]{1,32}", str(cmd.get("command", ""))):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID", violation=True)
            if not 1 <= len(str(cmd.get("description", "")).strip()) <= 256:
                raise _ApiError(400, "Bad Request: command description must be non-empty", violation=True)
        key = _scope_key(params.get("scope"), params.get("language_code") or "")
        self._commands[key] = [{"command": c["command"], "description": c["description"]} for c in commands]
        return True

    def _m_getMyCommands(self, params: dict[str, Any]) -> Any:
        return self._commands.get(_scope_key(params.get("scope"), params.get("language_code") or ""), [])

    def _m_deleteMyCommands(self, params: dict[str, Any]) -> Any:
        self._commands.pop(_scope_key(params.get("scope"), params.get("language_code") or ""), None)
        return True

    def _m_setChatMenuButton(self, params: dict[str, Any]) -> Any:
        self._bot_settings[f"menu:{params.get('chat_id')}"] = params.get("menu_button") or {"type": "default"}
        return True

    def _m_getChatMenuButton(self, params: dict[str, Any]) -> Any:
        return self._bot_settings.get(f"menu:{params.get('chat_id')}", {"type": "commands"})

    def _m_setMyDescription(self, params: dict[str, Any]) -> Any:
        self._bot_settings[f"description:{params.get('language_code') or ''}"] = params.get("description") or ""
        return True

    def _m_getMyDescription(self, params: dict[str, Any]) -> Any:
        return {"description": self._bot_settings.get(f"description:{params.get('language_code') or ''}", "")}

    def _m_setMyShortDescription(self, params: dict[str, Any]) -> Any:
        key = f"short_description:{params.get('language_code') or ''}"
        self._bot_settings[key] = params.get("short_description") or ""
        return True

    def _m_getMyShortDescription(self, params: dict[str, Any]) -> Any:
        key = f"short_description:{params.get('language_code') or ''}"
        return {"short_description": self._bot_settings.get(key, "")}

    def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        chat_id = self._resolve_chat(params)
        text, entities = self._formatted(params)
        markup = self._check_markup(params.get("reply_markup"))
        msg = self._new_bot_message(chat_id, params)
        msg["text"] = text
        if entities:
            msg["entities"] = entities
        if markup is not None:
            msg["reply_markup"] = markup
        self._store(chat_id, msg, from_bot=True)
        return msg

    def _m_sendDocument(self, params: dict[str, Any]) -> Any:
        chat_id = self._resolve_chat(params)
        document = params.get("document")
        if isinstance(document, dict) and "content" in document:
            file_name, size = document.get("filename") or "document", len(document["content"])
            if not size:
                raise _ApiError(400, "Bad Request: file must be non-empty", violation=True)
        elif isinstance(document, str) and document:
            file_name, size = document.rsplit("/", 1)[-1], 0
        else:
            raise _ApiError(400, "Bad Request: there is no document in the request", violation=True)
        caption, caption_entities = self._formatted(
            params, text_key="caption", entities_key="caption_entities", limit=1024, required=False
        )
        markup = self._check_markup(params.get("reply_markup"))
        msg = self._new_bot_message(chat_id, params)
        n = next(self._file_counter)
        msg["document"] = {
            "file_id": f"DOC{n}",
            "file_unique_id": f"UDOC{n}",
            "file_name": file_name,
            "file_size": size,
        }
        if caption:
            msg["caption"] = caption
            if caption_entities:
                msg["caption_entities"] = caption_entities
        if markup is not None:
            msg["reply_markup"] = markup
        self._store(chat_id, msg, from_bot=True)
        return msg

    def _m_sendChatAction(self, params: dict[str, Any]) -> Any:
        self._resolve_chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _ApiError(400, "Bad Request: wrong parameter action in request", violation=True)
        return True

    def _editable(self, params: dict[str, Any]) -> _StoredMessage:
        chat_id = self._resolve_chat(params)
        stored = self._find(chat_id, params.get("message_id"))
        if stored is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        if not stored.from_bot:
            raise _ApiError(400, "Bad Request: message can't be edited", violation=True)
        return stored

    def _m_editMessageText(self, params: dict[str, Any]) -> Any:
        text, entities = self._formatted(params)
        markup = self._check_markup(params.get("reply_markup"))
        inline_id = params.get("inline_message_id")
        if inline_id:
            old = self._inline_messages.get(inline_id, {})
            new = {"text": text, "entities": entities, "reply_markup": markup}
            if old == new:
                raise _ApiError(400, _NOT_MODIFIED)
            self._inline_messages[inline_id] = new
            return True
        stored = self._editable(params)
        msg = stored.message
        if "text" not in msg:
            raise _ApiError(400, "Bad Request: there is no text in the message to edit", violation=True)
        if msg.get("text") == text and msg.get("entities", []) == entities and msg.get("reply_markup") == markup:
            raise _ApiError(400, _NOT_MODIFIED)
        msg["text"] = text
        msg.pop("entities", None)
        msg.pop("reply_markup", None)
        if entities:
            msg["entities"] = entities
        if markup is not None:
            msg["reply_markup"] = markup
        msg["edit_date"] = int(time.time())
        return json.loads(json.dumps(msg))

    def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        markup = self._check_markup(params.get("reply_markup"))
        inline_id = params.get("inline_message_id")
        if inline_id:
            entry = self._inline_messages.setdefault(inline_id, {})
            if entry.get("reply_markup") == markup and entry:
                raise _ApiError(400, _NOT_MODIFIED)
            entry["reply_markup"] = markup
            return True
        stored = self._editable(params)
        msg = stored.message
        if msg.get("reply_markup") == markup:
            raise _ApiError(400, _NOT_MODIFIED)
        msg.pop("reply_markup", None)
        if markup is not None:
            msg["reply_markup"] = markup
        msg["edit_date"] = int(time.time())
        return json.loads(json.dumps(msg))

    def _m_deleteMessage(self, params: dict[str, Any]) -> Any:
        chat_id = self._resolve_chat(params)
        stored = self._find(chat_id, params.get("message_id"))
        if stored is None:
            raise _ApiError(400, "Bad Request: message to delete not found")
        stored.deleted = True
        return True

    def _m_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        query_id = params.get("callback_query_id")
        if self._callback_queries.get(str(query_id)) is not False:
            raise _ApiError(400, _QUERY_INVALID)
        text = params.get("text")
        if isinstance(text, str) and len(text) > 200:
            raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG", violation=True)
        self._callback_queries[str(query_id)] = True
        return True

    def _m_answerInlineQuery(self, params: dict[str, Any]) -> Any:
        query_id = params.get("inline_query_id")
        if self._inline_queries.get(str(query_id)) is not False:
            raise _ApiError(400, _QUERY_INVALID)
        results = params.get("results")
        if not isinstance(results, list):
            raise _ApiError(400, "Bad Request: can't parse inline query results JSON object", violation=True)
        if len(results) > 50:
            raise _ApiError(400, "Bad Request: RESULTS_TOO_MUCH", violation=True)
        next_offset = params.get("next_offset")
        if isinstance(next_offset, str) and len(next_offset.encode("utf-8")) > 64:
            raise _ApiError(400, "Bad Request: NEXT_OFFSET_INVALID", violation=True)
        seen: set[str] = set()
        for result in results:
            if not isinstance(result, dict) or not isinstance(result.get("type"), str) or not result["type"]:
                raise _ApiError(400, "Bad Request: RESULT_TYPE_INVALID", violation=True)
            rid = result.get("id")
            if not isinstance(rid, str) or not 1 <= len(rid.encode("utf-8")) <= 64:
                raise _ApiError(400, "Bad Request: RESULT_ID_INVALID", violation=True)
            if rid in seen:
                raise _ApiError(400, "Bad Request: RESULT_ID_DUPLICATE", violation=True)
            seen.add(rid)
            if result["type"] == "article" and not result.get("title"):
                raise _ApiError(400, "Bad Request: RESULT_TITLE_EMPTY", violation=True)
            content = result.get("input_message_content")
            if isinstance(content, dict) and "message_text" in content:
                try:
                    self._formatted(content, text_key="message_text")
                except _ApiError as err:
                    # Inline results report text problems with their own codes.
                    if "too long" in err.description:
                        err.description = "Bad Request: MESSAGE_TOO_LONG"
                    elif "empty" in err.description:
                        err.description = "Bad Request: MESSAGE_EMPTY"
                    raise
            self._check_markup(result.get("reply_markup"))
        self._inline_queries[str(query_id)] = True
        return True

    def _m_getChat(self, params: dict[str, Any]) -> Any:
        chat_id = self._resolve_chat(params)
        chat = self._chats.get(chat_id)
        if chat is None:
            raise _ApiError(400, "Bad Request: chat not found")
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _member(self, chat_id: int | str, user_id: int) -> dict[str, Any]:
        status, extra = self._members.get((chat_id, user_id), ("member", {}))
        user = self._bot_user() if user_id == self.bot_id else self._user_dict(user_id)
        member: dict[str, Any] = {"status": status, "user": user}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(
                can_be_edited=False,
                is_anonymous=False,
                can_manage_chat=True,
                can_delete_messages=True,
                can_manage_video_chats=False,
                can_restrict_members=True,
                can_promote_members=False,
                can_change_info=True,
                can_invite_users=True,
                can_post_stories=False,
                can_edit_stories=False,
                can_delete_stories=False,
                can_pin_messages=True,
                can_manage_topics=False,
            )
        elif status == "restricted":
            member.update(
                is_member=True,
                can_change_info=False,
                can_invite_users=False,
                can_pin_messages=False,
                can_send_messages=True,
                can_send_polls=False,
                can_send_other_messages=False,
                can_add_web_page_previews=False,
                can_manage_topics=False,
                until_date=0,
                can_send_audios=False,
                can_send_documents=False,
                can_send_photos=False,
                can_send_videos=False,
                can_send_video_notes=False,
                can_send_voice_notes=False,
                can_edit_tag=False,
            )
        elif status == "kicked":
            member["until_date"] = 0
        member.update(extra)
        return member

    def _m_getChatMember(self, params: dict[str, Any]) -> Any:
        chat_id = self._resolve_chat(params)
        if chat_id not in self._chats:
            raise _ApiError(400, "Bad Request: chat not found")
        user_id = params.get("user_id")
        if not isinstance(user_id, int):
            raise _ApiError(400, "Bad Request: invalid user_id specified")
        return self._member(chat_id, user_id)

    def _m_getChatAdministrators(self, params: dict[str, Any]) -> Any:
        chat_id = self._resolve_chat(params)
        if chat_id not in self._chats:
            raise _ApiError(400, "Bad Request: chat not found")
        return [
            self._member(cid, uid)
            for (cid, uid), (status, _) in self._members.items()
            if cid == chat_id and status in ("creator", "administrator")
        ]


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _error_body(code: int, description: str, parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return body


def _set_text(msg: dict[str, Any], text: str, entities: list[dict[str, Any]] | None) -> None:
    """A user message's text, with the given entities or (by default) the bot_command one Telegram adds."""
    msg["text"] = text
    msg.pop("entities", None)
    ents = entities if entities is not None else _command_entities(text)
    if ents:
        msg["entities"] = ents


def _command_entities(text: str) -> list[dict[str, Any]]:
    """The bot_command entity Telegram attaches to a leading ``/command[@bot]``."""
    m = re.match(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,64})?", text)
    return [{"type": "bot_command", "offset": 0, "length": _utf16_len(m[0])}] if m else []


def _callback_datas(markup: Any) -> list[str]:
    if not isinstance(markup, dict):
        return []
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row if "callback_data" in b]


def _scope_key(scope: Any, language_code: str) -> tuple[str, str]:
    """Normalised storage key for bot commands: (scope JSON, language code)."""
    if not isinstance(scope, dict):
        scope = {"type": "default"}
    return json.dumps(scope, sort_keys=True), language_code


def _describe(call: Call) -> str:
    """One line per call for AssertionError messages."""
    params = {k: ("<file>" if isinstance(v, dict) and "content" in v else v) for k, v in call.params.items()}
    text = json.dumps(params, ensure_ascii=False, default=str)
    if len(text) > 300:
        text = text[:300] + "…"
    return f"{call.method} -> {call.status} {text}"
