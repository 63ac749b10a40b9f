"""A payment the provider is still at work on is "processing": not paid, not open for another try.

Stripe says so of a SEPA debit for days (``payment_intent.processing``), PayPal of a capture
it holds for review (``PENDING``). Real PostgreSQL; Stripe and PayPal are the local fakes,
their webhooks signed and verified as the real ones are.
"""

from __future__ import annotations

import json

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse

from apps.catalog import services as catalog
from apps.errors import ApplicationError
from apps.orders.models import Order
from apps.payments import selectors, services
from apps.payments.models import PAYMENT_TRANSITIONS, Payment, WebhookEvent
from apps.payments.providers.base import PaymentStatus
from tests.catalog.factories import make_product
from tests.orders.conftest import cart_with, checkout
from tests.payments.fakes import post_stripe_event

S = PaymentStatus


def _sepa_payment(use_region, reference: str = "R-SEPA") -> Payment:
    use_region("eu-west")
    return services.payment_create(
        order_reference=reference, provider="stripe", method="sepa_debit", amount_minor=2500, currency="EUR"
    )


def _processing(stripe_fake, payment: Payment, committed) -> dict:
    intent = stripe_fake.intents[payment.provider_payment_id]
    intent["status"] = "processing"
    committed(post_stripe_event, "payment_intent.processing", dict(intent))
    return intent


# --- the status and its steps -------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "allowed"),
    [
        (S.PENDING, S.PROCESSING, True),
        # The shopper retried a declined intent with a debit.
        (S.FAILED, S.PROCESSING, True),
        (S.PROCESSING, S.SUCCEEDED, True),
        (S.PROCESSING, S.FAILED, True),
        (S.PROCESSING, S.CANCELLED, True),
        (S.PROCESSING, S.PENDING, False),
        (S.SUCCEEDED, S.PROCESSING, False),
        (S.CANCELLED, S.PROCESSING, False),
        (S.REFUNDED, S.PROCESSING, False),
    ],
)
def test_processing_steps(before, after, allowed):
    assert Payment(status=before).can_become(after) is allowed


def test_every_status_has_its_steps():
    assert set(PAYMENT_TRANSITIONS) == set(PaymentStatus.values)


@pytest.mark.django_db
def test_the_database_takes_processing_and_refuses_an_unknown_status():
    fields = {"provider": "stripe", "method": "sepa_debit", "amount_minor": 100, "currency": "EUR"}
    Payment.objects.create(order_reference="R-ok", idempotency_key="k-ok", status=S.PROCESSING, **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(order_reference="R-bad", idempotency_key="k-bad", status="on_its_way", **fields)


# --- Stripe -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_stripe_processing_event_makes_the_payment_processing_and_succeeded_pays_it(
    stripe_fake, use_region, committed, signals
):
    payment = _sepa_payment(use_region)
    _processing(stripe_fake, payment, committed)

    payment.refresh_from_db()
    assert payment.status == S.PROCESSING
    assert not payment.is_paid
    assert list(selectors.payments_in_progress()) == [payment]
    assert selectors.payment_open_for_reference(order_reference="R-SEPA") is None
    assert WebhookEvent.objects.get().result == "pending -> processing"
    assert signals == []

    committed(post_stripe_event, "payment_intent.succeeded", stripe_fake.succeed(payment.provider_payment_id))

    payment.refresh_from_db()
    assert (payment.status, payment.captured_minor) == (S.SUCCEEDED, 2500)
    assert list(selectors.payments_in_progress()) == []
    assert len(signals.named("succeeded")) == 1


@pytest.mark.django_db
def test_a_late_processing_event_after_succeeded_changes_nothing(stripe_fake, use_region, committed, signals):
    payment = _sepa_payment(use_region)
    intent = dict(stripe_fake.intents[payment.provider_payment_id])
    committed(post_stripe_event, "payment_intent.succeeded", stripe_fake.succeed(payment.provider_payment_id))

    committed(post_stripe_event, "payment_intent.processing", {**intent, "status": "processing"})

    payment.refresh_from_db()
    assert payment.status == S.SUCCEEDED
    assert WebhookEvent.objects.get(event_type="payment_intent.processing").result == "no change: succeeded stays"
    assert list(selectors.payments_in_progress()) == []
    assert len(signals.named("succeeded")) == 1


@pytest.mark.django_db
def test_a_debit_that_fails_is_no_longer_in_progress_and_its_retry_is(stripe_fake, use_region, committed, signals):
    payment = _sepa_payment(use_region)
    intent = _processing(stripe_fake, payment, committed)
    intent.update(status="requires_payment_method", last_payment_error={"message": "Insufficient funds."})

    committed(post_stripe_event, "payment_intent.payment_failed", dict(intent))

    payment.refresh_from_db()
    assert (payment.status, payment.failure_reason) == (S.FAILED, "Insufficient funds.")
    assert list(selectors.payments_in_progress()) == []
    assert [s["reason"] for s in signals.named("failed")] == ["Insufficient funds."]

    # The shopper confirms the same intent again, with another debit.
    intent.update(status="processing", last_payment_error=None)
    committed(post_stripe_event, "payment_intent.processing", dict(intent), event_id="evt_processing_again")

    payment.refresh_from_db()
    assert (payment.status, payment.failure_reason) == (S.PROCESSING, "")
    assert list(selectors.payments_in_progress()) == [payment]


@pytest.mark.django_db
def test_paying_again_while_processing_gives_the_same_payment_not_a_second_intent(stripe_fake, use_region, committed):
    payment = _sepa_payment(use_region)
    _processing(stripe_fake, payment, committed)

    again = services.payment_create(
        order_reference="R-SEPA", provider="stripe", method="sepa_debit", amount_minor=2500, currency="EUR"
    )

    assert (again.pk, again.status) == (payment.pk, S.PROCESSING)
    assert len(stripe_fake.requests_to("/v1/payment_intents")) == 1
    assert Payment.objects.count() == 1


@pytest.mark.django_db
def test_another_payment_while_one_is_processing_is_refused(stripe_fake, use_region, committed):
    payment = _sepa_payment(use_region)
    _processing(stripe_fake, payment, committed)

    with pytest.raises(ApplicationError) as refused:
        services.payment_create(
            order_reference="R-SEPA", provider="stripe", method="card", amount_minor=2600, currency="EUR"
        )

    assert (refused.value.code, refused.value.status) == ("payment_in_progress", 409)
    assert Payment.objects.count() == 1
    assert len(stripe_fake.requests_to("/v1/payment_intents")) == 1


@pytest.mark.django_db
def test_the_shopper_coming_back_reads_a_processing_intent(stripe_fake, use_region, committed, signals):
    payment = _sepa_payment(use_region)
    stripe_fake.intents[payment.provider_payment_id]["status"] = "processing"

    services.payment_return(order_reference="R-SEPA", provider_payment_id=payment.provider_payment_id)
    payment.refresh_from_db()
    assert payment.status == S.PROCESSING

    # Back again once the debit went through (its webhook not here yet): read, and paid.
    stripe_fake.succeed(payment.provider_payment_id)
    committed(services.payment_return, order_reference="R-SEPA", provider_payment_id=payment.provider_payment_id)
    payment.refresh_from_db()
    assert payment.status == S.SUCCEEDED
    assert len(signals.named("succeeded")) == 1


# --- asking the providers (the expiry sweep's question) ------------------------------------


@pytest.mark.django_db
def test_asking_stripe_records_a_lost_processing_once(stripe_fake, use_region, committed, signals):
    payment = _sepa_payment(use_region)
    stripe_fake.intents[payment.provider_payment_id]["status"] = "processing"

    assert services.payments_ask_providers(order_reference="R-SEPA") is True

    payment.refresh_from_db()
    assert payment.status == S.PROCESSING
    assert len(stripe_fake.requests_to(f"/v1/payment_intents/{payment.provider_payment_id}", method="GET")) == 1
    # The lost webhook turns up after all: nothing more happens.
    _processing(stripe_fake, payment, committed)
    assert WebhookEvent.objects.get().result == "no change: processing stays"
    # A processing payment is not asked about again by the sweep: its webhook will come.
    assert services.payments_ask_providers(order_reference="R-SEPA") is True
    assert len(stripe_fake.requests_to("/v1/payment_intents/", method="GET")) == 1
    assert signals == []


@pytest.mark.django_db
def test_asking_an_unreachable_stripe_says_so_and_changes_nothing(stripe_fake, use_region):
    payment = _sepa_payment(use_region)
    stripe_fake.intents[payment.provider_payment_id]["status"] = "processing"
    stripe_fake.fail_next = [503]

    assert services.payments_ask_providers(order_reference="R-SEPA") is False

    payment.refresh_from_db()
    assert payment.status == S.PENDING


@pytest.mark.django_db
def test_an_intent_stripe_does_not_know_is_no_news(stripe_fake, use_region):
    payment = _sepa_payment(use_region)
    del stripe_fake.intents[payment.provider_payment_id]

    assert services.payments_ask_providers(order_reference="R-SEPA") is True

    payment.refresh_from_db()
    assert payment.status == S.PENDING


@pytest.mark.django_db
def test_cash_on_delivery_has_nothing_remote_to_ask(use_region):
    use_region("me-south")
    payment = services.payment_create(
        order_reference="R-COD",
        provider="cash_on_delivery",
        method="cash_on_delivery",
        amount_minor=500,
        currency="AED",
    )

    assert services.payments_ask_providers(order_reference="R-COD") is True

    payment.refresh_from_db()
    assert payment.status == S.PENDING


# --- PayPal -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_paypal_capture_held_for_review_is_processing_until_its_completed_event(paypal_fake, committed, signals):
    payment = services.payment_create(
        order_reference="R-PP", provider="paypal", method="paypal", amount_minor=1999, currency="USD"
    )
    paypal_fake.approve(payment.provider_payment_id)
    paypal_fake.capture_status = "PENDING"

    payment = committed(services.payment_capture, payment_id=payment.pk)

    assert (payment.status, payment.provider_capture_id) == (S.PROCESSING, "CAP-FAKE1")
    assert list(selectors.payments_in_progress()) == [payment]
    assert signals == []
    # Read back (the shopper's return): still under review.
    assert services.payment_refresh(payment_id=payment.pk).status == S.PROCESSING

    event = {
        "id": "WH-COMPLETED",
        "event_type": "PAYMENT.CAPTURE.COMPLETED",
        "resource_type": "capture",
        "resource": {
            "id": "CAP-FAKE1",
            "status": "COMPLETED",
            "amount": {"currency_code": "USD", "value": "19.99"},
            "custom_id": payment.idempotency_key,
            "supplementary_data": {"related_ids": {"order_id": payment.provider_payment_id}},
        },
    }
    response = committed(
        Client().post,
        reverse("payments:webhook-paypal"),
        data=json.dumps(event).encode(),
        content_type="application/json",
        headers=paypal_fake.sign(event),
    )

    assert response.status_code == 200, response.content
    payment.refresh_from_db()
    assert (payment.status, payment.captured_minor) == (S.SUCCEEDED, 1999)
    assert len(signals.named("succeeded")) == 1


# --- retrying after a failed SEPA debit, through the pay API ------------------------------


@pytest.fixture
def sepa_order(use_region, merchant, make_user, stripe_fake):
    use_region("eu-west")
    warehouse = catalog.warehouse_create(merchant=merchant, code="main", name="Main", country="US")
    variant = make_product(merchant, "sepa-retry", price_minor=1000).variants.get()
    catalog.stock_set(variant=variant, warehouse=warehouse, quantity=5)
    shopper = make_user(email="anna@example.test")
    order = checkout(
        cart_with(variant, 2, country="DE", user=shopper),
        country="DE",
        user=shopper,
        payment_provider="stripe",
        payment_method="sepa_debit",
    )
    client = Client()
    client.force_login(shopper)
    return client, order


@pytest.mark.django_db
def test_after_a_failed_sepa_debit_the_shopper_pays_again_through_the_api(
    sepa_order, stripe_fake, committed, celery_inline
):
    client, order = sepa_order
    pay_url = f"/api/v1/orders/{order.reference}/pay"
    first = committed(client.post, pay_url, {}, content_type="application/json")
    assert first.status_code == 200, first.content
    assert (first.json()["status"], first.json()["next_action"]) == ("pending", "confirm_in_browser")
    (payment,) = Payment.objects.all()
    intent = stripe_fake.intents[payment.provider_payment_id]
    intent["status"] = "processing"
    committed(post_stripe_event, "payment_intent.processing", dict(intent))
    intent.update(status="requires_payment_method", last_payment_error={"message": "Insufficient funds."})
    committed(post_stripe_event, "payment_intent.payment_failed", dict(intent))

    again = committed(client.post, pay_url, {}, content_type="application/json")

    # Stripe lets a declined intent be confirmed again: the page gets it back to retry in
    # the Payment Element, and no second intent could take the money twice.
    assert again.status_code == 200, again.content
    body = again.json()
    assert (body["status"], body["next_action"], body["order_status"]) == ("failed", "confirm_in_browser", "created")
    assert body["client_secret"] == first.json()["client_secret"] == intent["client_secret"]
    assert len(stripe_fake.requests_to("/v1/payment_intents")) == 1
    assert Payment.objects.count() == 1

    # The retry with another debit goes through.
    intent.update(status="processing", last_payment_error=None)
    committed(post_stripe_event, "payment_intent.processing", dict(intent), event_id="evt_processing_retry")
    committed(post_stripe_event, "payment_intent.succeeded", stripe_fake.succeed(payment.provider_payment_id))
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


# --- the migration ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_turns_pending_payments_said_processing_into_processing_and_back():
    before, after = [("payments", "0003_webhook_processing_index")], [("payments", "0004_processing_status")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = MigrationExecutor(connection).loader.project_state(before[0]).apps
        OldPayment, OldEvent = old.get_model("payments", "Payment"), old.get_model("payments", "WebhookEvent")

        def payment(reference: str, provider: str, status: str = "pending", **fields) -> int:
            return OldPayment.objects.create(
                order_reference=reference,
                provider=provider,
                method="x",
                amount_minor=100,
                currency="EUR",
                status=status,
                idempotency_key=f"order:{reference}:intent",
                provider_payment_id=f"id-{reference}",
                **fields,
            ).pk

        said = payment("said", "stripe")
        silent = payment("silent", "stripe")
        failed = payment("failed", "stripe", status="failed")
        paypal_review = payment("review", "paypal", provider_capture_id="CAP-1")
        paypal_unpaid = payment("unpaid", "paypal")
        for reference in ("said", "failed"):
            OldEvent.objects.create(
                provider="stripe",
                event_id=f"evt-{reference}",
                event_type="payment_intent.processing",
                payload={"type": "payment_intent.processing", "data": {"object": {"id": f"id-{reference}"}}},
            )
        OldEvent.objects.create(
            provider="stripe",
            event_id="evt-silent-created",
            event_type="payment_intent.created",
            payload={"data": {"object": {"id": "id-silent"}}},
        )

        MigrationExecutor(connection).migrate(after)
        statuses = dict(Payment.objects.values_list("pk", "status"))
        assert statuses == {
            said: "processing",
            silent: "pending",
            failed: "failed",
            paypal_review: "processing",
            paypal_unpaid: "pending",
        }
        with connection.cursor() as cursor:
            indexes = connection.introspection.get_constraints(cursor, WebhookEvent._meta.db_table)
        assert "webhook_processing_by_object" not in indexes

        MigrationExecutor(connection).migrate(before)
        assert set(OldPayment.objects.values_list("status", flat=True)) == {"pending", "failed"}
    finally:
        # Back to the newest schema, whatever migrations came after this one.
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
