"""The Telegram edge (python-telegram-bot): the Application, its handlers, membership checks, sending."""
