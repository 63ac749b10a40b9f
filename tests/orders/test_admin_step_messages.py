"""The order admin's step messages: what each step did, errors without field names, amounts as money
in the order's currency and the staff member's locale, and refund amounts read as they write numbers."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse

from apps.money.formatting import format_money
from apps.orders import services
from apps.orders.models import Order
from apps.payments.models import Payment
from tests.orders.conftest import cart_with, checkout

pytestmark = pytest.mark.django_db


def _step(client, order: Order, step: str, **data):
    return client.post(reverse("admin:orders_order_step", args=[order.pk, step]), data, follow=True)


def _messages(page) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in page.context["messages"]]


def _paid(stocked, on_commit, slug: str, *, units: int = 1, country: str | None = None) -> Order:
    order = checkout(cart_with(stocked(slug, 5, price_minor=4000), units, country=country), country=country)
    on_commit(services.order_pay, order=order)
    return Order.objects.get(pk=order.pk)


@pytest.fixture
def paid_order(stocked, on_commit):
    return _paid(stocked, on_commit, "msg-lamp", units=2)


def test_a_refund_says_how_much_went_back_and_how_much_in_all(client, operator, paid_order, on_commit):
    client.force_login(operator)

    page = on_commit(_step, client, paid_order, "refund", amount="18.50")
    assert _messages(page) == [("success", "Refunded $18.50 (in all $18.50 refunded).")]
    page = on_commit(_step, client, paid_order, "refund", amount="18.50")
    assert _messages(page) == [("success", "Refunded $18.50 (in all $37.00 refunded).")]

    page = on_commit(_step, client, paid_order, "refund", amount="")
    paid_order.refresh_from_db()
    rest = format_money(paid_order.total_minor - 3700, "USD", "en_US")
    total = format_money(paid_order.total_minor, "USD", "en_US")
    # The order hears of the refund once it has committed (after this message in a test's transaction).
    [(level, text)] = _messages(page)
    assert level == "success" and text.startswith(f"Refunded {rest} (in all {total} refunded).")
    assert paid_order.status == Order.Status.REFUNDED


def test_more_than_can_be_refunded_is_said_in_money_without_field_names(client, operator, paid_order, on_commit):
    client.force_login(operator)
    on_commit(_step, client, paid_order, "refund", amount="10")
    left = paid_order.total_minor - 1000

    # "1,000" is a thousand dollars as an English speaker writes it: read so, and refused as too much.
    page = on_commit(_step, client, paid_order, "refund", amount="1,000")

    [(level, text)] = _messages(page)
    assert level == "error"
    assert text == f"That is more than can be refunded. At most {format_money(left, 'USD', 'en_US')} can be refunded."
    assert text.endswith(f"${left // 100}.{left % 100:02d} can be refunded.")
    assert "amount_minor" not in text and str(left) not in text.replace(",", "")
    assert not Payment.objects.get().refunds.exclude(amount_minor=1000).exists()


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("abc", "“abc” is not an amount: write it like 1,234.50."),
        ("NaN", "“NaN” is not an amount: write it like 1,234.50."),
        ("1e5", "“1e5” is not an amount: write it like 1,234.50."),
        ("18,50", "“18,50” could be read more than one way: write the amount like 1,234.50."),
        (
            "1.000",
            "“1.000” could be read more than one way: USD amounts have at most 2 decimals; write it like 1,234.50.",
        ),
        ("-5", "Enter an amount above zero, like 1,234.50."),
        ("0", "Enter an amount above zero, like 1,234.50."),
    ],
)
def test_an_amount_that_is_not_one_or_could_be_read_two_ways_is_refused(
    client, operator, paid_order, on_commit, typed, said
):
    client.force_login(operator)

    page = on_commit(_step, client, paid_order, "refund", amount=typed)

    assert _messages(page) == [("error", said)]
    paid_order.refresh_from_db()
    assert paid_order.refunded_minor == 0 and not Payment.objects.get().refunds.exists()


def test_step_errors_name_no_fields(client, operator, paid_order):
    client.force_login(operator)
    _step(client, paid_order, "fulfil")
    (parcel,) = paid_order.shipments.all()

    assert _messages(_step(client, paid_order, "ship")) == [("error", "Enter the tracking number.")]
    assert _messages(_step(client, paid_order, "ship", **{f"tracking-{parcel.pk}": "   "})) == [
        ("error", "Enter the tracking number.")
    ]
    assert _messages(_step(client, paid_order, "teleport")) == [
        ("error", "Unknown step; valid steps: fulfil, ship, deliver, cancel, refund.")
    ]


def test_the_refund_form_shows_the_currency_and_the_most_that_can_be_refunded(client, operator, paid_order):
    client.force_login(operator)

    page = client.get(reverse("admin:orders_order_change", args=[paid_order.pk]))

    html = page.content.decode()
    most = format_money(paid_order.total_minor, "USD", "en_US")
    assert "Amount to refund, in USD" in html
    assert (
        f"At most {most} can be refunded; leave it blank to refund all of it. Write the amount like 1,234.50." in html
    )
    assert 'placeholder="1,234.50"' in html


def test_a_german_operator_types_amounts_the_german_way(client, operator, use_region, stocked, on_commit):
    use_region("eu-west")
    order = _paid(stocked, on_commit, "msg-lampe", units=2, country="DE")
    assert order.currency == settings.REGION.currencies[0] == "EUR"
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    client.force_login(operator)

    page = client.get(reverse("admin:orders_order_change", args=[order.pk]))
    locale = page.wsgi_request.shopper.locale
    assert locale.startswith("de")
    assert 'placeholder="1.234,50"' in page.content.decode()
    assert format_money(order.total_minor, "EUR", locale) in page.content.decode()

    # "18.50" is eighteen-fifty in English, one thousand eight hundred and fifty misgrouped in German: refused.
    page = on_commit(_step, client, order, "refund", amount="18.50")
    assert _messages(page) == [("error", "„18.50“ ist mehrdeutig: Schreiben Sie den Betrag z. B. so: 1.234,50.")]
    page = on_commit(_step, client, order, "refund", amount="18,50")

    order.refresh_from_db()
    assert order.refunded_minor == 1850
    amount = format_money(1850, "EUR", locale)
    assert "18,50" in amount
    assert _messages(page) == [("success", f"{amount} erstattet (insgesamt {amount} erstattet).")]


def test_recording_a_refund_returned_outside_says_the_owed_amount_in_money(client, operator, stripe_paid, stripe_fake):
    order = stripe_paid("msg-owed")
    stripe_fake.decline_refunds = True
    client.force_login(operator)
    client.post(reverse("admin:orders_order_step", args=[order.pk, "cancel"]), {"note": "x"})
    settle = reverse("admin:orders_order_refund_settled", args=[order.pk])

    page = client.post(settle, {"owed_minor": "1", "note": "bank transfer 42"}, follow=True)
    owed = format_money(order.total_minor, "USD", "en_US")
    assert (
        "error",
        "The refund owed has changed since you looked; look at the order again before recording it. "
        f"The refund owed is now {owed}.",
    ) in _messages(page)

    page = client.post(settle, {"owed_minor": "abc", "note": "bank transfer 42"}, follow=True)
    assert ("error", "The page is out of date; look at the order again.") in _messages(page)
