"""The checkout's door (apps.orders.door): sold-out flash-sale buyers answered before Django.

Requests go through the whole ASGI application (``livemall.asgi.application``: door, then
Django in its worker thread) with real PostgreSQL and Redis; carts are made through the API
with Django's test client and its session cookie is sent with the checkout.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import uuid
from dataclasses import dataclass

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from channels.testing import HttpCommunicator
from django.conf import settings

from apps.orders import checkout_pass, door, gate, services
from apps.orders.models import Order
from apps.orders.selectors import available_units
from livemall.asgi import application
from tests.orders.conftest import API_CHECKOUT as CHECKOUT

pytestmark = pytest.mark.django_db(transaction=True)


def door_post(body: bytes | dict, *, key: str | None = None, cookie: str = "", language: str = "") -> dict:
    """POST /api/v1/checkout through the ASGI application; the response with ``json`` decoded."""
    headers = [(b"host", b"testserver"), (b"content-type", b"application/json")]
    if key is not None:
        headers.append((b"idempotency-key", key.encode()))
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    if language:
        headers.append((b"accept-language", language.encode()))
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers.append((b"content-length", str(len(raw)).encode()))

    async def run() -> dict:
        communicator = HttpCommunicator(application, "POST", "/api/v1/checkout", body=raw, headers=headers)
        response = await communicator.get_response(timeout=20)
        await communicator.wait(timeout=5)
        return response

    response = async_to_sync(run)()
    response["json"] = json.loads(response["body"])
    response["header"] = {name.decode(): value.decode() for name, value in response["headers"]}
    return response


@dataclass
class Buyer:
    cookie: str  # the Cookie header's value
    checkout_pass: str  # as the cart API gave it


def buyer_with_cart(client, variant, quantity: int = 1) -> Buyer:
    """A shopper's session with ``quantity`` of ``variant`` in the cart, made through the cart API."""
    r = client.post(
        "/api/v1/cart/lines", {"variant": variant.pk, "quantity": quantity}, content_type="application/json"
    )
    assert r.status_code == 201, r.json()
    return Buyer(f"sessionid={client.cookies['sessionid'].value}", r.json()["checkout_pass"])


def lines(variant, quantity: int = 1, buyer: Buyer | None = None) -> dict:
    """A checkout body naming ``quantity`` of ``variant``, with ``buyer``'s checkout pass."""
    named = {**CHECKOUT, "expected_lines": [{"variant": variant.pk, "quantity": quantity}]}
    return {**named, "checkout_pass": buyer.checkout_pass} if buyer else named


def admitted_at_the_door(key: str) -> bool:
    """Whether the door took units for the checkout with this Idempotency-Key (it remembers only those)."""
    return gate.client().exists(f"{gate._prefix()}:door:{key}") == 1


def stand_in_buyer(i: int, variant, quantity: int = 1) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Headers (session cookie, Idempotency-Key) and body of buyer ``i``'s checkout, with a pass
    for its session; for a door in front of a stand-in for Django, which reads no session."""
    session_key = f"door-session-{variant.pk}-{i:04d}"
    body = {
        **lines(variant, quantity),
        "checkout_pass": checkout_pass.issue(session_key, {variant.pk: quantity}),
    }
    headers = [
        (b"idempotency-key", f"door-{variant.pk}-{i:04d}".encode()),
        (b"cookie", f"sessionid={session_key}".encode()),
    ]
    return headers, json.dumps(body).encode()


def test_sold_out_buyers_are_answered_at_the_door_in_their_language(stocked):
    variant = stocked("door-gone", 0)
    services.flash_sale_open(variant_id=variant.pk)
    # No session and no cart: Django would answer "cart_changed"; "sold_out" comes from the door.
    r = door_post(lines(variant), key=f"door-{uuid.uuid4().hex}", language="es-MX,es;q=0.9")
    assert r["status"] == 409
    assert r["json"] == {"error": {"code": "sold_out", "message": "Lo sentimos, está agotado.", "fields": {}}}
    assert r["header"]["content-language"] == "es" and r["header"]["cache-control"] == "no-store"
    assert gate.counts(variant.pk) == (0, 0)


def test_the_door_admits_exactly_the_units_and_the_checkout_claims_them(client, stocked, django_user_model):
    variant = stocked("door-one", 1, price_minor=1200)
    services.flash_sale_open(variant_id=variant.pk)
    winner = buyer_with_cart(client, variant)
    client.cookies.clear()
    loser = buyer_with_cart(client, variant)

    r = door_post(lines(variant, buyer=winner), key="door-winner-0001", cookie=winner.cookie)
    assert r["status"] == 201, r["json"]
    assert admitted_at_the_door("door-winner-0001")
    reference = r["json"]["reference"]
    # Claimed by the checkout and settled once: nothing left, nothing in flight, one held unit.
    assert gate.counts(variant.pk) == (0, 0)
    assert available_units([variant.pk])[variant.pk] == 0

    r = door_post(lines(variant, buyer=loser), key="door-loser-0001", cookie=loser.cookie)
    assert r["status"] == 409 and r["json"]["error"]["code"] == "sold_out"
    # The winner's retried submit is not "sold out": the key passes the door, the same order comes back.
    r = door_post(lines(variant, buyer=winner), key="door-winner-0001", cookie=winner.cookie)
    assert r["status"] == 200 and r["json"]["reference"] == reference
    assert Order.objects.count() == 1 and gate.counts(variant.pk) == (0, 0)


def test_units_the_checkout_does_not_claim_go_back_to_the_gate(client, stocked):
    variant = stocked("door-back", 3)
    services.flash_sale_open(variant_id=variant.pk)
    page = buyer_with_cart(client, variant, quantity=1)
    # Another tab adds a second unit after the checkout page (and its pass) showed one.
    buyer = buyer_with_cart(client, variant, quantity=1)
    assert buyer.cookie == page.cookie and buyer.checkout_pass != page.checkout_pass

    # The page's unit is admitted at the door, then refused by the checkout: units given back.
    r = door_post(lines(variant, 1, page), key="door-changed-01", cookie=page.cookie)
    assert r["status"] == 409 and r["json"]["error"]["code"] == "cart_changed"
    assert admitted_at_the_door("door-changed-01")
    assert r["json"]["error"]["fields"] == {"expected_lines": [f"{variant.pk}:2"]}
    assert gate.counts(variant.pk) == (3, 0)

    # Refused by Django before the checkout runs (no e-mail): given back too.
    r = door_post({**lines(variant, 2, buyer), "email": ""}, key="door-invalid-01", cookie=buyer.cookie)
    assert r["status"] == 400 and r["json"]["error"]["code"] == "invalid"
    assert admitted_at_the_door("door-invalid-01")
    assert gate.counts(variant.pk) == (3, 0)

    # The same key again: the door remembers it and lets the checkout decide (it admits itself).
    r = door_post(lines(variant, 2, buyer), key="door-invalid-01", cookie=buyer.cookie)
    assert r["status"] == 201, r["json"]
    assert gate.counts(variant.pk) == (1, 0) and Order.objects.count() == 1


def test_checkouts_the_door_cannot_judge_go_to_django_unchanged(client, stocked):
    variant = stocked("door-pass", 2)
    services.flash_sale_open(variant_id=variant.pk)
    cookie = buyer_with_cart(client, variant).cookie

    r = door_post(b"{not json", key="door-pass-0001", cookie=cookie)
    assert r["status"] == 400 and r["json"]["error"]["code"] == "parse_error"
    bad_lines = {**CHECKOUT, "expected_lines": [{"variant": variant.pk, "quantity": 0}]}
    r = door_post(bad_lines, key="door-pass-0002", cookie=cookie)
    assert r["status"] == 400 and "expected_lines" in r["json"]["error"]["fields"]
    r = door_post(lines(variant), key="no", cookie=cookie)
    assert r["status"] == 400 and r["json"]["error"]["code"] == "invalid_idempotency_key"
    assert gate.counts(variant.pk) == (2, 0) and Order.objects.count() == 0

    # Without expected_lines the checkout meets the gate itself, as before the door.
    r = door_post(CHECKOUT, key="door-pass-0003", cookie=cookie)
    assert r["status"] == 201, r["json"]
    assert gate.counts(variant.pk) == (1, 0)


def test_a_body_nested_too_deeply_for_the_door_goes_to_django_which_refuses_it(client, stocked):
    """10 kB of "[" (under the door's 16 kB): the door's own JSON parse gives up, and Django's parser
    answers it as a parse_error, not a 500."""
    deep = b"[" * 5_000 + b"]" * 5_000
    r = door_post(deep, key="door-deep-0001")
    assert r["status"] == 400 and r["json"]["error"]["code"] == "parse_error"


def test_without_an_open_gate_the_door_stays_out_of_the_way(client, stocked):
    variant = stocked("door-nogate", 1)
    buyer = buyer_with_cart(client, variant)
    r = door_post(lines(variant, buyer=buyer), key="door-nogate-01", cookie=buyer.cookie)
    assert r["status"] == 201, r["json"]
    assert gate.counts(variant.pk) == (None, 0)


def test_an_admission_is_settled_once_whoever_comes_first():
    claimed = gate.DoorAdmission(wanted={7: 1})
    assert claimed.claim({7: 1}) and not claimed.give_up()
    given_back = gate.DoorAdmission(wanted={7: 1})
    assert given_back.give_up() and not given_back.claim({7: 1})
    assert not gate.DoorAdmission(wanted={7: 1}).claim({7: 2})


def test_admitted_checkouts_enter_django_a_few_at_a_time(settings, stocked):
    """The sold-out crowd is answered in the event loop; admitted checkouts queue there too, not as threads."""
    settings.FLASH_SALE_CHECKOUTS_AT_ONCE = 2
    variant = stocked("door-slots", 5)
    services.flash_sale_open(variant_id=variant.pk)
    running, most = 0, 0

    async def checkout_in_django(scope, receive, send) -> None:
        # Stands in for Django: holds its slot a moment, then answers as the checkout would.
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05)
        running -= 1
        assert scope[door.ADMISSION].claim(scope[door.ADMISSION].wanted)
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    front = door.CheckoutDoor(checkout_in_django)

    async def buyer(i: int) -> int:
        headers, body = stand_in_buyer(i, variant)
        communicator = HttpCommunicator(front, "POST", "/api/v1/checkout", body=body, headers=headers)
        return (await communicator.get_response(timeout=10))["status"]

    async def crowd() -> list[int]:
        return await asyncio.gather(*(buyer(i) for i in range(8)))

    statuses = async_to_sync(crowd)()
    assert sorted(statuses) == [201] * 5 + [409] * 3
    assert most == 2
    # Claimed units are the checkout's to settle; the door gave none back.
    assert gate.counts(variant.pk) == (0, 5)


def _note_script_calls(calls: list[tuple[str, int]]) -> None:
    """From inside the event loop: note each script call its door queue makes, ("sent", admissions)
    then ("answered", admissions), in ``calls``."""
    queue = gate._async_client()[1]
    send = queue._send

    async def noted(batch):
        calls.append(("sent", len(batch)))
        await send(batch)
        calls.append(("answered", len(batch)))

    queue._send = noted


def test_a_crowd_at_the_door_is_admitted_in_one_round_trip_exactly_to_the_units(stocked):
    """300 buyers asking in the same turn of the event loop: one script call to Redis, 10 admitted."""
    variant = stocked("door-batch", 10)
    services.flash_sale_open(variant_id=variant.pk)
    calls: list[tuple[str, int]] = []

    async def crowd() -> list:
        _note_script_calls(calls)
        return await asyncio.gather(
            *(gate.door_admit(f"door-batch-{i:04d}", {variant.pk: 1}, shopper=f"s{i}") for i in range(300))
        )

    answers = async_to_sync(crowd)()
    assert calls == [("sent", 300), ("answered", 300)]
    assert sum(isinstance(a, gate.DoorAdmission) for a in answers) == 10
    assert answers.count(False) == 290
    assert gate.counts(variant.pk) == (0, 10)


def test_units_admitted_for_a_buyer_who_left_go_back_to_the_gate(stocked):
    variant = stocked("door-left", 5)
    services.flash_sale_open(variant_id=variant.pk)

    async def leave_while_queued() -> None:
        asking = asyncio.ensure_future(gate.door_admit("door-left-0001", {variant.pk: 2}, shopper="left"))
        await asyncio.sleep(0)  # the ask is queued; the buyer's request is cancelled before Redis answers
        asking.cancel()
        queue = gate._async_client()[1]
        while queue.waiting or queue.sender:
            await asyncio.sleep(0.01)

    async_to_sync(leave_while_queued)()
    assert gate.counts(variant.pk) == (5, 0)
    # The script did run (its key is remembered), so the units were taken and then given back.
    assert gate.client().exists(f"{gate._prefix()}:door:door-left-0001") == 1
    # And the shopper's next checkout may be admitted at the door again.
    assert gate.client().keys(f"{gate._prefix()}:door-shopper:*") == []


def _through_the_door(requests: list[tuple[list, bytes]], *, hold: float = 0.0) -> list[tuple[bool, tuple]]:
    """Each (headers, body) POSTed at once through a door whose stand-in Django holds each checkout
    ``hold`` seconds; per request: whether the door had units for it, and the gate's counts then."""
    seen: list[tuple[bool, tuple]] = [None] * len(requests)  # type: ignore[list-item]

    async def checkout_in_django(scope, receive, send) -> None:
        i = int(dict(scope["headers"])[b"x-request"])
        admission = scope.get(door.ADMISSION)
        seen[i] = (admission is not None, gate.counts(variant_of_the_sale))
        await asyncio.sleep(hold)
        await send({"type": "http.response.start", "status": 409, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    front = door.CheckoutDoor(checkout_in_django)
    variant_of_the_sale = json.loads(requests[0][1])["expected_lines"][0]["variant"]

    async def one(i: int, headers: list, body: bytes) -> None:
        headers = [*headers, (b"x-request", str(i).encode())]
        await HttpCommunicator(front, "POST", "/api/v1/checkout", body=body, headers=headers).get_response(timeout=10)

    async def together() -> None:
        await asyncio.gather(*(one(i, headers, body) for i, (headers, body) in enumerate(requests)))

    async_to_sync(together)()
    return seen


def test_the_door_takes_units_only_for_a_session_whose_pass_names_the_lines(stocked):
    variant = stocked("door-passes", 2)
    services.flash_sale_open(variant_id=variant.pk)
    headers, body = stand_in_buyer(0, variant)
    valid = json.loads(body)["checkout_pass"]
    other_session_pass = checkout_pass.issue("someone-else", {variant.pk: 1})
    two_units_pass = checkout_pass.issue(f"door-session-{variant.pk}-0000", {variant.pk: 2})

    def sent(i: int, token) -> tuple[list, bytes]:
        named = {**json.loads(body), "checkout_pass": token}
        if token is None:
            del named["checkout_pass"]
        return [(b"idempotency-key", f"door-passes-{i}".encode()), headers[1]], json.dumps(named).encode()

    refused = [
        sent(1, None),
        sent(2, other_session_pass),
        sent(3, two_units_pass),
        sent(4, valid[:-1] + "x"),
        sent(5, 7),
        sent(6, "²:x"),  # a digit to isdigit(), not to int()
        sent(7, "9999999999:\ud800"),  # a lone surrogate, which JSON allows
    ]
    # Each goes to the checkout with no units taken for it: a made-up session cannot hold the sale.
    assert _through_the_door(refused) == [(False, (2, 0))] * 7
    # Without the session cookie the pass is worth nothing either.
    assert _through_the_door([([headers[0]], body)]) == [(False, (2, 0))]
    assert _through_the_door([(headers, body)]) == [(True, (1, 1))]
    assert gate.counts(variant.pk) == (2, 0)  # the stand-in refused it: given back


def test_without_a_shopper_the_gate_takes_nothing_and_still_says_sold_out(stocked):
    variant, gone = stocked("door-no-shopper", 1), stocked("door-no-shopper-gone", 0)
    services.flash_sale_open(variant_id=variant.pk)
    services.flash_sale_open(variant_id=gone.pk)

    async def ask() -> list:
        return [
            await gate.door_admit("door-no-shopper-1", {variant.pk: 1}),
            await gate.door_admit("door-no-shopper-2", {gone.pk: 1}),
        ]

    assert async_to_sync(ask)() == [None, False]
    assert gate.counts(variant.pk) == (1, 0)
    # Nothing taken, nothing remembered: the same key may still be admitted with its shopper.
    admission = async_to_sync(gate.door_admit)("door-no-shopper-1", {variant.pk: 1}, shopper="a-session")
    assert isinstance(admission, gate.DoorAdmission) and gate.counts(variant.pk) == (0, 1)


def test_a_checkout_that_outlived_its_hold_does_not_release_the_next_ones(stocked):
    variant = stocked("door-hold", 5)
    services.flash_sale_open(variant_id=variant.pk)

    async def two_checkouts_of_one_session() -> tuple:
        first = await gate.door_admit("door-hold-first", {variant.pk: 1}, shopper="one-session")
        gate.client().delete(first.shopper_key)  # its hold expired while it waited in the door's queue
        second = await gate.door_admit("door-hold-second", {variant.pk: 1}, shopper="one-session")
        await gate.door_give_back(first)  # the first checkout's request is over
        third = await gate.door_admit("door-hold-third", {variant.pk: 1}, shopper="one-session")
        held_by = gate.client().get(second.shopper_key)
        await gate.door_give_back(second)
        return second, third, held_by

    second, third, held_by = async_to_sync(two_checkouts_of_one_session)()
    assert isinstance(second, gate.DoorAdmission) and held_by == second.id.encode()
    assert third is None  # the second still held the session's turn at the door
    assert gate.client().exists(second.shopper_key) == 0 and gate.counts(variant.pk) == (5, 0)


def test_a_session_holds_units_at_the_door_for_one_checkout_at_a_time(stocked):
    variant = stocked("door-one-each", 10)
    services.flash_sale_open(variant_id=variant.pk)
    headers, body = stand_in_buyer(0, variant)
    same_session = [([(b"idempotency-key", f"door-each-{i:02d}".encode()), headers[1]], body) for i in range(5)]

    seen = _through_the_door(same_session, hold=0.05)
    # One of the five took a unit at the door; the others go to the checkout, which reads the cart.
    assert sorted(admitted for admitted, _counts in seen) == [False] * 4 + [True]
    assert gate.counts(variant.pk) == (10, 0)
    assert gate.client().keys(f"{gate._prefix()}:door-shopper:*") == []
    # Once that checkout is over, the session's next one may take units at the door again.
    again = [([(b"idempotency-key", b"door-each-again"), headers[1]], body)]
    assert _through_the_door(again) == [(True, (9, 1))]


def test_one_script_call_answers_each_admission_of_a_turn_as_if_asked_alone(stocked):
    """All or nothing per checkout, in arrival order; a retried key and ungated lines left to the checkout."""
    shirt, cap, mug = stocked("door-mix-shirt", 3), stocked("door-mix-cap", 1), stocked("door-mix-mug", 5)
    services.flash_sale_open(variant_id=shirt.pk)
    services.flash_sale_open(variant_id=cap.pk)
    calls: list[tuple[str, int]] = []

    async def one_turn() -> list:
        _note_script_calls(calls)
        asks = [
            ("door-mix-01", {shirt.pk: 2, cap.pk: 1}),  # both gated: admitted
            ("door-mix-02", {shirt.pk: 2}),  # one shirt left: refused, nothing taken
            ("door-mix-03", {shirt.pk: 1, mug.pk: 4}),  # the mug has no gate: only the shirt is admitted
            ("door-mix-01", {cap.pk: 1}),  # the first key again: the checkout decides
            ("door-mix-04", {mug.pk: 1}),  # nothing gated
            ("door-mix-05", {cap.pk: 1, shirt.pk: 1}),  # the cap is gone: refused, the shirt untouched
        ]
        return await asyncio.gather(*(gate.door_admit(key, wanted, shopper=key) for key, wanted in asks))

    answers = async_to_sync(one_turn)()
    assert calls == [("sent", 6), ("answered", 6)]
    assert answers[0].wanted == {shirt.pk: 2, cap.pk: 1}
    assert answers[1] is False
    assert answers[2].wanted == {shirt.pk: 1}
    assert answers[3] is None and answers[4] is None
    assert answers[5] is False
    assert gate.counts(shirt.pk) == (0, 3) and gate.counts(cap.pk) == (0, 1) and gate.counts(mug.pk) == (None, 0)
    assert sorted(gate.admissions_in_flight(shirt.pk)) == [answers[0].id, answers[2].id]


def test_a_crowd_naming_the_same_lines_is_answered_buyer_by_buyer(stocked):
    """Consecutive asks for the same lines go to Redis as one run (the lines once, each buyer's keys):
    each is still judged alone, in arrival order, with or without a shopper, and a retried key in a run."""
    shirt, cap = stocked("door-run-shirt", 4), stocked("door-run-cap", 1)
    services.flash_sale_open(variant_id=shirt.pk)
    services.flash_sale_open(variant_id=cap.pk)
    calls: list[tuple[str, int]] = []

    async def one_turn() -> list:
        _note_script_calls(calls)
        asks = [
            ("door-run-01", {shirt.pk: 1}, "a"),  # admitted
            ("door-run-02", {shirt.pk: 1}, ""),  # units left, but no pass: the checkout decides
            ("door-run-03", {shirt.pk: 1}, "c"),  # admitted
            ("door-run-01", {shirt.pk: 1}, "z"),  # the first key again, in the same run: the checkout decides
            ("door-run-04", {shirt.pk: 1, cap.pk: 1}, "d"),  # a run of its own: admitted, the cap is gone
            ("door-run-05", {shirt.pk: 1}, "e"),  # the last shirt
            ("door-run-06", {shirt.pk: 1}, "f"),  # sold out
            ("door-run-07", {cap.pk: 1}, "g"),  # sold out
            ("door-run-08", {shirt.pk: 1}, ""),  # sold out, said without a pass too
        ]
        return await asyncio.gather(*(gate.door_admit(key, wanted, shopper=who) for key, wanted, who in asks))

    answers = async_to_sync(one_turn)()
    assert calls == [("sent", 9), ("answered", 9)]
    admitted = {i: a.wanted for i, a in enumerate(answers) if isinstance(a, gate.DoorAdmission)}
    assert admitted == {0: {shirt.pk: 1}, 2: {shirt.pk: 1}, 4: {shirt.pk: 1, cap.pk: 1}, 5: {shirt.pk: 1}}
    assert answers[1] is None and answers[3] is None
    assert answers[6] is False and answers[7] is False and answers[8] is False
    assert gate.counts(shirt.pk) == (0, 4) and gate.counts(cap.pk) == (0, 1)
    # Only admitted checkouts hold their shopper's key, each with its own door key.
    for i, who in ((0, "a"), (2, "c"), (4, "d"), (5, "e")):
        assert answers[i].shopper_key.endswith(hashlib.sha256(who.encode()).hexdigest())
        assert gate.client().get(answers[i].shopper_key).decode() == answers[i].id
    assert not gate.client().keys("*door-shopper:" + hashlib.sha256(b"f").hexdigest())


def test_asks_made_while_a_call_is_out_go_together_in_the_next(stocked):
    """One call at a time per event loop: a second at once would need a new connection mid-crowd."""
    variant = stocked("door-next", 10)
    services.flash_sale_open(variant_id=variant.pk)
    calls: list[tuple[str, int]] = []

    async def two_waves() -> list:
        _note_script_calls(calls)
        first = asyncio.ensure_future(gate.door_admit("door-next-first", {variant.pk: 1}, shopper="first"))
        await asyncio.sleep(0)  # the first call is sent and waits for Redis
        crowd = [gate.door_admit(f"door-next-{i:03d}", {variant.pk: 1}, shopper=f"s{i}") for i in range(30)]
        return [await first, *await asyncio.gather(*crowd)]

    answers = async_to_sync(two_waves)()
    assert calls == [("sent", 1), ("answered", 1), ("sent", 30), ("answered", 30)]
    assert isinstance(answers[0], gate.DoorAdmission)
    assert sum(isinstance(a, gate.DoorAdmission) for a in answers) == 10 and answers.count(False) == 21


def _crowd_at_the_door(variant, buyers: int, *, together: int = 1, every: float = 0.0) -> list[tuple[str, float]]:
    """``buyers`` checkouts through a door whose Django only notes when a checkout reaches it: the
    first ``together`` at once, the others ``every`` seconds apart. Returns the events ("arrives" / "django" / "sold out") in the order
    they happened."""
    events: list[tuple[str, float]] = []

    async def checkout_in_django(scope, receive, send) -> None:
        events.append(("django", asyncio.get_running_loop().time()))
        assert scope[door.ADMISSION].claim(scope[door.ADMISSION].wanted)
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    front = door.CheckoutDoor(checkout_in_django)

    async def buyer(i: int) -> None:
        await asyncio.sleep(max(0, i - together + 1) * every)
        events.append(("arrives", asyncio.get_running_loop().time()))
        headers, body = stand_in_buyer(i, variant)
        response = await HttpCommunicator(front, "POST", "/api/v1/checkout", body=body, headers=headers).get_response(
            timeout=10
        )
        if response["status"] == 409:
            events.append(("sold out", asyncio.get_running_loop().time()))

    async def crowd() -> None:
        await asyncio.gather(*(buyer(i) for i in range(buyers)))

    async_to_sync(crowd)()
    return events


def test_an_admitted_checkout_waits_for_the_crowd_behind_it_to_be_answered(settings, stocked):
    settings.FLASH_SALE_CROWD_QUIET_MS, settings.FLASH_SALE_CROWD_WAIT_MAX_MS = 50, 1000
    variant = stocked("door-crowd", 1)
    services.flash_sale_open(variant_id=variant.pk)
    # Twenty buyers press "Buy" together: the first wins, the winner's checkout goes in last.
    events = _crowd_at_the_door(variant, 20, together=20)
    kinds = [kind for kind, _at in events]
    assert kinds.count("django") == 1 and kinds.count("sold out") == 19
    assert kinds[-1] == "django"


def test_a_crowd_that_keeps_coming_holds_an_admitted_checkout_only_so_long(settings, stocked):
    settings.FLASH_SALE_CROWD_QUIET_MS, settings.FLASH_SALE_CROWD_WAIT_MAX_MS = 50, 100
    variant = stocked("door-trickle", 1)
    services.flash_sale_open(variant_id=variant.pk)
    # A crowd of five, then a refused buyer every 20 ms for 0.5 s: never 50 ms without a refusal,
    # so the winner goes in at the bound, before the stream ends.
    kinds = [kind for kind, _at in _crowd_at_the_door(variant, 30, together=5, every=0.02)]
    assert kinds.count("django") == 1
    last_arrival = len(kinds) - 1 - kinds[::-1].index("arrives")
    assert kinds.index("sold out") < kinds.index("django") < last_arrival


def test_while_units_last_buyers_go_in_without_waiting_for_each_other(settings, stocked):
    settings.FLASH_SALE_CROWD_QUIET_MS, settings.FLASH_SALE_CROWD_WAIT_MAX_MS = 50, 1000
    variant = stocked("door-stream", 5)
    services.flash_sale_open(variant_id=variant.pk)
    # Five buyers 20 ms apart, a unit for each: nobody is refused, nobody waits for the next one.
    kinds = [kind for kind, _at in _crowd_at_the_door(variant, 5, every=0.02)]
    assert kinds == ["arrives", "django"] * 5


def test_the_door_makes_its_answers_when_the_server_starts():
    door._sold_out_answer.cache_clear()
    door._checkout_path.cache_clear()
    _lifespan("lifespan.startup", "lifespan.shutdown")
    assert door._sold_out_answer.cache_info().currsize == len(settings.REGION.languages)
    assert door._checkout_path.cache_info().currsize == 1


def _lifespan(*messages: str) -> list[str]:
    """The server's lifespan messages through the whole ASGI application; the answers' types."""

    async def run() -> list[str]:
        communicator = ApplicationCommunicator(application, {"type": "lifespan", "asgi": {"version": "3.0"}})
        answers = []
        for message in messages:
            await communicator.send_input({"type": message})
            answers.append((await communicator.receive_output(timeout=10))["type"])
        await communicator.wait(timeout=5)
        return answers

    return async_to_sync(run)()


@pytest.fixture(autouse=True)
def collector_restored():
    """The lifespan freezes what the process holds; a test process is no server: undo it after."""
    yield
    gc.unfreeze()


def test_the_server_start_sets_its_long_lived_objects_aside_from_the_collector():
    gc.unfreeze()
    made_before_start = [settings.REGION]
    assert any(o is made_before_start for o in gc.get_objects())
    _lifespan("lifespan.startup", "lifespan.shutdown")
    # No collection walks them again: they are in no generation, the permanent one holds them.
    assert not any(o is made_before_start for o in gc.get_objects())
    assert gc.get_freeze_count() > 10_000


def test_the_server_start_loads_the_door_script_into_redis():
    redis_client = gate.client()
    redis_client.script_flush()
    sha = hashlib.sha1(gate._DOOR_ADMIT.encode(), usedforsecurity=False).hexdigest()
    assert redis_client.script_exists(sha) == [False]
    assert _lifespan("lifespan.startup", "lifespan.shutdown") == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert redis_client.script_exists(sha) == [True]


def test_the_server_starts_when_redis_is_down(settings, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    assert _lifespan("lifespan.startup", "lifespan.shutdown") == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
    assert "could not prepare" in caplog.text
