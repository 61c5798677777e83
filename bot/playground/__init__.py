"""A local, Telegram-compatible Bot API server with a browser chat page (demo and tests)."""
