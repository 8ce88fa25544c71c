"""`bantin chat`: the offline console over the same replies as Telegram (and `--editor`)."""
