"""A guest's orders join the account made or signed into in the same browser session when they
were placed with the account's e-mail (and only those: on a shared computer the session may hold
the previous guest's orders, which stay theirs and which the session forgets); quantities out of
bounds on the cart pages are refused with the service's message."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from apps.orders import services
from apps.orders.models import CartLine, Order, OrderEvent
from apps.orders.web import SESSION_ORDERS_KEY
from tests.orders.conftest import API_CHECKOUT, cart_with, checkout

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"
LAYLA = "layla@example.ae"


def _post_json(client: Client, url: str, data: dict, **headers):
    return client.post(url, data, content_type="application/json", headers=headers)


def _guest_order(client: Client, variant, key: str, email: str = LAYLA) -> Order:
    """An order placed by the anonymous shopper of ``client``'s session (this session remembers it)."""
    assert _post_json(client, "/api/v1/cart/lines", {"variant": variant.pk, "quantity": 1}).status_code == 201
    response = _post_json(client, "/api/v1/checkout", {**API_CHECKOUT, "email": email}, **{"Idempotency-Key": key})
    assert response.status_code == 201, response.content
    return Order.objects.get(reference=response.json()["reference"])


def _listed(client: Client) -> list[str]:
    return [row["order"].reference for row in client.get("/orders/").context["rows"]]


def _attached_events(order: Order) -> list[OrderEvent]:
    return [e for e in order.events.all() if e.from_status == e.to_status and e.actor_id is not None]


# --- 1. guest orders after sign-up / sign-in -----------------------------------------------------


def test_sign_up_takes_this_sessions_guest_orders_and_no_one_elses(stocked):
    variant = stocked("guest-scarf", 10)
    layla, stranger = Client(), Client()
    mine = _guest_order(layla, variant, "guest-layla-0001")
    # Someone else, in another browser, typed the same e-mail: that proves nothing.
    theirs = _guest_order(stranger, variant, "guest-stranger-0001")

    response = layla.post("/accounts/signup/", {"email": LAYLA, "password": PASSWORD, "display_name": "Layla"})
    assert response.status_code == 302, response.context["form"].errors if response.context else response

    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.user is not None and mine.user.email == LAYLA
    assert theirs.user is None
    assert _listed(layla) == [mine.reference]
    # The history says who took it, and when.
    [event] = _attached_events(mine)
    assert event.actor == mine.user and event.to_status == mine.status and event.note
    # The stranger still sees their own order, as a guest.
    assert stranger.get(f"/orders/{theirs.reference}/").status_code == 200
    assert layla.get(f"/orders/{theirs.reference}/").status_code == 404


def test_sign_in_takes_this_sessions_guest_orders(stocked, make_user):
    variant = stocked("guest-mug", 10)
    user = make_user(email=LAYLA, password=PASSWORD)
    client = Client()
    first = _guest_order(client, variant, "guest-omar-00001")
    second = _guest_order(client, variant, "guest-omar-00002")

    response = client.post("/accounts/login/", {"username": LAYLA, "password": PASSWORD})
    assert response.status_code == 302

    assert set(Order.objects.filter(user=user).values_list("reference", flat=True)) == {
        first.reference,
        second.reference,
    }
    assert sorted(_listed(client)) == sorted([first.reference, second.reference])
    assert client.get(f"/orders/{first.reference}/").status_code == 200


def test_an_order_of_another_account_is_never_moved(stocked, make_user):
    variant = stocked("guest-cup", 10)
    owner = make_user(email="owner@example.ae", password=PASSWORD)
    other = make_user(email="other@example.ae", password=PASSWORD)
    client = Client()
    assert client.login(email="owner@example.ae", password=PASSWORD)
    # Placed with the other account's e-mail: only its owner keeps it where it is.
    owned = _guest_order(client, variant, "guest-owned-0001", email="other@example.ae")
    assert owned.user == owner
    # The owner's reference still in a session (say, copied along) signed into by someone else.
    client.logout()
    session = client.session
    session[SESSION_ORDERS_KEY] = [owned.reference]
    session.save()

    response = client.post("/accounts/login/", {"username": "other@example.ae", "password": PASSWORD})
    assert response.status_code == 302

    owned.refresh_from_db()
    assert owned.user == owner and not other.orders.exists()
    assert _listed(client) == []
    assert not _attached_events(owned)
    assert client.session[SESSION_ORDERS_KEY] == []


def test_attaching_is_idempotent_and_asks_for_an_account(stocked, make_user):
    variant = stocked("guest-bowl", 10)
    client = Client()
    order = _guest_order(client, variant, "guest-idem-00001")
    user = make_user(email=LAYLA, password=PASSWORD)

    first = services.orders_attach_to_user(user=user, references=[order.reference])
    assert [o.pk for o in first.attached] == [order.pk] and first.kept == [order.reference]
    again = services.orders_attach_to_user(user=user, references=[order.reference])
    assert again.attached == [] and again.kept == [order.reference]
    assert len(_attached_events(order)) == 1
    # Junk from a session (not a list of references) attaches nothing, raises nothing, is not kept.
    junk = services.orders_attach_to_user(user=user, references=["", "LM-NOPE", 7])  # type: ignore[list-item]
    assert junk.attached == [] and junk.kept == []


def test_signing_in_twice_records_one_attachment(stocked, make_user):
    variant = stocked("guest-plate", 10)
    user = make_user(email=LAYLA, password=PASSWORD)
    client = Client()
    order = _guest_order(client, variant, "guest-twice-0001")
    assert client.login(email=LAYLA, password=PASSWORD)
    # Signed in again over the same session (the session still lists the order): nothing more.
    assert client.login(email=LAYLA, password=PASSWORD)
    assert order.reference in client.session[SESSION_ORDERS_KEY]
    order.refresh_from_db()
    assert order.user == user and len(_attached_events(order)) == 1


def _sign_up(client: Client, email: str):
    return client.post("/accounts/signup/", {"email": email, "password": PASSWORD, "display_name": "Layla"})


def _sign_in(client: Client, email: str):
    return client.post("/accounts/login/", {"username": email, "password": PASSWORD})


@pytest.mark.parametrize("arrive", [_sign_in, _sign_up], ids=["sign-in", "sign-up"])
def test_a_shared_computer_keeps_the_previous_guests_order_from_the_next_account(stocked, make_user, arrive):
    variant = stocked("guest-kiosk", 10)
    if arrive is _sign_in:
        make_user(email=LAYLA, password=PASSWORD)
    kiosk = Client()
    # A guest at the shop's kiosk buys and walks away; Layla then buys there and signs in.
    previous = _guest_order(kiosk, variant, "guest-kiosk-0001", email="previous.guest@example.ae")
    # Typed in capitals: still the account's e-mail, whose case the account does not keep.
    mine = _guest_order(kiosk, variant, "guest-kiosk-0002", email=LAYLA.upper())
    assert mine.email == LAYLA.upper()

    response = arrive(kiosk, LAYLA)
    assert response.status_code == 302, response.context["form"].errors if response.context else response

    mine.refresh_from_db()
    previous.refresh_from_db()
    assert mine.user is not None and mine.user.email == LAYLA
    assert len(_attached_events(mine)) == 1
    # The previous guest's order is not Layla's, and this session no longer opens it for her.
    assert previous.user is None and not _attached_events(previous)
    assert kiosk.session[SESSION_ORDERS_KEY] == [mine.reference]
    assert _listed(kiosk) == [mine.reference]
    assert [o["reference"] for o in kiosk.get("/api/v1/orders").json()] == [mine.reference]
    assert kiosk.get(f"/orders/{previous.reference}/").status_code == 404
    assert kiosk.get(f"/api/v1/orders/{previous.reference}").status_code == 404
    assert kiosk.get(f"/orders/{mine.reference}/").status_code == 200

    kiosk.post("/accounts/logout/")
    previous.refresh_from_db()
    assert previous.user is None
    assert kiosk.get(f"/orders/{previous.reference}/").status_code == 404


def test_a_guests_mail_says_which_account_keeps_the_order(stocked, on_commit):
    order = checkout(cart_with(stocked("guest-mail", 5)))
    on_commit(services.order_pay, order=order)

    (sent,) = [m for m in mail.outbox if m.subject == f"Your LiveMall order {order.reference}"]
    assert sent.to == [order.email]
    assert "sign in or create an account in that browser, with this e-mail address:" in sent.body


# --- 2. quantities out of bounds on the pages -----------------------------------------------------


@pytest.fixture
def ten_per_line(settings):
    settings.ORDERS_MAX_QUANTITY_PER_LINE = 10
    settings.ORDERS_MAX_UNITS_PER_ORDER = 30


def _messages(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def _lines(client: Client) -> dict[int, int]:
    return {line.variant_id: line.quantity for line in client.get("/cart/").context["review"].lines}


@pytest.mark.parametrize("quantity", [999, -3])
def test_product_page_add_out_of_bounds_says_what_the_api_says(client, stocked, ten_per_line, quantity):
    variant = stocked("guest-add", 50)
    client.post("/cart/add", {"variant": variant.pk, "quantity": 2}, follow=True)

    page = client.post("/cart/add", {"variant": variant.pk, "quantity": str(quantity)}, follow=True)
    api = _post_json(client, "/api/v1/cart/lines", {"variant": variant.pk, "quantity": quantity})

    assert page.status_code == 200 and api.status_code == 400
    assert _messages(page) == [("error", api.json()["error"]["message"])]
    assert api.json()["error"]["message"] == "Choose a quantity from 1 to 10."
    assert _lines(client) == {variant.pk: 2}


@pytest.mark.parametrize("quantity", [999, -3])
def test_cart_update_out_of_bounds_says_what_the_api_says(client, stocked, ten_per_line, quantity):
    variant = stocked("guest-set", 50)
    client.post("/cart/add", {"variant": variant.pk, "quantity": 2}, follow=True)

    page = client.post("/cart/update", {"variant": variant.pk, "quantity": str(quantity)}, follow=True)
    api = client.put(f"/api/v1/cart/lines/{variant.pk}", {"quantity": quantity}, content_type="application/json")

    assert page.status_code == 200 and api.status_code == 400
    assert _messages(page) == [("error", api.json()["error"]["message"])]
    assert api.json()["error"]["message"] == "Choose a quantity from 0 to 10."
    assert _lines(client) == {variant.pk: 2}


def test_adding_past_the_line_limit_says_how_many_are_already_in_the_cart(client, stocked, ten_per_line):
    variant = stocked("guest-more", 50)
    client.post("/cart/add", {"variant": variant.pk, "quantity": 8}, follow=True)

    # 5 is a fine quantity on its own: the message names the limit and what the cart holds.
    page = client.post("/cart/add", {"variant": variant.pk, "quantity": "5"}, follow=True)
    api = _post_json(client, "/api/v1/cart/lines", {"variant": variant.pk, "quantity": 5})

    assert api.status_code == 400 and api.json()["error"]["code"] == "invalid_quantity"
    expected = "You can buy at most 10 of this; your cart already has 8."
    assert api.json()["error"]["message"] == expected
    assert _messages(page) == [("error", expected)]
    assert CartLine.objects.get(variant=variant).quantity == 8
