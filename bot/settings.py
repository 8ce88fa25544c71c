"""One typed settings object, from `BANTIN_*` environment variables and an optional `bantin.toml`.

Built once at the edge (the CLI) and passed down; nothing deeper reads the environment.
Precedence: environment > bantin.toml > defaults.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from bantin.bot.render import MAX_PER_PAGE

#: Package data of `bantin.articles` (a real folder: wheels are installed unzipped).
BUNDLED_SAMPLES = Path(str(importlib.resources.files("bantin.articles") / "samples"))
DEFAULT_API_URL = "https://api.telegram.org"


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    sources: tuple[Path, ...] = (BUNDLED_SAMPLES,)
    token: str | None = field(default=None, repr=False)
    api_url: str = DEFAULT_API_URL
    per_page: int = 5
    search_timeout: float = 5.0
    rate_burst: int = 5
    rate_per_minute: int = 20
    #: Button presses a user may make per minute (after a burst of ten): every press is
    #: answered, and a group's settings button asks Telegram whether the presser is an admin.
    button_rate: int = 30
    webhook_secret: str | None = field(default=None, repr=False)
    log_level: str = "INFO"
    #: Messages/s the whole bot may send (Telegram's flood limit is about 30); 0 turns PTB's
    #: limiter off, which only makes sense against a local Bot API server (benchmarks).
    flood_rate: int = 30
    #: Daily digests: default delivery time (Vietnam time), articles per digest before a "more"
    #: button, and the broadcast's pace in messages/s (Telegram allows ~30/s for the whole bot;
    #: the rest is headroom for interactive replies, which share the same limit).
    digest_time: str = "07:00"
    digest_size: int = 10
    digest_rate: float = 25.0
    #: Messages a minute a digest broadcast may post to one group or channel (Telegram: 20).
    group_rate: int = 20
    #: Newsroom editors: Telegram user ids allowed to reindex and see /failed and /stats. Ids, not
    #: @usernames, because a username can be changed or taken over by someone else.
    editors: frozenset[int] = frozenset()
    #: Minutes between automatic scans of the sources (0 = off); same code path as /reindex.
    scan_minutes: int = 0
    #: An article longer than this (characters of text) is read as one .txt file rather than a
    #: flood of messages; 0 = never a file.
    read_document_chars: int = 12000
    #: Processes that run searches, so a busy bot uses more than one core; they share the mapped
    #: index files and each holds bounded caches of its own. None (`auto`) = one per core, at most 4.
    search_workers: int | None = None
    #: Articles per index segment in a full build: bounds each build process's memory (None =
    #: the index's default, `index.bulk.default_batch`: 36,000 articles shared by the build processes).
    index_batch: int | None = None
    #: Megabytes of decoded postings each search process keeps (the common words' lists); the
    #: index files themselves are shared, this is per process.
    search_cache_mb: int = 96
    #: Language of the command line's own output (summaries, progress, doctor): the editors'
    #: Vietnamese by default, `en` for an English-speaking operator.
    lang: str = "vi"
    #: The newspaper's own website: RSS/Atom feeds and sitemaps to follow (empty = none), how
    #: often `bantin run` polls them (minutes; 0 = only /reindex and `bantin fetch`), requests a
    #: second to one host (0 = no limit, for a local benchmark only), and who the site's admin
    #: can write to about our robot (it goes into the User-Agent), and whether the site may be
    #: on loopback/private addresses (a site inside the newsroom's network; off by default).
    feeds: tuple[str, ...] = ()
    feed_minutes: float = 15.0
    feed_rate: float = 1.0
    feed_contact: str = ""
    feed_allow_private: bool = False

    @property
    def user_agent(self) -> str:
        """`bantin/<version> (+<contact>)`: a webmaster who sees us in the logs can tell who we are."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            ours = version("bantin")
        except PackageNotFoundError:
            ours = "0"
        return f"bantin/{ours}" + (f" (+{self.feed_contact})" if self.feed_contact else "")

    @property
    def feeds_state_path(self) -> Path:
        return self.data_dir / "feeds.sqlite"

    @property
    def search_processes(self) -> int:
        from bantin.index.pool import default_workers

        return default_workers() if self.search_workers is None else self.search_workers

    @property
    def search_cache(self) -> int:
        """`search_cache_mb` in postings, as `index.engine.Engine` counts them (8 bytes each)."""
        return self.search_cache_mb * 1_000_000 // 8

    @property
    def store_path(self) -> Path:
        return self.data_dir / "articles.sqlite"

    @property
    def index_root(self) -> Path:
        return self.data_dir / "index"

    @property
    def state_path(self) -> Path:
        return self.data_dir / "bot.sqlite"

    @property
    def webhook_path(self) -> str:
        """The webhook's URL path: derived from the token, so it is stable and unguessable."""
        return hashlib.sha256((self.token or "").encode()).hexdigest()[:32]

    @property
    def webhook_secret_token(self) -> str:
        """BANTIN_WEBHOOK_SECRET, or one derived from the token (Telegram sends it with each update)."""
        return self.webhook_secret or hashlib.sha256(b"bantin" + (self.token or "").encode()).hexdigest()


#: setting name → (environment variable, parser). The README documents each of these.
ENV = {
    "data_dir": "BANTIN_DATA_DIR",
    "sources": "BANTIN_SOURCES",
    "token": "BANTIN_TOKEN",
    "api_url": "BANTIN_API_URL",
    "per_page": "BANTIN_PER_PAGE",
    "search_timeout": "BANTIN_SEARCH_TIMEOUT",
    "rate_burst": "BANTIN_RATE_BURST",
    "rate_per_minute": "BANTIN_RATE_PER_MINUTE",
    "button_rate": "BANTIN_BUTTON_RATE",
    "webhook_secret": "BANTIN_WEBHOOK_SECRET",
    "log_level": "BANTIN_LOG_LEVEL",
    "flood_rate": "BANTIN_FLOOD_RATE",
    "digest_time": "BANTIN_DIGEST_TIME",
    "digest_size": "BANTIN_DIGEST_SIZE",
    "digest_rate": "BANTIN_DIGEST_RATE",
    "group_rate": "BANTIN_GROUP_RATE",
    "editors": "BANTIN_EDITORS",
    "scan_minutes": "BANTIN_SCAN_MINUTES",
    "read_document_chars": "BANTIN_READ_DOCUMENT_CHARS",
    "search_workers": "BANTIN_SEARCH_WORKERS",
    "index_batch": "BANTIN_INDEX_BATCH",
    "search_cache_mb": "BANTIN_SEARCH_CACHE_MB",
    "lang": "BANTIN_LANG",
    "feeds": "BANTIN_FEEDS",
    "feed_minutes": "BANTIN_FEED_MINUTES",
    "feed_rate": "BANTIN_FEED_RATE",
    "feed_contact": "BANTIN_FEED_CONTACT",
    "feed_allow_private": "BANTIN_FEED_ALLOW_PRIVATE",
}


def load_settings(environ: Mapping[str, str] | None = None, *, config: Path | None = None) -> Settings:
    """Build Settings; raises SettingsError naming the bad variable or key."""
    env = os.environ if environ is None else environ
    path = config or Path(env.get("BANTIN_CONFIG", "bantin.toml"))
    values: dict[str, Any] = {}
    if path.is_file():
        try:
            table = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{path}: không đọc được TOML ({exc})") from exc
        unknown = set(table) - set(ENV)
        if unknown:
            raise SettingsError(f"{path}: khoá không biết: {', '.join(sorted(unknown))} (xem README)")
        values.update({k: (v, f"{path}: {k}") for k, v in table.items()})
    elif "BANTIN_CONFIG" in env:
        raise SettingsError(f"BANTIN_CONFIG={path}: không tìm thấy tệp")
    for name, var in ENV.items():
        if env.get(var, "").strip():
            values[name] = (env[var].strip(), var)
    kinds = {f.name: f for f in fields(Settings)}
    parsed = {name: _convert(name, raw, where, kinds[name].default) for name, (raw, where) in values.items()}
    return Settings(**parsed)


def _convert(name: str, raw: Any, where: str, default: Any) -> Any:
    try:
        if name == "sources":
            items = raw if isinstance(raw, list) else re.split(rf"[{re.escape(os.pathsep)},]", str(raw))
            paths = tuple(Path(str(p).strip()).expanduser() for p in items if str(p).strip())
            if not paths:
                raise ValueError("cần ít nhất một thư mục")
            return paths
        if name == "data_dir":
            return Path(str(raw)).expanduser()
        if name == "api_url":
            url = str(raw).rstrip("/")
            if not url.startswith(("http://", "https://")):
                raise ValueError("cần bắt đầu bằng http:// hoặc https://")
            return url
        if name == "digest_time":
            match = re.fullmatch(r"([01]?\d|2[0-3])[:hH]([0-5]\d)", str(raw).strip())
            if not match:
                raise ValueError("cần giờ dạng HH:MM, từ 00:00 đến 23:59")
            return f"{int(match[1]):02d}:{match[2]}"
        if name == "per_page" and not 1 <= int(raw) <= MAX_PER_PAGE:
            raise ValueError(f"cần từ 1 đến {MAX_PER_PAGE} kết quả: nhiều hơn thì một tin nhắn không chứa nổi")
        if name == "digest_size" and not 1 <= int(raw) <= 50:
            raise ValueError("cần từ 1 đến 50 bài")
        if name == "digest_rate" and not 0 < float(raw) <= 30:
            raise ValueError("cần lớn hơn 0 và không quá 30 tin/giây (giới hạn của Telegram)")
        if name == "button_rate" and not 1 <= int(raw) <= 600:
            raise ValueError("cần từ 1 đến 600 lần bấm nút mỗi phút cho mỗi người")
        if name == "group_rate" and not 1 <= int(raw) <= 20:
            raise ValueError("cần từ 1 đến 20 tin/phút cho mỗi nhóm hay kênh (giới hạn của Telegram)")
        if name == "editors":
            return _editor_ids(raw)
        if name == "scan_minutes" and not 0 <= int(raw) <= 10080:
            raise ValueError("cần số phút từ 1 đến 10080 (một tuần), hoặc 0 để tắt quét tự động")
        if name == "feeds":
            return _feed_urls(raw)
        if name == "feed_minutes":
            minutes = float(raw)
            if minutes != 0 and not 0.05 <= minutes <= 10080:
                raise ValueError("cần số phút từ 0.05 đến 10080 (một tuần), hoặc 0 để chỉ tải khi /reindex")
            return minutes
        if name == "feed_rate":
            rate = float(raw)
            if not 0 <= rate <= 20:
                raise ValueError("cần từ 0 (không giới hạn, chỉ để đo thử) đến 20 yêu cầu/giây cho mỗi trang web")
            return rate
        if name == "lang":
            if str(raw).strip().lower() not in {"vi", "en"}:
                raise ValueError("cần vi hoặc en")
            return str(raw).strip().lower()
        if name == "search_workers":
            if str(raw).strip().lower() == "auto":
                return None
            if not 0 <= int(raw) <= 16:
                raise ValueError("cần số tiến trình từ 0 (tìm ngay trong tiến trình bot) đến 16, hoặc auto")
            return int(raw)
        if name == "search_cache_mb" and not 8 <= int(raw) <= 4096:
            raise ValueError("cần từ 8 đến 4096 MB cho mỗi tiến trình tìm kiếm")
        if name == "index_batch":
            if not 500 <= int(raw) <= 1_000_000:
                raise ValueError("cần từ 500 đến 1000000 bài mỗi phân đoạn chỉ mục")
            return int(raw)
        if isinstance(default, bool):
            return str(raw).lower() in {"1", "true", "yes", "on"}
        if isinstance(default, int):
            value = int(raw)
            if value < 0:
                raise ValueError("không được âm")
            return value
        if isinstance(default, float):
            real = float(raw)
            if real <= 0:
                raise ValueError("phải lớn hơn 0")
            return real
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{where}: giá trị {raw!r} không hợp lệ ({exc})") from exc


def _feed_urls(raw: Any) -> tuple[str, ...]:
    """`https://a/rss, https://a/sitemap.xml` (commas or spaces, or a TOML list) → URLs."""
    items = raw if isinstance(raw, list) else re.split(r"[,\s]+", str(raw))
    urls: list[str] = []
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        if not re.match(r"^https?://[^/\s]+", item):
            raise ValueError(f"{item!r} không phải địa chỉ http(s) của một nguồn RSS/Atom hay sitemap")
        if item not in urls:
            urls.append(item)
    return tuple(urls)


def _editor_ids(raw: Any) -> frozenset[int]:
    """`123, 456` (or a TOML list) → user ids; anything else is refused with the reason."""
    items = raw if isinstance(raw, list) else re.split(r"[,;\s]+", str(raw))
    ids: set[int] = set()
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        if item.startswith("@"):
            raise ValueError(f"{item}: cần id số của người dùng Telegram, không phải @tên (tên có thể đổi)")
        if not item.isdigit() or int(item) <= 0:
            raise ValueError(f"{item!r} không phải id người dùng Telegram (số nguyên dương), "
                             "các id cách nhau bởi dấu phẩy, ví dụ 123456789,987654321")
        ids.add(int(item))
    return frozenset(ids)
