"""A newspaper's website on 127.0.0.1 for the fetcher's tests and bench: stdlib http.server in a
thread, serving what the test puts in `site.routes`, and logging every request it gets."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    etag: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a slow server)
    repeat: int = 1  # the body is sent this many times (a huge page without the memory)
    length: bool = True  # False: no Content-Length, the body ends when the connection closes


@dataclass(frozen=True)
class Hit:
    path: str
    headers: dict[str, str]
    status: int
    at: float


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (a size cap, a timeout, the end of a test) is not news."""


class Website:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body in one send: separate small writes meet the client's delayed ACK
            # (~40 ms a response on a kept-alive connection), which would make the bench measure TCP.
            wbufsize = 1 << 16

            def do_GET(self) -> None:
                site._answer(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Website:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def page(self, path: str, body: str | bytes, **options: Any) -> str:
        self.routes[path] = Route(body.encode("utf-8") if isinstance(body, str) else body, **options)
        return self.url + path

    def requested(self, path: str) -> list[Hit]:
        with self._lock:
            return [h for h in self.hits if h.path == path]

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        route = self.routes.get(handler.path) or Route(b"not found", status=404, content_type="text/plain")
        if route.delay:
            time.sleep(route.delay)
        status = route.status
        if route.etag and handler.headers.get("If-None-Match") == route.etag:
            status = 304
        with self._lock:
            self.hits.append(Hit(handler.path, dict(handler.headers.items()), status, time.monotonic()))
        body = b"" if status == 304 else route.body
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", route.content_type)
            if route.etag:
                handler.send_header("ETag", route.etag)
            for key, value in route.headers.items():
                handler.send_header(key, value)
            if route.length:
                handler.send_header("Content-Length", str(len(body) * route.repeat))
            else:
                handler.send_header("Connection", "close")
                handler.close_connection = True
            handler.end_headers()
            for _ in range(route.repeat):
                handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (size cap, timeout): that is the point of those tests


def rss(site: str, items: list[tuple[str, str, datetime | None]], title: str = "Báo Sơn Nguyên") -> str:
    """An RSS 2.0 feed of (path, title, published) items."""
    from email.utils import format_datetime

    entries = "".join(
        f"<item><title>{t}</title><link>{site}{path}</link><guid>{site}{path}</guid>"
        + (f"<pubDate>{format_datetime(when)}</pubDate>" if when else "") + "</item>"
        for path, t, when in items
    )
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
            f"<link>{site}/</link><description>Tin mới</description>{entries}</channel></rss>")


def sitemap(site: str, urls: list[tuple[str, str | None]], *, index: bool = False) -> str:
    tag, item = ("sitemapindex", "sitemap") if index else ("urlset", "url")
    body = "".join(f"<{item}><loc>{site}{path}</loc>" + (f"<lastmod>{lastmod}</lastmod>" if lastmod else "")
                   + f"</{item}>" for path, lastmod in urls)
    return f'<?xml version="1.0" encoding="UTF-8"?><{tag} xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</{tag}>'


def article_html(title: str, paragraphs: list[str], *, published: str, canonical: str | None = None,
                 author: str = "Minh Nguyệt", charset: str = "utf-8") -> str:
    """A page in the newsroom's CMS style: menu, breadcrumbs, share bar, comments, related, footer."""
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html><html lang="vi"><head><meta charset="{charset}">
<title>{title} - Báo Sơn Nguyên</title>{link}
<meta property="og:title" content="{title}"><meta property="article:published_time" content="{published}">
<meta name="author" content="{author}"></head><body>
<nav><a href="/">Trang chủ</a> <a href="/thoi-su">Thời sự</a> <a href="/xa-hoi">Xã hội</a></nav>
<div class="breadcrumb"><a href="/">Trang chủ</a> › <a href="/xa-hoi">Xã hội</a></div>
<article><h1>{title}</h1><div class="meta">{published[:10]}</div><div class="content">{body}</div></article>
<div class="share">Chia sẻ: <a href="#">Facebook</a> <a href="#">Zalo</a></div>
<div class="comments"><h3>Ý kiến bạn đọc</h3><textarea></textarea><button>Gửi bình luận</button></div>
<div class="related"><h3>Tin cùng chuyên mục</h3><a href="/x">Tin khác một</a> <a href="/y">Tin khác hai</a></div>
<footer>© Báo Sơn Nguyên. Giấy phép số 123/GP-BTTTT.</footer></body></html>"""


def iter_paths(site: Website) -> Iterator[str]:
    with site._lock:
        yield from (h.path for h in site.hits)
