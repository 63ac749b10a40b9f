"""Reads about payments, for orders and for pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from django.db.models import BigIntegerField, F, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from apps.payments import registry
from apps.payments.models import OPEN_STATUSES, PAID_STATUSES, VOIDABLE_STATUSES, Payment, Refund
from apps.payments.providers.base import PaymentStatus, RefundStatus, collects_on_delivery, needs_phone
from apps.payments.registry import OfferedMethod
from regions import Region


def payment_methods_offered(
    *, region: Region | None = None, currency: str | None = None, country: str | None = None
) -> tuple[OfferedMethod, ...]:
    """What the checkout offers here, in the region file's order: for ``currency`` from a shopper
    in ``country``, when given."""
    return registry.offered_methods(region=region, currency=currency, country=country)


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


def payment_awaits_courier(*, payment: Payment) -> bool:
    """Whether a courier is to collect ``payment`` at the door (cash on delivery, open).

    Told by its provider (``collects_on_delivery``), not by ``next_action``: that is written
    only once the provider has answered, and an attempt started meanwhile must see it too.
    The one rule for it: payments refuses another way of paying meanwhile, orders confirms
    such an order for delivery.
    """
    if payment.status not in OPEN_STATUSES:
        return False
    return collects_on_delivery(registry.configured_provider(payment.provider))


def payment_voids_at_provider(*, payment: Payment) -> bool:
    """Whether ``payment``, open, is something its provider holds and can call off, so that a
    cancel must reach it: a Stripe intent the shopper has not completed (``requires_payment_method``,
    ``requires_confirmation``, ``requires_action``; https://docs.stripe.com/api/payment_intents/cancel).
    Not a PayPal order the shopper has not approved (PayPal's Orders API has no void for it; we
    only capture once approved), nor a provider with nothing remote. No provider call."""
    if payment.status not in OPEN_STATUSES or not payment.provider_payment_id:
        return False
    provider = registry.configured_provider(payment.provider)
    return provider is not None and getattr(provider, "cancel", None) is not None


def payments_awaiting_void(*, requested_before: dt.datetime) -> QuerySet[Payment]:
    """Payments of cancelled orders marked to be voided before ``requested_before`` that no provider
    has voided yet, oldest first: what the void sweep sends again (read through its partial index)."""
    return Payment.objects.filter(
        status__in=VOIDABLE_STATUSES, void_requested_at__isnull=False, void_requested_at__lt=requested_before
    ).order_by("pk")


def payments_in_progress() -> QuerySet[Payment]:
    """Payments the shopper made that the provider is still at work on (a SEPA debit: days).

    For use in ``Exists`` by ``order_reference``. One that then fails or is cancelled is no
    longer in progress (a late "processing" cannot bring it back); one that succeeds is paid.
    """
    return Payment.objects.filter(status=PaymentStatus.PROCESSING)


def payments_to_ask_about(*, order_reference: str) -> QuerySet[Payment]:
    """The attempts of ``order_reference`` the shopper may have paid without our hearing of it:
    open, and known to their provider (a "processing" or "succeeded" webhook may be lost)."""
    return (
        payments_for_reference(order_reference=order_reference)
        .filter(status__in=OPEN_STATUSES)
        .exclude(provider_payment_id="")
    )


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


def refunds_succeeded(*, changed_since: dt.datetime, changed_before: dt.datetime) -> QuerySet[Refund]:
    """Refunds that succeeded (at the provider, or returned by staff another way), last written
    between ``changed_since`` and ``changed_before``, each with its ``order_reference``.

    For a floor above that must not miss one: ``payment_refunded`` is sent after the commit, so
    a process that dies in between loses the news; the refund row is what stays true.
    """
    return Refund.objects.filter(
        status=RefundStatus.SUCCEEDED, updated_at__gte=changed_since, updated_at__lt=changed_before
    ).annotate(order_reference=F("payment__order_reference"))


def refunded_minor_by_reference(*, order_references: Collection[str]) -> dict[str, int]:
    """``{order reference: everything refunded so far}``, across all the payments of each (a
    reference paid twice has refunds on both), in one query; references with none are left out."""
    if not order_references:
        return {}
    rows = (
        Refund.objects.filter(status=RefundStatus.SUCCEEDED, payment__order_reference__in=list(order_references))
        .values_list("payment__order_reference")
        .annotate(total=Sum("amount_minor"))
    )
    return dict(rows)


# The statuses whose changes move an order's refunded total: a refund that succeeded adds to
# it, and one that failed may have succeeded first (a closed card), taking its amount back off.
REFUND_TOTAL_STATUSES = (RefundStatus.SUCCEEDED, RefundStatus.FAILED)


def refunds_changed(*, changed_since: dt.datetime, changed_before: dt.datetime) -> QuerySet[Refund]:
    """Refunds that succeeded or failed, last written between ``changed_since`` and
    ``changed_before``, each with its ``order_reference``: those whose ``payment_refunded``
    news, lost with a process that died after payments' commit, may have left an order's
    refunded total behind (served by the partial index ``refund_changed``)."""
    return Refund.objects.filter(
        status__in=REFUND_TOTAL_STATUSES, updated_at__gte=changed_since, updated_at__lt=changed_before
    ).annotate(order_reference=F("payment__order_reference"))


def refunded_minor_of(*, order_reference: OuterRef) -> Coalesce:
    """Everything refunded so far of the reference ``order_reference`` points at (0 with none),
    across all its payments: :func:`refunded_minor_by_reference` as an expression, so that a
    floor above compares it with its own rows in one query."""
    total = (
        Refund.objects.filter(status=RefundStatus.SUCCEEDED, payment__order_reference=order_reference)
        .order_by()
        .values("payment__order_reference")
        .annotate(total=Sum("amount_minor"))
        .values("total")
    )
    return Coalesce(Subquery(total), 0, output_field=BigIntegerField())


def paid_minor_by_reference(*, order_references: Collection[str]) -> dict[str, int]:
    """``{order reference: everything captured for it}``, across all the payments that paid it
    (refunded since or not: a reference paid twice took both), in one query; references with
    none are left out. What must come back for the reference to be fully refunded."""
    if not order_references:
        return {}
    rows = (
        Payment.objects.filter(status__in=PAID_STATUSES, order_reference__in=list(order_references))
        .order_by()
        .values_list("order_reference")
        .annotate(total=Sum("captured_minor"))
    )
    return dict(rows)


def payment_has_refunds(*, payment_id: int) -> bool:
    """Whether any refund of the payment was ever written (pending, succeeded or failed): a floor
    above that gives a payment back whole tells its first time from news delivered again."""
    return Refund.objects.filter(payment_id=payment_id).exists()
