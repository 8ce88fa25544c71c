"""The Telegram bot, the offline console and the `bantin` command line."""
