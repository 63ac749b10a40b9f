"""Reads about payments, for orders and for pages."""

from __future__ import annotations

import datetime as dt

from django.db.models import Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.fields.json import KT

from apps.payments import registry
from apps.payments.models import OPEN_STATUSES, PAID_STATUSES, Payment, Refund, WebhookEvent
from apps.payments.providers.base import PaymentStatus, RefundStatus, needs_phone
from apps.payments.registry import OfferedMethod
from regions import Region


def payment_methods_offered(*, region: Region | None = None, currency: str | None = None) -> tuple[OfferedMethod, ...]:
    """What the checkout offers here (for ``currency``, if given), in the region file's order."""
    return registry.offered_methods(region=region, currency=currency)


def provider_needs_phone(*, provider: str) -> bool:
    """Whether paying with ``provider`` needs the shopper's phone number (cash on delivery does)."""
    configured = registry.configured_provider(provider)
    return configured is not None and needs_phone(configured)


def payment_get(*, payment_id: int) -> Payment | None:
    return Payment.objects.filter(pk=payment_id).first()


def payments_for_reference(*, order_reference: str) -> QuerySet[Payment]:
    """Every attempt to pay ``order_reference``, oldest first."""
    return Payment.objects.filter(order_reference=order_reference).order_by("pk")


def payment_paid_for_reference(*, order_reference: str) -> Payment | None:
    """The payment that paid ``order_reference`` (authorized, captured or since refunded), if any."""
    return payments_for_reference(order_reference=order_reference).filter(status__in=PAID_STATUSES).first()


def payment_open_for_reference(*, order_reference: str) -> Payment | None:
    """The latest attempt, if the shopper can still finish it (pending, or declined and retryable)."""
    latest = payments_for_reference(order_reference=order_reference).last()
    return latest if latest is not None and latest.status in OPEN_STATUSES else None


# The provider events that say the shopper paid and the provider is still at work on it (a
# SEPA debit stays "processing" for days). Our status for such a payment is "pending", as
# for an intent nobody has confirmed yet, so the stored event is the only record of the
# difference. Stripe's event names its PaymentIntent at data.object.id.
IN_PROGRESS_EVENTS = {"stripe": "payment_intent.processing"}


def payments_in_progress() -> QuerySet[Payment]:
    """Payments under way at the provider: pending, and the provider said it is processing them.

    One query, for use in ``Exists`` by ``order_reference``. A payment that then fails or
    is cancelled leaves "pending" (a late "processing" cannot bring it back), so it is no
    longer in progress; one that succeeds is paid.
    """
    said_processing = Q()
    for provider, event_type in IN_PROGRESS_EVENTS.items():
        said_processing |= Q(provider=provider, event_type=event_type)
    events = (
        WebhookEvent.objects.filter(said_processing, provider=OuterRef("provider"))
        .annotate(provider_payment_id=KT("payload__data__object__id"))
        .filter(provider_payment_id=OuterRef("provider_payment_id"))
    )
    return Payment.objects.filter(status=PaymentStatus.PENDING).exclude(provider_payment_id="").filter(Exists(events))


def payment_refundable_minor(*, payment: Payment) -> int:
    """What may still be refunded: captured, less refunds that succeeded or are under way."""
    reserved = payment.refunds.exclude(status=RefundStatus.FAILED).aggregate(total=Sum("amount_minor"))["total"]
    return max(payment.captured_minor - (reserved or 0), 0)


def refunds_for_payment(*, payment: Payment) -> QuerySet[Refund]:
    return payment.refunds.order_by("pk")


def refunds_unsettled(
    *, created_before: dt.datetime | None = None, order_reference: str | None = None
) -> QuerySet[Refund]:
    """Refunds we recorded but no provider has acknowledged (pending, no provider id), oldest
    first: money a customer is still owed (of one order, with ``order_reference``).

    The normal path commits the row before it calls the provider, so these are refunds whose
    call failed or never finished; ``created_before`` leaves out those still under way.
    """
    refunds = Refund.objects.filter(status=RefundStatus.PENDING, provider_refund_id="")
    if created_before is not None:
        refunds = refunds.filter(created_at__lt=created_before)
    if order_reference is not None:
        refunds = refunds.filter(payment__order_reference=order_reference)
    return refunds.select_related("payment").order_by("pk")
