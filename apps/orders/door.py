"""The checkout's door: a sold-out flash-sale buyer is answered before Django is reached.

When a live room's flash sale opens, 1,000 buyers press "Buy" in the same second for 100
units. Through Django each checkout waits for a worker thread, loads its session, user and
cart, and only then meets the Redis gate, so the 900 who cannot win wait seconds in the
server's queue for their "sold out". The door is a small ASGI app in front of Django, in
the event loop: a checkout that names its lines (``expected_lines``, what the page showed,
which the checkout then verifies against the cart) is admitted through the gate here
(:func:`apps.orders.gate.door_admit`). A sold-out buyer gets the API's own ``sold_out``
error straight away; an admitted one goes on to Django with the units in hand, and the
checkout claims them instead of asking the gate again (any it does not claim, the door
gives back when the request is over).

The door does not read the cart, so it takes units only for a request whose
``checkout_pass`` (apps.orders.checkout_pass) says its session's cart showed those lines,
and for one such checkout per session at a time: otherwise a crowd of requests naming lines
they do not hold would keep the units while the checkout got round to refusing them. Any
request may be told "sold out" for lines it named itself. Everything else (no
``expected_lines``, no pass, a body that is not JSON, no gate open, a retried
Idempotency-Key, Redis unreachable) goes to Django unchanged, and the checkout meets the
gate itself after reading the cart.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import weakref
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.http.cookie import parse_cookie
from django.urls import reverse
from django.utils import translation

from apps.accounts.selectors import accept_language
from apps.orders import checkout_pass, gate
from apps.orders.selectors import quantities_by_variant
from apps.orders.services import IDEMPOTENCY_KEY_RE, sold_out_error

logger = logging.getLogger(__name__)

# The scope key under which Django's request finds the door's admission (request.scope).
ADMISSION = "livemall.flash_sale_admission"
# A checkout body is a few hundred bytes; anything larger is Django's to judge.
MAX_BODY_BYTES = 16 * 1024
MAX_LINES = 100

Scope = dict[str, Any]


def named_lines(body: bytes) -> tuple[dict[int, int] | None, object]:
    """A checkout body's ``expected_lines`` as {variant: quantity} (None if absent or malformed)
    and its ``checkout_pass`` as sent."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: 16 kB of "[" nest deeper than Python's parser goes; Django's JSON
        # parser (apps.parsers) then answers it as a parse_error.
        return None, None
    if not isinstance(data, dict):
        return None, None
    lines, token = data.get("expected_lines"), data.get("checkout_pass")
    if not isinstance(lines, list) or not 0 < len(lines) <= MAX_LINES:
        return None, token
    pairs = [(line.get("variant"), line.get("quantity")) for line in lines if isinstance(line, dict)]
    # bool is an int in Python; the API's serializer refuses it, so the door does too.
    if len(pairs) != len(lines) or not all(type(value) is int and value > 0 for pair in pairs for value in pair):
        return None, token
    return quantities_by_variant(pairs), token


# The headers the door reads, found in one pass over the request's: it does this for each of a
# flash sale's buyers, in the loop every sold-out buyer waits on.
_READ_HEADERS = frozenset((b"idempotency-key", b"cookie", b"accept-language"))


def _headers(scope: Scope) -> dict[bytes, str]:
    return {key: value.decode("latin-1") for key, value in scope.get("headers", ()) if key in _READ_HEADERS}


def _language(headers: dict[bytes, str], cookies: dict[str, str]) -> str:
    """The shopper's language as the door can know it: the language cookie, else the browser's."""
    region = settings.REGION
    chosen = cookies.get(settings.LANGUAGE_COOKIE_NAME)
    if chosen in region.languages:
        return chosen
    return accept_language(headers.get(b"accept-language", ""), region.languages) or region.default_language


@functools.cache
def _checkout_path() -> str:
    return reverse("orders-api:checkout")


def prepare() -> None:
    """Make the door's path and answers at the server's start (ASGI lifespan), not with a flash
    sale's first buyers: in a fresh process the URL resolver and the language catalogues took
    the first crowd's loop for ~0.2 s (measured: no answer at all in one process from 10 to
    200 ms into the burst). Not at import: the URL resolver made in the main thread before the
    server started slowed every later request by ~30 % (measured on /healthz, 200 clients).
    """
    _checkout_path()
    for language in settings.REGION.languages:
        _sold_out_answer(language)


@functools.lru_cache(maxsize=64)
def _sold_out_answer(language: str) -> tuple[int, tuple[tuple[bytes, bytes], ...], bytes]:
    """The API's ``sold_out`` error in ``language``: status, headers and body, made once per language."""
    with translation.override(language):
        error = sold_out_error()
        body = json.dumps(error.as_dict(), ensure_ascii=False).encode()
    # A tuple: every sold-out buyer in this language is sent the same one.
    headers = (
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"content-language", language.encode()),
        (b"vary", b"Accept-Language, Cookie"),
        (b"cache-control", b"no-store"),
    )
    return error.status, headers, body


@dataclass
class _Crowd:
    """The flash-sale checkouts one event loop is answering, and the slots into Django.

    Admitted checkouts run in Django a few at a time (``slots``); the rest wait here, in the
    loop. Each running checkout is a thread taking turns at the interpreter lock with the
    event loop; fifty of them at once leave the loop (answering the sold-out crowd) a fiftieth
    of the time, and the database pool serves only a few at a time anyway.
    """

    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(settings.FLASH_SALE_CHECKOUTS_AT_ONCE))
    # Checkouts waiting for the gate's answer, and when the door last answered "sold out".
    judging: int = 0
    last_refusal: float = float("-inf")

    async def answered(self) -> None:
        """Return once the door has no one left to judge and has refused no one for a moment.

        A flash sale's first buyers win, and the crowd behind them is still arriving: while a
        winner's checkout runs, its thread and PostgreSQL take the cores the loop needs to tell
        the others "sold out" (measured: README, Performance, "the crowd answered first"). A winner's
        checkout takes a second or more in such a crowd anyway. While units last nobody is
        refused, so a steady stream of buyers waits at most for the answer the door is awaiting.
        The wait is bounded (``FLASH_SALE_CROWD_WAIT_MAX_MS``).
        """
        loop = asyncio.get_running_loop()
        quiet = settings.FLASH_SALE_CROWD_QUIET_MS / 1000
        until = loop.time() + settings.FLASH_SALE_CROWD_WAIT_MAX_MS / 1000
        while self.judging or loop.time() < self.last_refusal + quiet:
            # Judging is over within a Redis round trip: look again soon; a refusal's quiet has an end.
            wake = loop.time() + quiet / 5 if self.judging else self.last_refusal + quiet
            if (wait := min(wake, until) - loop.time()) <= 0:
                return
            await asyncio.sleep(wait)


class CheckoutDoor:
    """ASGI app wrapping Django's: answers sold-out flash-sale checkouts from the event loop."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._crowds: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Crowd] = weakref.WeakKeyDictionary()

    def _crowd(self) -> _Crowd:
        loop = asyncio.get_running_loop()
        crowd = self._crowds.get(loop)
        if crowd is None:
            crowd = self._crowds[loop] = _Crowd()
        return crowd

    def _is_checkout(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope.get("method") != "POST" or not settings.REDIS_URL:
            return False
        return scope.get("path") == _checkout_path()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if not self._is_checkout(scope):
            return await self.app(scope, receive, send)
        messages, body, whole = [], b"", True
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                whole = False
                break
            body += message.get("body", b"")
            if len(body) > MAX_BODY_BYTES:
                whole = False
                break
            if not message.get("more_body"):
                break

        async def replay() -> dict[str, Any]:
            return messages.pop(0) if messages else await receive()

        headers = _headers(scope)
        key = headers.get(b"idempotency-key", "")
        lines, token = named_lines(body) if whole and IDEMPOTENCY_KEY_RE.match(key) else (None, None)
        admission = None
        crowd = self._crowd()
        if lines:
            # Only a session whose cart showed these lines may have units taken for it here;
            # any request may hear "sold out" (apps.orders.checkout_pass).
            # Read once: the session for the pass, the language for a "sold out".
            cookies = parse_cookie(headers.get(b"cookie", ""))
            session_key = cookies.get(settings.SESSION_COOKIE_NAME, "")
            try:
                shopper = session_key if checkout_pass.admits(token, session_key, lines) else ""
            except Exception:  # whatever a request sends, the door does not fail it: no pass
                logger.exception("Flash-sale door could not read a checkout pass")
                shopper = ""
            crowd.judging += 1
            try:
                admission = await gate.door_admit(key, lines, shopper=shopper)
            except Exception as exc:  # Redis down: the checkout decides, as it would without a door.
                logger.warning("Flash-sale door could not ask the gate: %s", exc)
            finally:
                crowd.judging -= 1
        if admission is False:
            crowd.last_refusal = asyncio.get_running_loop().time()
            return await self._sold_out(send, headers, cookies)
        if admission is None:
            return await self.app(scope, replay, send)
        try:
            await crowd.answered()
            async with crowd.slots:
                await self.app({**scope, ADMISSION: admission}, replay, send)
        finally:
            try:
                await gate.door_give_back(admission)
            except Exception as exc:  # the periodic reconcile repairs the gate
                logger.warning("Flash-sale door could not release its admission of %s: %s", admission.wanted, exc)

    async def _sold_out(self, send: Any, request_headers: dict[bytes, str], cookies: dict[str, str]) -> None:
        language = _language(request_headers, cookies)
        status, headers, body = _sold_out_answer(language)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
