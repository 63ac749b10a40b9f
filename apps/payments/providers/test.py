"""The clearly labelled test provider: no money moves. Offered only where no real one can be."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apps.payments.providers.base import (
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
    RefundResult,
    RefundStatus,
    WebhookOutcome,
    WebhookRejected,
)


class TestProvider:
    """Moves no money: lets a deployment without provider keys (the demo, CI) complete orders.

    Offered only when test payments are allowed (never by default in production) and the
    region's keyed providers have no keys; every page shows it as a test.
    """

    __test__ = False  # not a pytest test class, despite its name
    name = "test"
    is_test = True
    label = "Test payment — no money moves"

    def supports_currency(self, currency: str) -> bool:
        return True

    def create_payment(self, request: PaymentRequest) -> PaymentResult:
        return PaymentResult(
            provider_payment_id=f"test:{request.idempotency_key}",
            status=PaymentStatus.SUCCEEDED,
            provider_capture_id=f"test:{request.idempotency_key}",
            captured_minor=request.amount_minor,
        )

    def capture(
        self, *, provider_payment_id: str, amount_minor: int, currency: str, idempotency_key: str
    ) -> PaymentResult:
        return PaymentResult(
            provider_payment_id=provider_payment_id,
            status=PaymentStatus.SUCCEEDED,
            provider_capture_id=provider_payment_id,
            captured_minor=amount_minor,
        )

    def fetch(self, *, provider_payment_id: str, currency: str) -> PaymentResult:
        # Test payments succeed the moment they are created.
        return PaymentResult(
            provider_payment_id=provider_payment_id,
            status=PaymentStatus.SUCCEEDED,
            provider_capture_id=provider_payment_id,
        )

    def refund(
        self,
        *,
        provider_payment_id: str,
        provider_capture_id: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
    ) -> RefundResult:
        return RefundResult(
            provider_refund_id=f"test:{idempotency_key}",
            status=RefundStatus.SUCCEEDED,
            amount_minor=amount_minor,
            refund_key=idempotency_key,
            provider_payment_id=provider_payment_id,
        )

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> WebhookOutcome:
        raise WebhookRejected("The test provider has no webhooks.")

    def event_outcome(self, event: Mapping[str, Any]) -> WebhookOutcome:
        raise WebhookRejected("The test provider has no webhooks.")
