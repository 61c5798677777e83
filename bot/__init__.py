"""Passaparola: a multilingual outreach chatbot for migrants and refugees."""

import os

# Opt in to python-telegram-bot's timedelta durations (RetryAfter.retry_after) now, as v23 will.
os.environ.setdefault("PTB_TIMEDELTA", "1")
