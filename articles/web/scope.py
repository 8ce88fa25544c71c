"""Which URLs the fetcher may request: the newspaper's own sites, on public addresses only.

A feed, a sitemap or a redirect is written by whoever controls it (or broke into the CMS). Without
a scope, one entry pointing at `http://10.0.0.5/` or `http://127.0.0.1:9000/` would make the bot
fetch an internal service and publish the answer as a searchable article. So a URL is fetched only
when its host is a configured feed's site (the feed's host without `www.`, or its registrable
domain, and any subdomain of it, on the feed's port or a default one) and every address it
resolves to is global (not loopback, private, link-local, shared, reserved...).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

#: host, port → the addresses a connection would use (socket.getaddrinfo; tests inject their own).
Resolver = Callable[[str, int], list[str]]

#: Second-level labels under which a country domain is registered (bao.com.vn, sonnguyen.gov.vn):
#: there the registrable domain has three labels. A small table instead of the whole public
#: suffix list: unknown cases only ever narrow the scope to the feed's own host and subdomains.
SECOND_LEVEL = frozenset({"com", "net", "org", "gov", "edu", "ac", "co", "info", "biz", "name", "pro", "health",
                          "int", "mil"})
DEFAULT_PORTS = {"http": 80, "https": 443}

OUTSIDE = "địa chỉ nằm ngoài trang của báo (BANTIN_FEEDS), không tải"
PRIVATE = "địa chỉ thuộc mạng nội bộ, không tải"
UNRESOLVED = "không tìm thấy máy chủ của địa chỉ này (lỗi DNS)"


class Refused(Exception):
    """A URL outside the scope; the message is short and names no internal detail."""


class Unresolved(Exception):
    """The host's name did not resolve now: worth trying again later, unlike a refusal."""


def registrable(host: str) -> str:
    """`www.bao.com.vn` → `bao.com.vn`; an IP address stays itself."""
    host = host.lower().rstrip(".")
    if _is_ip(host):
        return host
    labels = host.split(".")
    keep = 3 if len(labels) >= 3 and labels[-2] in SECOND_LEVEL and len(labels[-1]) == 2 else 2
    return ".".join(labels[-keep:])


@dataclass(frozen=True)
class Scope:
    """The sites of the configured feeds: (registrable host, allowed ports)."""

    sites: dict[str, frozenset[int]]

    @classmethod
    def of_feeds(cls, feeds: Iterable[str]) -> Scope:
        sites: dict[str, set[int]] = {}
        for feed in feeds:
            parts = urlsplit(feed)
            if not parts.hostname:
                continue
            ports = sites.setdefault(registrable(parts.hostname), set(DEFAULT_PORTS.values()))
            ports.add(_port(parts.scheme, parts.port))
        return cls({site: frozenset(ports) for site, ports in sites.items()})

    def check(self, url: str) -> None:
        """Raise Refused unless `url` is on one of the sites (no network: the host's name only)."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        try:
            port = _port(parts.scheme, parts.port)
        except ValueError:
            raise Refused(OUTSIDE) from None
        for site, ports in self.sites.items():
            if (host == site or (not _is_ip(site) and host.endswith("." + site))) and port in ports:
                return
        raise Refused(OUTSIDE)


def check_public(host: str, port: int, resolve: Resolver) -> None:
    """Raise Refused when `host` is or resolves to an address that is not global.

    Checked before connecting; the connection resolves the name again, so a DNS server that
    answers differently the second time (rebinding) is a residual risk (see SECURITY.md).
    """
    host = host.strip("[]")
    try:
        addresses = [host] if _is_ip(host) else resolve(host, port)
    except (OSError, UnicodeError):
        raise Unresolved(UNRESOLVED) from None
    if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses):
        raise Refused(PRIVATE)


def resolve(host: str, port: int) -> list[str]:
    """Every address a connection to host:port might use."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def _port(scheme: str, port: int | None) -> int:
    return port if port is not None else DEFAULT_PORTS.get(scheme.lower(), 0)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True
