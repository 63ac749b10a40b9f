"""Cash on delivery (regions that list it): the courier collects, capture records it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apps.payments.providers.base import (
    NextAction,
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
    RefundResult,
    RefundStatus,
    WebhookOutcome,
    WebhookRejected,
)


class CashOnDeliveryProvider:
    """The courier collects the amount at the door; capture records that the cash came in.

    A refund records money handed back outside any system (cash or bank transfer by
    support staff), which is why it succeeds at once.
    """

    name = "cash_on_delivery"
    is_test = False
    # The courier calls before coming with the goods and the bill.
    needs_phone = True
    # An open attempt is money a courier is on the way to take: services refuse any other way
    # of paying its reference meanwhile, and cancel it should another payment succeed anyway.
    collects_on_delivery = True

    def supports_currency(self, currency: str) -> bool:
        return True

    def create_payment(self, request: PaymentRequest) -> PaymentResult:
        return PaymentResult(
            provider_payment_id=f"cod:{request.idempotency_key}",
            status=PaymentStatus.PENDING,
            next_action=NextAction.COLLECT_ON_DELIVERY,
        )

    def capture(
        self, *, provider_payment_id: str, amount_minor: int, currency: str, idempotency_key: str
    ) -> PaymentResult:
        return PaymentResult(
            provider_payment_id=provider_payment_id,
            status=PaymentStatus.SUCCEEDED,
            provider_capture_id=f"cod:{idempotency_key}",
            captured_minor=amount_minor,
        )

    def fetch(self, *, provider_payment_id: str, currency: str) -> PaymentResult:
        # Nobody but the courier knows; the money is recorded by capture() on delivery.
        return PaymentResult(
            provider_payment_id=provider_payment_id,
            status=PaymentStatus.PENDING,
            next_action=NextAction.COLLECT_ON_DELIVERY,
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
            provider_refund_id=f"cod:{idempotency_key}",
            status=RefundStatus.SUCCEEDED,
            amount_minor=amount_minor,
            refund_key=idempotency_key,
            provider_payment_id=provider_payment_id,
        )

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> WebhookOutcome:
        raise WebhookRejected("Cash on delivery has no webhooks.")

    def event_outcome(self, event: Mapping[str, Any]) -> WebhookOutcome:
        raise WebhookRejected("Cash on delivery has no webhooks.")
