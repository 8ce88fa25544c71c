"""Chat search: replies to searches and commands, result and reading buttons, reading an article in full."""
