"""How an order's state and numbers read, decided in one place: the status and its refund as one
phrase (``selectors.order_status_words``) that My orders and the order's page both show, a
count in the confirmation mail in the digits of the mail's money (the order's language and
country, a mail having no request), and the refused mails staff see read by a selector.

Real PostgreSQL and Redis; payments with the labelled test provider; tasks run in the test's
process and mails land in Django's locmem outbox.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from apps.accounts import services as accounts
from apps.money import services as money
from apps.money.formatting import format_count, format_money
from apps.orders import selectors, services
from apps.orders.models import Order, RefundEmail
from tests.money.factories import todays_provider
from tests.orders.conftest import cart_with, checkout, page_text, shopper_for

pytestmark = pytest.mark.django_db

ENGLISH = {"Accept-Language": "en"}
ARABIC = {"Accept-Language": "ar"}
TIMES = "\u00d7"
ADDRESSES = {
    "SA": {"name": "Layla", "line1": "King Fahd Rd 1", "city": "Riyadh", "postal_code": "12211", "country": "SA"},
    "AE": {"name": "Aisha", "line1": "Sheikh Zayed Rd 1", "city": "Dubai", "country": "AE"},
}


def _paid(stocked, on_commit, slug: str, *, user, quantity: int = 1, country: str | None = None) -> Order:
    """An order of ``quantity`` 40.00 lamps by ``user``, paid with the test provider (its
    confirmation mail sent)."""
    address = ADDRESSES.get(country) if country else None
    order = checkout(
        cart_with(stocked(slug, 5, price_minor=4000), quantity, user=user, country=country),
        user=user,
        shopper=shopper_for(country=country),
        **({"address": address} if address else {}),
    )
    on_commit(services.order_pay, order=order)
    order = Order.objects.get(pk=order.pk)
    assert order.status == Order.Status.PAID
    return order


# --- 1: the status and its refund, said by one selector -------------------------------------------


@pytest.mark.parametrize(
    ("status", "refunded_minor", "words"),
    [
        (Order.Status.PAID, 0, "Paid"),
        (Order.Status.DELIVERED, 1000, "Delivered · partially refunded"),
        (Order.Status.CANCELLED, 8000, "Cancelled · refunded"),
        # The status says it all: no marker repeating it.
        (Order.Status.REFUNDED, 8000, "Refunded"),
    ],
)
def test_the_status_words_say_the_status_and_what_was_refunded_in_one_phrase(status, refunded_minor, words):
    order = Order(status=status, total_minor=8000, refunded_minor=refunded_minor)
    with translation.override("en"):
        assert selectors.order_status_words(order) == words


def test_my_orders_and_the_order_page_say_what_the_selector_says(
    client, use_region, stocked, make_user, operator, on_commit
):
    use_region("me-south")
    shopper = make_user(email="words-once@example.test")
    order = _paid(stocked, on_commit, "words-once", user=shopper)
    on_commit(services.order_refund, order=order, amount_minor=1000, actor=operator)
    order = Order.objects.get(pk=order.pk)
    client.force_login(shopper)

    for headers, language in ((ENGLISH, "en"), (ARABIC, "ar")):
        with translation.override(language):
            words = selectors.order_status_words(order)
        mine = client.get("/orders/", headers=headers)
        page = client.get(f"/orders/{order.reference}/", headers=headers)
        assert mine.wsgi_request.LANGUAGE_CODE == page.wsgi_request.LANGUAGE_CODE == language
        assert page_text(mine.content, "status") == page_text(page.content, "status") == words


def test_my_orders_takes_as_many_queries_for_five_orders_as_for_one(client, stocked, make_user, operator, on_commit):
    shopper = make_user(email="words-queries@example.test")
    first = _paid(stocked, on_commit, "words-queries-1", user=shopper)
    on_commit(services.order_refund, order=first, amount_minor=1000, actor=operator)
    client.force_login(shopper)
    client.get("/orders/", headers=ENGLISH)  # the header's cart count is cached once read
    with CaptureQueriesContext(connection) as one:
        page = client.get("/orders/", headers=ENGLISH)
    assert page.content.decode().count('data-testid="order-row"') == 1

    for n in range(2, 6):
        order = _paid(stocked, on_commit, f"words-queries-{n}", user=shopper)
        if n % 2:
            on_commit(services.order_refund, order=order, amount_minor=order.total_minor, actor=operator)
    client.get("/orders/", headers=ENGLISH)  # the cart count again: checking out emptied the cart
    with CaptureQueriesContext(connection) as five:
        page = client.get("/orders/", headers=ENGLISH)

    assert page.content.decode().count('data-testid="order-row"') == 5
    assert "Paid · partially refunded" in page.content.decode()
    assert len(five.captured_queries) == len(one.captured_queries)


# --- 2: counts in the confirmation mail, in the digits of its money ---------------------------


@pytest.fixture
def gulf_shopper(use_region, tmp_path):
    """``gulf_shopper(country)``: an Arabic-speaking shopper of that country in me-south, with
    today's rates (their prices are converted)."""
    region = use_region("me-south")
    money.fx_rates_update(provider=todays_provider(tmp_path / "rates.xml"))

    def make(country: str):
        return accounts.user_create(
            region=region,
            email=f"count-{country.lower()}@example.test",
            password="a-long-test-password",
            country=country,
            language="ar",
        )

    return make


def _confirmation(order: Order) -> str:
    (sent,) = [m for m in mail.outbox if order.reference in m.subject]
    return sent.body


@pytest.mark.parametrize(("country", "two"), [("SA", "\u0662"), ("AE", "2")])
def test_the_confirmation_mail_writes_a_count_in_the_digits_of_its_money(
    gulf_shopper, stocked, on_commit, country, two
):
    user = gulf_shopper(country)
    with translation.override("en"):  # the worker's language is not the shopper's
        order = _paid(stocked, on_commit, f"count-{country.lower()}", user=user, quantity=2, country=country)
    locale = f"ar_{country}"
    assert (order.language, order.country) == ("ar", country)

    body = _confirmation(order)

    assert format_count(2, locale) == two
    assert f"{two} {TIMES} {order.lines.get().product_name}\n" in body
    # The total beside it, as the mail writes money: the same digits.
    assert format_money(order.total_minor, order.currency, locale) in body


def test_an_english_confirmation_keeps_its_latin_count(stocked, make_user, on_commit):
    order = _paid(stocked, on_commit, "count-en", user=make_user(email="count-en@example.test"), quantity=2)
    assert f"2 {TIMES} {order.lines.get().product_name}\n" in _confirmation(order)


# --- 3: the refused mails, a read -------------------------------------------------------------


def test_the_refused_mails_are_read_by_a_selector_with_each_refund_in_the_staff_locale(stocked, make_user, on_commit):
    order = _paid(stocked, on_commit, "refused-read", user=make_user(email="refused-read@example.test"))
    refused_at = timezone.now() - dt.timedelta(hours=1)
    Order.objects.filter(pk=order.pk).update(
        confirmation_refused_at=refused_at, confirmation_refusal="550 no such mailbox"
    )
    RefundEmail.objects.create(
        order=order,
        refund_id=987_654,
        amount_minor=1000,
        currency=order.currency,
        refunded_minor=1000,
        refused_at=refused_at,
        refusal="550 no such mailbox",
    )
    order = Order.objects.get(pk=order.pk)
    refund_pk = RefundEmail.objects.get(order=order).pk

    with translation.override("en"):
        refused = selectors.order_emails_refused(order=order, locale="de_DE")

    amount = format_money(1000, order.currency, "de_DE")
    assert [(e.kind, e.name, e.refusal) for e in refused] == [
        ("confirmation", "Confirmation e-mail", "550 no such mailbox"),
        (f"refund-{refund_pk}", f"Refund e-mail ({amount})", "550 no such mailbox"),
    ]
    assert all(e.refused_at == refused_at for e in refused)
    # One place reads them: the services write.
    assert not hasattr(services, "order_emails_refused")
