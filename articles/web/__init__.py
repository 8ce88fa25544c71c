"""Following the newspaper's website: feeds and sitemaps → new article URLs → pages → articles.

`feeds` and `state` are pure or local (parsing, the SQLite memory of what was fetched), `client`
is the only module that talks to the network (httpx, politely), and `fetch` ties them together
into one poll that upserts into the article store.
"""
