"""The playground over HTTP: Bot API at /bot<token>/<method>, simulated users at /api, page at /."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import suppress
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.playground.state import ApiError, Fault, Playground
from bot.playground.webhook import post_updates

PAGE = Path(__file__).with_name("page.html")
JSON_PARAMS = frozenset(
    {"reply_markup", "entities", "commands", "scope", "results", "allowed_updates",
     "caption_entities", "link_preview_options", "reply_parameters", "button"}
)  # fmt: skip
PLAYGROUND_KEY = web.AppKey("playground", Playground)


def create_app(playground: Playground) -> web.Application:
    """The aiohttp application serving one playground."""
    app = web.Application(client_max_size=60 * 1024 * 1024)
    app[PLAYGROUND_KEY] = playground
    app.cleanup_ctx.append(_webhook_delivery)
    app.add_routes(
        [
            web.route("*", "/bot{token}/{method}", bot_api),
            web.get("/", page),
            web.get("/api/bot", bot_info),
            web.get("/api/users", list_users),
            web.post("/api/users", add_user),
            web.post("/api/groups", add_group),
            web.post("/api/send", send),
            web.post("/api/send_kind", send_kind),
            web.post("/api/edit", edit),
            web.post("/api/press", press),
            web.post("/api/inline", inline),
            web.post("/api/inline/choose", choose_inline),
            web.post("/api/block", block),
            web.get("/api/chats/{chat_id}", chat),
            web.get("/api/files/{file_id}", uploaded_file),
            web.get("/api/events", events),
            web.post("/api/faults", add_fault),
            web.delete("/api/faults", clear_faults),
            web.post("/api/rate", set_rate),
            web.get("/api/stats", stats),
        ]
    )
    return app


async def _webhook_delivery(app: web.Application) -> AsyncIterator[None]:
    """Post updates to the bot's webhook, when it set one, for as long as the server runs."""
    task = asyncio.create_task(post_updates(app[PLAYGROUND_KEY]), name="playground-webhook")
    yield
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task


# --- the Bot API ------------------------------------------------------------------------


async def bot_api(request: web.Request) -> web.Response:
    """One Bot API call, answered in Telegram's envelope."""
    playground = request.app[PLAYGROUND_KEY]
    if request.match_info["token"] != playground.token:
        return _telegram_error(ApiError(401, "Unauthorized"))
    try:
        params = await _bot_api_params(request)
        result = await playground.call(request.match_info["method"], params)
    except ApiError as error:
        return _telegram_error(error)
    return web.json_response({"ok": True, "result": result})


async def _bot_api_params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json" and request.can_read_body:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            raise ApiError(400, "Bad Request: can't parse JSON body") from None
        params.update(body if isinstance(body, dict) else {})
    elif request.content_type == "multipart/form-data":
        reader = await request.multipart()
        async for part in reader:
            if part.filename is not None:  # type: ignore[union-attr]
                params[part.name] = await part.read()  # type: ignore[union-attr]
                params["_filename"] = part.filename  # type: ignore[union-attr]
            else:
                params[part.name] = await part.text()  # type: ignore[union-attr]
    elif request.can_read_body:
        params.update(await request.post())
    for name in JSON_PARAMS & params.keys():
        if isinstance(params[name], str):
            try:
                params[name] = json.loads(params[name])
            except json.JSONDecodeError:
                raise ApiError(400, f"Bad Request: can't parse {name} JSON object") from None
    return params


def _telegram_error(error: ApiError) -> web.Response:
    return web.json_response(error.payload(), status=error.code)


# --- the simulated users' side ----------------------------------------------------------


async def page(request: web.Request) -> web.FileResponse:
    """The browser chat page."""
    return web.FileResponse(PAGE, headers={"Cache-Control": "no-store"})


async def bot_info(request: web.Request) -> web.Response:
    """The bot's public profile (username), for the page."""
    return web.json_response(request.app[PLAYGROUND_KEY].bot_user)


async def list_users(request: web.Request) -> web.Response:
    """All simulated users."""
    return web.json_response(list(request.app[PLAYGROUND_KEY].users.values()))


async def add_user(request: web.Request) -> web.Response:
    """Create a simulated user: {first_name, language_code?}."""
    body = await _json(request)
    name = str(body.get("first_name") or "").strip()[:64]
    if not name:
        return _client_error("first_name is required")
    user = request.app[PLAYGROUND_KEY].add_user(name, body.get("language_code") or None)
    return web.json_response(user)


async def add_group(request: web.Request) -> web.Response:
    """Create a group of simulated users with the bot in it: {title, member_ids}."""
    body = await _json(request)
    return await _run(lambda p: p.add_group(str(body.get("title") or "Group"),
                                                  [int(i) for i in body.get("member_ids", [])]),
                            request)  # fmt: skip


async def send(request: web.Request) -> web.Response:
    """A user sends text: {user_id, text, chat_id?}."""
    body = await _json(request)
    text = str(body.get("text") or "")
    if not text.strip():
        return _client_error("text is required")
    return await _run(
        lambda p: p.user_sends(int(body["user_id"]), text, _maybe_int(body.get("chat_id"))), request
    )


async def send_kind(request: web.Request) -> web.Response:
    """A user sends a sticker, voice, photo, location, document or contact: {user_id, kind}.

    A photo or document may have a caption: {caption}.
    """
    body = await _json(request)
    caption = str(body.get("caption") or "")
    return await _run(
        lambda p: p.user_sends_kind(int(body["user_id"]), str(body.get("kind")), caption), request
    )


async def edit(request: web.Request) -> web.Response:
    """A user edits their message: {user_id, message_id, text}."""
    body = await _json(request)
    return await _run(
        lambda p: p.user_edits(int(body["user_id"]), int(body["message_id"]), str(body["text"])),
        request,
    )


async def press(request: web.Request) -> web.Response:
    """A user presses a button: {user_id, message_id, data, chat_id?}."""
    body = await _json(request)
    return await _run(
        lambda p: p.user_presses(int(body["user_id"]), int(body["message_id"]), str(body["data"]),
                                 _maybe_int(body.get("chat_id"))),
        request,
    )  # fmt: skip


async def inline(request: web.Request) -> web.Response:
    """A user types an inline query: {user_id, query}."""
    body = await _json(request)
    return await _run(
        lambda p: p.user_inline_query(int(body["user_id"]), str(body.get("query", ""))), request
    )


async def choose_inline(request: web.Request) -> web.Response:
    """A user posts an inline result into a chat: {user_id, query_id, result_id, chat_id}."""
    body = await _json(request)
    return await _run(
        lambda p: p.user_chooses_inline(int(body["user_id"]), str(body["query_id"]),
                                        str(body["result_id"]), int(body["chat_id"])),
        request,
    )  # fmt: skip


async def block(request: web.Request) -> web.Response:
    """A user blocks or unblocks the bot: {user_id, blocked}."""
    body = await _json(request)
    return await _run(
        lambda p: p.user_blocks(int(body["user_id"]), bool(body.get("blocked", True))), request
    )


async def uploaded_file(request: web.Request) -> web.Response:
    """A picture the bot uploaded (a QR code, a chart), for the chat page."""
    content = request.app[PLAYGROUND_KEY].files.get(request.match_info["file_id"])
    if content is None:
        raise web.HTTPNotFound()
    return web.Response(body=content, content_type="image/png")


async def chat(request: web.Request) -> web.Response:
    """A chat's transcript (edits applied) and the command list its user sees."""
    playground = request.app[PLAYGROUND_KEY]
    chat_id = int(request.match_info["chat_id"])
    user = playground.users.get(chat_id, {})
    return web.json_response(
        {
            "messages": playground.transcript(chat_id),
            "commands": playground.command_list(chat_id, user.get("language_code")),
        }
    )


async def events(request: web.Request) -> web.Response:
    """Long poll for what happened after `after` (messages, edits, answers, command lists)."""
    after = int(request.query.get("after", "0"))
    timeout = min(float(request.query.get("timeout", "25")), 50.0)
    return web.json_response(await request.app[PLAYGROUND_KEY].wait_events(after, timeout))


async def add_fault(request: web.Request) -> web.Response:
    """Inject a fault: {kind: 429|403|5xx|slow, method?, chat_id?, count?, retry_after?, delay?,
    percent?} — with percent, that share of the matching calls fails, at random."""
    body = await _json(request)
    if body.get("kind") not in ("429", "403", "5xx", "slow"):
        return _client_error("kind must be 429, 403, 5xx or slow")
    fault = Fault(
        kind=body["kind"],
        method=(body.get("method") or "").lower() or None,
        chat_id=_maybe_int(body.get("chat_id")),
        count=int(body.get("count", 1)),
        retry_after=int(body.get("retry_after", 1)),
        delay=float(body.get("delay", 0)),
        percent=min(100.0, max(0.0, float(body.get("percent", 100)))),
    )
    request.app[PLAYGROUND_KEY].faults.append(fault)
    return web.json_response({"ok": True})


async def clear_faults(request: web.Request) -> web.Response:
    """Remove every injected fault."""
    request.app[PLAYGROUND_KEY].faults.clear()
    return web.json_response({"ok": True})


async def set_rate(request: web.Request) -> web.Response:
    """Enforce a send rate like Telegram: {per_second, per_chat} (0 turns a limit off)."""
    body = await _json(request)
    rate = request.app[PLAYGROUND_KEY].rate
    rate.per_second = float(body.get("per_second", 0))
    rate.per_chat = float(body.get("per_chat", 0))
    return web.json_response({"ok": True})


async def stats(request: web.Request) -> web.Response:
    """Counts of Bot API calls and errors, and update-to-answer latencies."""
    playground = request.app[PLAYGROUND_KEY]
    return web.json_response(
        {
            "calls": playground.stats.calls,
            "errors": playground.stats.errors,
            "latencies": playground.stats.latencies,
        }
    )


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except json.JSONDecodeError:
        raise web.HTTPBadRequest(text="expected a JSON body") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="expected a JSON object")
    return body


async def _run(action: Any, request: web.Request) -> web.Response:
    try:
        return web.json_response(await action(request.app[PLAYGROUND_KEY]))
    except (ApiError, KeyError, ValueError) as error:
        return _client_error(getattr(error, "description", str(error)))


def _client_error(message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=400)


def _maybe_int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)
