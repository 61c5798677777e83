"""The baseline: a bare python-telegram-bot echo bot, as its examples write one."""

from __future__ import annotations

import os

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Repeat the message."""
    assert update.message is not None
    await update.message.reply_text(update.message.text or "?")


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer the button and say which one it was."""
    query = update.callback_query
    assert query is not None and query.message is not None
    await query.answer()
    await context.bot.send_message(query.message.chat.id, query.data or "?")


def main() -> None:
    """Poll the Bot API given by BOT_API_URL with BOT_TOKEN."""
    api = os.environ["BOT_API_URL"]
    application = (
        Application.builder().token(os.environ["BOT_TOKEN"]).base_url(f"{api}/bot").build()
    )
    application.add_handler(MessageHandler(filters.ALL, echo))
    application.add_handler(CallbackQueryHandler(pressed))
    application.run_polling(allowed_updates=Update.ALL_TYPES, poll_interval=0)


if __name__ == "__main__":
    main()
