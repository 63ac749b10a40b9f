"""What staff are told when a step is refused: merchant staff pack, ship and deliver their own part
(the refusal and the API's documentation say so), every text goes through gettext, and a refund
refused in the admin says its amounts in money as payments word them, never in minor units."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from apps.accounts import services as accounts
from apps.errors import ApplicationError
from apps.money.formatting import format_money
from apps.orders import services
from apps.orders.models import Order
from apps.payments import services as payments
from apps.payments.models import Payment
from tests.orders.conftest import cart_with, checkout

pytestmark = pytest.mark.django_db

MERCHANTS_PART = "Merchant staff pack, ship and deliver their own part of an order; operators cancel and refund."
NOT_YOURS = "Not one of yours: %(shipment)s"
NOT_WAITING = "Not a shipment of this order waiting to ship: %(shipment)s"
AT_MOST = "At most %(amount)s can be refunded."


@pytest.fixture
def marked_german(mark_in_german):
    """Our msgids come out of German marked: a text that comes out marked went through gettext."""
    mark_in_german(MERCHANTS_PART, NOT_YOURS, NOT_WAITING, AT_MOST)


@pytest.fixture
def packed(stocked, on_commit, operator) -> Order:
    """A paid order of Shop A's lamp, packed: one parcel waiting to ship."""
    order = checkout(cart_with(stocked("words-lamp", 5, price_minor=4000)))
    on_commit(services.order_pay, order=order)
    order = Order.objects.get(pk=order.pk)
    services.order_fulfil(order=order, actor=operator)
    return Order.objects.get(pk=order.pk)


def _refused(**kwargs) -> ApplicationError:
    with pytest.raises(ApplicationError) as err:
        services.order_take_step(**kwargs)
    return err.value


@pytest.mark.parametrize("step", ["cancel", "refund"])
def test_merchant_staff_are_told_they_pack_ship_and_deliver_their_part(packed, merchant, marked_german, step):
    with translation.override("en"):
        english = _refused(order=packed, step=step, actor=None, merchant_ids={merchant.pk})
    with translation.override("de"):
        german = _refused(order=packed, step=step, actor=None, merchant_ids={merchant.pk})

    assert (english.code, english.status) == ("permission_denied", 403)
    assert english.message == MERCHANTS_PART
    assert german.message == f"[de] {MERCHANTS_PART}"
    assert set(services.MERCHANT_STEPS) == {"fulfil", "ship", "deliver"}


def test_another_merchants_parcel_is_named_in_the_staff_members_language(packed, make_user, marked_german):
    other = accounts.merchant_create(name="Shop B", country="US", owner=make_user(email="owner@shop-b.test"))
    (parcel,) = packed.shipments.all()
    step = {"order": packed, "step": "ship", "actor": None, "tracking_numbers": {parcel.pk: "1Z"}}

    with translation.override("en"):
        english = _refused(**step, merchant_ids={other.pk})
    with translation.override("de"):
        german = _refused(**step, merchant_ids={other.pk})

    assert english.code == "not_your_shipment"
    assert english.fields == {"tracking_numbers": [f"Not one of yours: {parcel.pk}"]}
    assert german.fields == {"tracking_numbers": [f"[de] Not one of yours: {parcel.pk}"]}
    assert not packed.shipments.exclude(shipped_at=None).exists()


def test_a_shipment_not_waiting_to_ship_is_named_in_the_staff_members_language(packed, marked_german):
    (parcel,) = packed.shipments.all()
    step = {"order": packed, "step": "ship", "actor": None, "tracking_numbers": {parcel.pk: "1Z", 99999999: "1Z"}}

    with translation.override("en"):
        english = _refused(**step)
    with translation.override("de"):
        german = _refused(**step)

    assert english.code == "invalid_tracking"
    assert english.fields == {"tracking_numbers": ["Not a shipment of this order waiting to ship: 99999999"]}
    assert german.fields == {"tracking_numbers": ["[de] Not a shipment of this order waiting to ship: 99999999"]}


def test_the_api_documents_that_merchant_staff_pack_their_part(client):
    schema = client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/orders/{reference}/steps/{step}"]["post"]

    assert "Merchant staff pack their part of the order" in operation["description"]
    assert "ship and deliver those parcels" in operation["description"]
    assert "cancel and refund are the operators'" in operation["description"]
    assert "`fields.refundable_minor`" in operation["responses"]["400"]["description"]
    assert "`fields.unconfirmed_minor`" in operation["responses"]["409"]["description"]


# --- refunds refused, said in money ----------------------------------------------------------


def test_the_api_says_the_most_refundable_in_money_and_in_minor_units(client, operator, packed):
    client.force_login(operator)

    r = client.post(
        f"/api/v1/orders/{packed.reference}/steps/refund",
        {"amount_minor": packed.total_minor + 1},
        content_type="application/json",
    )

    assert r.status_code == 400
    error = r.json()["error"]
    most = format_money(packed.total_minor, "USD", "en")
    assert error["code"] == "over_refund"
    assert error["fields"] == {
        "amount_minor": [f"At most {most} can be refunded."],
        "refundable_minor": [str(packed.total_minor)],
    }


def test_a_german_operator_reads_the_most_refundable_in_german_money(
    client, operator, use_region, stocked, on_commit, marked_german
):
    use_region("eu-west")
    order = checkout(cart_with(stocked("worte-lampe", 5, price_minor=4000), country="DE"), country="DE")
    on_commit(services.order_pay, order=order)
    order = Order.objects.get(pk=order.pk)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"
    client.force_login(operator)

    r = client.post(
        f"/api/v1/orders/{order.reference}/steps/refund",
        {"amount_minor": order.total_minor + 1},
        content_type="application/json",
    )

    most = format_money(order.total_minor, "EUR", "de")
    assert "," in most and "€" in most
    assert r.json()["error"]["fields"] == {
        "amount_minor": [f"[de] At most {most} can be refunded."],
        "refundable_minor": [str(order.total_minor)],
    }

    page = client.post(reverse("admin:orders_order_step", args=[order.pk, "refund"]), {"amount": "1.000"}, follow=True)
    [message] = [str(m) for m in page.context["messages"]]
    # The admin says what payments said (one wording), without the minor units kept for API clients.
    with translation.override("de"):
        refused = translation.gettext("That is more than can be refunded.")
    assert message == f"{refused} [de] At most {most} can be refunded."


def test_the_admin_names_an_unconfirmed_refund_in_money_without_minor_units(client, operator, packed):
    payment = Payment.objects.get(order_reference=packed.reference)
    # Written, waiting for its provider: a second, different refund must wait for it.
    refund = payments.payment_refund_remaining(payment_id=payment.pk)
    client.force_login(operator)

    page = client.post(reverse("admin:orders_order_step", args=[packed.pk, "refund"]), {"amount": "5"}, follow=True)

    amount = format_money(refund.amount_minor, "USD", "en_US")
    assert [(m.level_tag, str(m)) for m in page.context["messages"]] == [
        ("error", f"An earlier refund of {amount} is still unconfirmed; retry it first.")
    ]
