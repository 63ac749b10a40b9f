"""Staff API: a declined refund returned another way is recorded, with the admin's rules.

``POST /api/v1/orders/<reference>/refund-returned-outside`` with ``amount_minor`` (the refund
owed as staff saw it) and ``note`` (how the money went back): operators only, a note
required, refused when nothing is owed or the amount owed is another by now. Documented in
the OpenAPI schema with the one error body.

Real PostgreSQL and Redis; Stripe is the local fake, declining refunds (a dispute) where asked.
"""

from __future__ import annotations

import pytest

from apps.accounts import services as accounts
from apps.money.formatting import format_money
from apps.orders import selectors, services
from apps.orders.models import Order, OrderEvent
from apps.payments.models import Refund
from apps.payments.providers.base import PaymentStatus, RefundStatus
from tests.payments.fakes import closed_port_url

pytestmark = pytest.mark.django_db

ERROR = "#/components/schemas/ErrorResponse"


def _post(client, order: Order | str, data: dict | None = None):
    reference = order if isinstance(order, str) else order.reference
    return client.post(
        f"/api/v1/orders/{reference}/refund-returned-outside", data or {}, content_type="application/json"
    )


def _nothing_recorded(order: Order) -> None:
    assert not Refund.objects.filter(settled_outside_at__isnull=False).exists()
    assert selectors.order_refunds_owed(order=Order.objects.get(pk=order.pk)).held_minor == order.total_minor


def test_an_operator_records_the_money_returned_by_bank_transfer(client, declined, operator, stripe_fake, on_commit):
    order = declined("api-outside")
    total = order.total_minor
    client.force_login(operator)

    # Committed, payments tell the order of the refund (its refunded total).
    r = on_commit(_post, client, order, {"amount_minor": total, "note": "  Bank transfer, ref. TRX-0042  "})

    assert r.status_code == 200, r.json()
    body = r.json()
    assert (body["reference"], body["status"]) == (order.reference, "cancelled")
    assert (body["refund_owed_minor"], body["refund_declined_minor"], body["notice"]) == (0, 0, "")
    assert body["next_steps"] == []
    refund = Refund.objects.get(settled_outside_at__isnull=False)
    assert (refund.status, refund.amount_minor, refund.provider_refund_id) == (RefundStatus.SUCCEEDED, total, "")
    assert (refund.settled_outside_by, refund.settled_outside_note) == (operator.email, "Bank transfer, ref. TRX-0042")
    assert refund.payment.status == PaymentStatus.REFUNDED
    assert Order.objects.get(pk=order.pk).refunded_minor == total
    event = OrderEvent.objects.get(order=order, actor=operator)
    noted = format_money(total, "USD", "en")  # the history's money: English, the currency always named
    assert event.note == f"refund {refund.pk} of {noted} returned outside stripe: Bank transfer, ref. TRX-0042"
    assert len(stripe_fake.requests_to("/v1/refunds")) == 1  # only the declined one: nothing sent

    # A second click records nothing twice.
    again = _post(client, order, {"amount_minor": total, "note": "Bank transfer, ref. TRX-0042"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "not_owed"
    assert Refund.objects.filter(settled_outside_at__isnull=False).count() == 1


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"note": ""},
        {"note": "   "},
        {"note": "x" * 501},
    ],
    ids=["missing", "empty", "blank", "too-long"],
)
def test_a_note_of_how_is_required(client, declined, operator, data, request):
    order = declined(f"api-outside-note-{request.node.callspec.id}")
    client.force_login(operator)

    r = _post(client, order, {"amount_minor": order.total_minor, **data})

    assert r.status_code == 400, r.json()
    error = r.json()["error"]
    assert (error["code"], list(error["fields"])) == ("invalid_note", ["note"])
    assert error["message"].startswith("Say how the money was returned")
    _nothing_recorded(order)


@pytest.mark.parametrize(
    ("data", "code", "field"),
    [
        ({"note": "bank"}, "invalid", "amount_minor"),
        ({"amount_minor": None, "note": "bank"}, "invalid", "amount_minor"),
        ({"amount_minor": "twelve", "note": "bank"}, "invalid", "amount_minor"),
        ({"amount_minor": 0, "note": "bank"}, "invalid", "amount_minor"),
        ({"amount_minor": -5, "note": "bank"}, "invalid", "amount_minor"),
        ({"amount_minor": 1.5, "note": "bank"}, "invalid", "amount_minor"),
        ({"amount_minor": 100, "note": "bank", "refund_id": 1}, "unexpected_fields", "refund_id"),
        ({"amount_minor": 100, "note": ["bank"]}, "invalid", "note"),
    ],
    ids=["no-amount", "null", "text", "zero", "negative", "fraction", "unknown-field", "note-list"],
)
def test_bad_input_is_a_clear_error(client, declined, operator, data, code, field, request):
    order = declined(f"api-outside-{request.node.callspec.id}")
    client.force_login(operator)

    r = _post(client, order, data)

    assert r.status_code == 400, r.json()
    error = r.json()["error"]
    assert error["code"] == code and field in error["fields"]
    _nothing_recorded(order)


def test_an_amount_other_than_owed_is_refused_with_the_amount_owed_now(client, declined, operator):
    order = declined("api-outside-changed")
    client.force_login(operator)

    r = _post(client, order, {"amount_minor": order.total_minor - 1, "note": "bank transfer"})

    assert r.status_code == 409
    error = r.json()["error"]
    owed = format_money(order.total_minor, "USD", "en_US")
    assert (error["code"], error["fields"]) == (
        "owed_changed",
        {"amount_minor": [f"The refund owed is now {owed}."], "owed_minor": [str(order.total_minor)]},
    )
    _nothing_recorded(order)


def test_refused_when_nothing_is_owed(client, stripe_paid, operator, on_commit, settings, stripe_fake):
    client.force_login(operator)
    paid = stripe_paid("api-outside-paid")
    r = _post(client, paid, {"amount_minor": paid.total_minor, "note": "bank"})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "not_owed")

    # A refund only waiting for its provider is the sweep's to send, not staff's to record.
    waiting = stripe_paid("api-outside-waiting")
    settings.STRIPE_API_BASE = closed_port_url()
    on_commit(services.order_cancel, order=waiting)
    settings.STRIPE_API_BASE = stripe_fake.url
    r = _post(client, waiting, {"amount_minor": waiting.total_minor, "note": "bank"})
    assert (r.status_code, r.json()["error"]["code"]) == (409, "not_owed")
    assert not Refund.objects.filter(settled_outside_at__isnull=False).exists()


def test_merchant_staff_get_403_and_nothing_is_recorded(client, declined, merchant, make_user):
    order = declined("api-outside-merchant")
    staff = make_user(email="packer@shop-a.test")
    accounts.merchant_staff_add(merchant=merchant, user=staff)
    client.force_login(staff)

    r = _post(client, order, {"amount_minor": order.total_minor, "note": "bank transfer"})

    assert r.status_code == 403
    assert r.json()["error"]["code"] == "permission_denied"
    _nothing_recorded(order)


def test_shoppers_and_strangers_get_403(client, declined, make_user):
    order = declined("api-outside-shopper")
    anonymous = _post(client, order, {"amount_minor": order.total_minor, "note": "bank"})
    client.force_login(make_user(email="someone@example.test"))
    shopper = _post(client, order, {"amount_minor": order.total_minor, "note": "bank"})

    assert (anonymous.status_code, shopper.status_code) == (403, 403)
    assert "error" in anonymous.json() and "error" in shopper.json()
    _nothing_recorded(order)


def test_an_unknown_order_is_404(client, operator):
    client.force_login(operator)
    r = _post(client, "NO-SUCH-ORDER", {"amount_minor": 100, "note": "bank"})
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")


def test_the_endpoint_is_in_the_openapi_schema_with_its_errors(client):
    schema = client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/orders/{reference}/refund-returned-outside"]["post"]
    answers = operation["responses"]
    assert answers["200"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/OrderStepOut"
    for status, codes in {
        "400": ("invalid_note", "unexpected_fields"),
        "403": ("permission_denied",),
        "404": ("not_found",),
        "409": ("not_owed", "owed_changed"),
    }.items():
        assert answers[status]["content"]["application/json"]["schema"]["$ref"] == ERROR
        assert all(code in answers[status]["description"] for code in codes)
    request = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert schema["components"]["schemas"][request]["required"] == ["amount_minor"]


def test_the_refunds_held_selector_names_each_payment_and_its_amount(declined):
    order = declined("api-outside-selector")
    [(payment, owed)] = selectors.order_refunds_held(order=order)
    assert (payment.order_reference, owed) == (order.reference, order.total_minor)
    assert selectors.order_refunds_owed(order=order) == selectors.RefundsOwed(
        held_minor=order.total_minor, provider="stripe"
    )
