"""Raw newsroom pages and JSON Lines exports → clean articles in an SQLite store."""

from bantin.articles.model import Article

__all__ = ["Article"]
