"""The floor for the flash-sale burst: an ASGI app that answers every request "sold out" at once.

Served by the same uvicorn, with the same workers, to the same client as the real checkout,
it shows what this machine and client take to answer 1,000 buyers arriving together when
the server does nothing at all (no Redis, no Django).
"""

from __future__ import annotations

from typing import Any

BODY = b'{"error":{"code":"sold_out","message":"Sorry, this is sold out.","fields":{}}}'


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    # /healthz answers 200, so the bench's server runner sees it is up.
    status, body = (200, b"{}") if scope["path"] == "/healthz" else (409, BODY)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
