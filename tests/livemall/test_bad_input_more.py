"""Bad input to the whole site that used to answer 500: a session cookie with a NUL byte, deep JSON on the ping socket.

- ``sessionid="abcdefgh\\000…"``: plain ASCII on the wire, a NUL byte once the quoted cookie's
  octal escape is read. Django's session store looked it up as it came, and PostgreSQL refuses
  NUL in text: every page, API call and socket handshake failed. Now it names no session
  (livemall/sessions): the request goes on as a visitor without one.
- ``/ws/ping/`` with JSON nested deeper than the parser goes: a ``RecursionError`` the consumer
  did not catch ended the socket with an error instead of an ``error`` event.

Real PostgreSQL and Redis, through Django's test client and Channels' WebsocketCommunicator.
"""

from __future__ import annotations

import json

import pytest
from channels.testing import WebsocketCommunicator

from livemall.asgi import application

# As a browser or a script may send them; each reads as a key holding a NUL byte.
NUL_SESSION_COOKIES = ['sessionid="abcdefgh\\000ijklmnop"', 'sessionid="\\000\\000\\000\\000\\000\\000\\000\\000"']


@pytest.mark.django_db
@pytest.mark.parametrize("cookie", NUL_SESSION_COOKIES)
@pytest.mark.parametrize("address", ["/", "/products/", "/api/v1/products/", "/cart/", "/accounts/login/"])
def test_a_session_cookie_with_a_nul_byte_is_no_session(client, cookie, address):
    response = client.get(address, HTTP_COOKIE=cookie)

    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("cookie", NUL_SESSION_COOKIES)
def test_a_session_cookie_with_a_nul_byte_gets_a_new_session_when_one_is_needed(client, cookie):
    response = client.post("/accounts/preferences/", {"language": "es"}, HTTP_COOKIE=cookie)

    assert response.status_code == 302
    assert "\x00" not in response.cookies["sessionid"].value
    assert client.session.get("livemall_language") == "es"


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("cookie", NUL_SESSION_COOKIES)
async def test_a_socket_with_a_nul_byte_in_its_session_cookie_opens_as_an_anonymous_one(cookie):
    headers = [(b"origin", b"http://127.0.0.1"), (b"cookie", cookie.encode())]
    communicator = WebsocketCommunicator(application, "/ws/ping/", headers=headers)

    connected, _ = await communicator.connect()

    assert connected
    assert await communicator.receive_json_from() == {"type": "hello", "region": "us-east"}
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from() == {"type": "pong"}
    await communicator.disconnect()


@pytest.mark.asyncio
@pytest.mark.parametrize("frame", ["[" * 100_000, '{"a": ' * 5000 + "1" + "}" * 5000])
async def test_json_nested_too_deeply_on_the_ping_socket_is_answered_with_an_error(frame):
    communicator = WebsocketCommunicator(application, "/ws/ping/", headers=[(b"origin", b"http://127.0.0.1")])
    assert (await communicator.connect())[0]
    await communicator.receive_json_from()  # hello

    await communicator.send_to(text_data=frame)

    assert (await communicator.receive_json_from())["type"] == "error"
    # The socket is still open: the next ping is answered.
    await communicator.send_to(text_data=json.dumps({"type": "ping"}))
    assert await communicator.receive_json_from() == {"type": "pong"}
    await communicator.disconnect()
