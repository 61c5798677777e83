"""A lean Bot API caller for the delivery queue's bulk sends: PTB's transport layer, over aiohttp.

Measured in benches/broadcast.py, one process sending at Telegram's paid-broadcast rates spends
its CPU on the HTTP client and on building and parsing Bot API objects. So for bulk sends:

- the transport is aiohttp (`AiohttpRequest`, a PTB `BaseRequest`): httpx's connection pool
  costs about 2-3 ms of CPU per request, aiohttp's a tenth of that;
- the request is plain JSON, and the answer stays a dict (no `telegram.Message` objects);
- PTB still checks every answer (`BaseRequest.post`) and raises its own errors (RetryAfter,
  Forbidden, BadRequest, NetworkError, ...), so their meaning does not change.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

JSON = dict[str, Any]


class AiohttpRequest(BaseRequest):
    """A keep-alive pool of at most `connections` connections to the Bot API."""

    def __init__(
        self,
        connections: int = 64,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 5.0,
        pool_timeout: float = 5.0,
    ) -> None:
        self.connections = connections
        self.connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self.pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout, in seconds."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the connection pool."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.connections),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        """Close the connection pool."""
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One HTTP request; PTB turns the status and body into a result or a TelegramError."""
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        connecting = _seconds(connect_timeout, self.connect_timeout)
        waiting = _seconds(pool_timeout, self.pool_timeout)
        timeout = aiohttp.ClientTimeout(
            total=None,  # a slow upload may take long; a silent server may not (sock_read)
            connect=None if connecting is None or waiting is None else connecting + waiting,
            sock_connect=connecting,
            sock_read=_seconds(read_timeout, self._read_timeout),
        )
        data: aiohttp.FormData | bytes | None = None
        headers = {}
        if request_data is not None and request_data.contains_files:
            form = aiohttp.FormData(request_data.json_parameters)
            for name, (filename, content, mimetype) in request_data.multipart_data.items():
                form.add_field(name, content, filename=filename, content_type=mimetype)
            data = form
        elif request_data is not None:
            data = request_data.json_payload  # cheaper than form-encoding; the Bot API takes both
            headers["Content-Type"] = "application/json"
        try:
            async with self._session.request(
                method, url, data=data, headers=headers, timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error


def _seconds(value: ODVInput[float], default: float) -> float | None:
    """A timeout given to the call, or our default when the call left it unset."""
    if isinstance(value, DefaultValue) or value is BaseRequest.DEFAULT_NONE:
        return default
    return value  # type: ignore[return-value]


class JsonBody(RequestData):
    """Request data that is already a JSON object (no files)."""

    def __init__(self, params: JSON) -> None:
        super().__init__([])
        self._payload = json.dumps(params, ensure_ascii=False).encode()

    @property
    def json_payload(self) -> bytes:
        """The parameters as a UTF-8 JSON object."""
        return self._payload


class BotApi:
    """Calls Bot API methods with JSON parameters and returns their raw results."""

    def __init__(self, token: str, bot_api_url: str, connections: int = 16) -> None:
        self.request = AiohttpRequest(connections)
        self._base = f"{bot_api_url}/bot{token}"  # holds the token: never log it

    async def initialize(self) -> None:
        """Open the connection pool."""
        await self.request.initialize()

    async def shutdown(self) -> None:
        """Close the connection pool."""
        await self.request.shutdown()

    async def call(self, method: str, params: JSON) -> Any:
        """One method call's result; a telegram.error.TelegramError if it failed."""
        return await self.request.post(f"{self._base}/{method}", JsonBody(params))
