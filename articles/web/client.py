"""The only code that talks to the newspaper's website: a polite, bounded HTTP client.

Polite: a clear User-Agent with a contact, robots.txt (cached per host, its Crawl-delay honoured),
at most one request per second per host by default, conditional GETs, backoff on trouble.
Bounded: timeouts on every request and on the whole body, a size cap enforced while streaming,
at most a few redirects (each one checked against robots.txt), retries only where a retry can
help (timeouts, network errors, 5xx, 429), never on 4xx.

Synchronous on purpose: it runs in the reindex worker thread or the `bantin fetch` process, one
request at a time, so the per-host limit is simple and exact.
"""

from __future__ import annotations

import email.utils
import threading
import time
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

from bantin.articles.web.scope import Refused, Resolver, Scope, Unresolved, check_public, resolve

MAX_BYTES = 5 * 1024 * 1024
REDIRECTS = {301, 302, 303, 307, 308}
HTTP_REASONS = {400: "yêu cầu sai", 401: "cần đăng nhập", 403: "bị cấm truy cập", 404: "không tìm thấy",
                410: "đã bị gỡ", 429: "gửi yêu cầu quá nhanh", 500: "lỗi máy chủ", 502: "cổng lỗi",
                503: "máy chủ quá tải", 504: "máy chủ quá chậm"}


class FetchError(Exception):
    """A URL we could not get; the message is the reason shown in /failed. `transient`: worth
    trying again at the next poll (timeouts, 5xx), as opposed to a 404 or a page too big."""

    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.transient = transient


@dataclass(frozen=True)
class ClientConfig:
    user_agent: str
    #: Requests per second to one host; 0 = no limit (benchmarks against a local server only).
    per_host_rate: float = 1.0
    #: Seconds for connecting, for each read, and for the whole body.
    timeout: float = 20.0
    #: Attempts after the first one, for errors a retry can fix.
    retries: int = 3
    #: Seconds before the first retry; doubled each time.
    backoff: float = 1.0
    max_bytes: int = MAX_BYTES
    max_redirects: int = 5
    #: Seconds a host's robots.txt is trusted before it is fetched again.
    robots_ttl: float = 3600.0
    #: Fetch hosts on loopback, private and link-local addresses too. Off: a feed or a redirect
    #: must not reach the bot's own network (the bot's setting BANTIN_FEED_ALLOW_PRIVATE).
    allow_private: bool = False


@dataclass(frozen=True)
class Response:
    url: str  # after redirects
    status: int  # 200 or 304
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def charset(self) -> str | None:
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                return value.strip("\"' ")
        return None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


@dataclass
class _Robots:
    parser: urllib.robotparser.RobotFileParser | None  # None: everything allowed
    fetched: float
    blocked_reason: str | None = None  # robots.txt unreachable: nothing allowed, for this reason


class Forbidden(FetchError):
    """A URL outside the newspaper's sites or on an internal address: never requested."""


class PoliteClient:
    """`get(url)` → Response (200, or 304 with validators), else FetchError."""

    def __init__(self, config: ClientConfig, *, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 resolve: Resolver = resolve) -> None:
        self.config = config
        self.resolve = resolve
        self.sleep = sleep
        self.clock = clock
        self._http = httpx.Client(
            headers={"User-Agent": config.user_agent, "Accept-Encoding": "gzip, deflate"},
            timeout=httpx.Timeout(config.timeout), follow_redirects=False, transport=transport,
        )
        self._next: dict[str, float] = {}
        self._robots: dict[str, _Robots] = {}
        self._host_gap: dict[str, float] = {}  # Crawl-delay, per host
        self._lock = threading.Lock()
        self.requests = 0

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public -----------------------------------------------------------------------------------

    def get(self, url: str, *, etag: str | None = None, last_modified: str | None = None,
            scope: Scope | None = None) -> Response:
        """`scope`: the sites the URL and every redirect must stay on (Forbidden otherwise); every
        host must also be on a public address unless `allow_private`. Checked before any request."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        for _hop in range(self.config.max_redirects + 1):
            if urlsplit(url).scheme not in ("http", "https"):
                raise FetchError(f"địa chỉ không phải http(s): {url[:100]}")
            self._check_allowed(url, scope)
            self._check_robots(url)
            status, body, answer = self._with_retries(url, headers)
            if status in REDIRECTS and answer.get("location"):
                url = urljoin(url, answer["location"])
                headers = {}  # validators belong to the first URL
                continue
            if status == 304:
                return Response(url, 304, b"", answer)
            if status == 200:
                return Response(url, 200, body, answer)
            reason = HTTP_REASONS.get(status, "")
            raise FetchError(f"máy chủ trả lỗi HTTP {status}" + (f" ({reason})" if reason else ""),
                             transient=status >= 500 or status == 429)
        raise FetchError(f"chuyển hướng quá {self.config.max_redirects} lần")

    def _check_allowed(self, url: str, scope: Scope | None) -> None:
        parts = urlsplit(url)
        try:
            if scope is not None:
                scope.check(url)
            if not self.config.allow_private:
                check_public(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80), self.resolve)
        except Unresolved as exc:  # as a failed connection was before the check: retried next poll
            raise FetchError(str(exc), transient=True) from None
        except (Refused, ValueError) as exc:
            raise Forbidden(str(exc) if isinstance(exc, Refused) else "địa chỉ không hợp lệ") from None

    # -- robots.txt ---------------------------------------------------------------------------------

    def _check_robots(self, url: str) -> None:
        parts = urlsplit(url)
        host = f"{parts.scheme}://{parts.netloc}"
        robots = self._robots.get(host)
        if robots is None or self.clock() - robots.fetched > self.config.robots_ttl:
            robots = self._load_robots(host)
            self._robots[host] = robots
        if robots.blocked_reason:
            raise FetchError(robots.blocked_reason, transient=True)
        if robots.parser is not None and not robots.parser.can_fetch(self.config.user_agent, url):
            raise FetchError("robots.txt của trang không cho phép tải địa chỉ này")

    def _load_robots(self, host: str) -> _Robots:
        """RFC 9309: a 4xx robots.txt means no rules; a 5xx or an unreachable one means stay away."""
        try:
            status, body, _ = self._with_retries(f"{host}/robots.txt", {})
        except FetchError as exc:
            return _Robots(None, self.clock(), f"không tải được robots.txt của {host} ({exc}); chưa tải trang nào")
        if status >= 500:
            return _Robots(None, self.clock(), f"robots.txt của {host} trả lỗi HTTP {status}; chưa tải trang nào")
        if status != 200:
            return _Robots(None, self.clock())
        parser = urllib.robotparser.RobotFileParser()
        parser.parse(body.decode("utf-8", errors="replace").splitlines())
        delay = parser.crawl_delay(self.config.user_agent)
        if delay and self.config.per_host_rate:
            # Crawl-delay only ever slows us down, and never below one request a minute.
            self._host_gap[urlsplit(host).netloc] = min(float(delay), 60.0)
        return _Robots(parser, self.clock())

    # -- one request, with retries ---------------------------------------------------------------

    def _with_retries(self, url: str, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        attempt = 0
        while True:
            try:
                status, body, answer = self._once(url, headers)
            except FetchError as exc:
                if not exc.transient or attempt >= self.config.retries:
                    raise
                self.sleep(self.config.backoff * 2**attempt)
            else:
                if (status < 500 and status != 429) or attempt >= self.config.retries:
                    return status, body, answer
                self.sleep(max(self.config.backoff * 2**attempt, _retry_after(answer.get("retry-after"))))
            attempt += 1

    def _once(self, url: str, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        self._wait_turn(urlsplit(url).netloc)
        self.requests += 1
        started = self.clock()
        try:
            with self._http.stream("GET", url, headers=headers) as response:
                answer = {k.lower(): v for k, v in response.headers.items()}
                if response.status_code != 200:
                    return response.status_code, b"", answer
                declared = answer.get("content-length", "")
                if declared.isdigit() and int(declared) > self.config.max_bytes:
                    raise FetchError(self._too_big())
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self.config.max_bytes:
                        raise FetchError(self._too_big())
                    if self.clock() - started > self.config.timeout:
                        raise FetchError(f"quá {self.config.timeout:g} giây mà chưa tải xong", transient=True)
                    chunks.append(chunk)
                return 200, b"".join(chunks), answer
        except httpx.TimeoutException as exc:
            raise FetchError(f"quá {self.config.timeout:g} giây không có trả lời ({type(exc).__name__})",
                             transient=True) from exc
        except httpx.TransportError as exc:
            raise FetchError(f"không kết nối được ({type(exc).__name__}: {str(exc)[:120]})", transient=True) from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"lỗi HTTP ({type(exc).__name__}: {str(exc)[:120]})") from exc

    def _too_big(self) -> str:
        return f"trang quá lớn (hơn {self.config.max_bytes / 2**20:g} MB), bỏ qua"

    def _wait_turn(self, host: str) -> None:
        """Per-host pacing: requests to one host at least 1/rate seconds apart (or Crawl-delay)."""
        if not self.config.per_host_rate:
            return
        gap = max(1.0 / self.config.per_host_rate, self._host_gap.get(host, 0.0))
        with self._lock:
            now = self.clock()
            start = max(now, self._next.get(host, now))
            self._next[host] = start + gap
        if start > now:
            self.sleep(start - now)


def _retry_after(value: str | None) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), at most 5 minutes."""
    if not value:
        return 0.0
    if value.strip().isdigit():
        return min(float(value), 300.0)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, min(300.0, moment.timestamp() - time.time()))
