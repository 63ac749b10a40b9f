"""Payments, refunds and the provider events we received.

A :class:`Payment` pays for something orders call an ``order_reference``; payments never
look further into orders than that string. Its status moves only along
:data:`PAYMENT_TRANSITIONS`; amounts are integer minor units in the payment's currency.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.payments.providers.base import NextAction, PaymentStatus, RefundStatus

S = PaymentStatus

# Where a payment may go from each status. The provider's word that money moved is never
# ignored, hence FAILED/CANCELLED → SUCCEEDED (Stripe lets the shopper retry a declined
# intent; a superseded attempt may still be completed in another tab). FAILED → PROCESSING
# for the same reason: the shopper retried the declined intent with a debit. Anything not
# listed — a late "processing" after "succeeded", a replayed "failed" — changes nothing.
PAYMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.PROCESSING, S.AUTHORIZED, S.SUCCEEDED, S.FAILED, S.CANCELLED}),
    S.PROCESSING: frozenset({S.AUTHORIZED, S.SUCCEEDED, S.FAILED, S.CANCELLED}),
    S.AUTHORIZED: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED}),
    S.FAILED: frozenset({S.PROCESSING, S.AUTHORIZED, S.SUCCEEDED, S.CANCELLED}),
    S.CANCELLED: frozenset({S.SUCCEEDED}),
    S.SUCCEEDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.REFUNDED: frozenset(),
}

# A reference with a payment in one of these is paid (or was, and was refunded).
PAID_STATUSES = frozenset({S.AUTHORIZED, S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED})
# The shopper can still finish (or retry) these. PROCESSING is neither paid nor open: the
# money is on its way, and a second attempt could take it twice.
OPEN_STATUSES = frozenset({S.PENDING, S.FAILED})
REFUNDABLE_STATUSES = frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED})
# A cancelled order's payment in one of these still waits for its void: an authorization nobody
# will capture, or an open intent the shopper could still complete. Sorted: the sweep's index
# condition is written with it, and the migration must not change with the set's order.
VOIDABLE_STATUSES = tuple(sorted({S.AUTHORIZED, *OPEN_STATUSES}))

# A card refund can fail after its provider said it succeeded (the card was closed since):
# SUCCEEDED → FAILED, so the money is owed again. Services take that step only on the
# provider's own event, newer than the one applied, from a provider that documents it
# (``refunds_fail_after_success``); never on an API answer or a replay.
REFUND_TRANSITIONS: dict[str, frozenset[str]] = {
    RefundStatus.PENDING: frozenset({RefundStatus.SUCCEEDED, RefundStatus.FAILED}),
    RefundStatus.SUCCEEDED: frozenset({RefundStatus.FAILED}),
    RefundStatus.FAILED: frozenset({RefundStatus.SUCCEEDED}),
}


class Payment(models.Model):
    order_reference = models.CharField(_("order reference"), max_length=64, db_index=True)
    provider = models.CharField(_("payment provider"), max_length=32)
    method = models.CharField(_("payment method"), max_length=32)
    amount_minor = models.PositiveBigIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
    captured_minor = models.PositiveBigIntegerField(_("captured amount (minor units)"), default=0)
    status = models.CharField(_("status"), max_length=24, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    # Attempt number within the reference; it makes the idempotency keys deterministic.
    attempt = models.PositiveSmallIntegerField(_("attempt"), default=1)
    # Definitive capture refusals so far: the next capture is a new request with a new key,
    # since the provider would answer a repeated key with the recorded refusal.
    capture_declines = models.PositiveSmallIntegerField(_("declined captures"), default=0)
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    provider_payment_id = models.CharField(_("provider's payment ID"), max_length=255, blank=True, default="")
    provider_capture_id = models.CharField(_("provider's capture ID"), max_length=255, blank=True, default="")
    next_action = models.CharField(_("next step"), max_length=32, choices=NextAction.choices, blank=True, default="")
    # Handed to the shopper's browser only (Stripe Payment Element); never logged.
    client_secret = models.CharField(_("client secret"), max_length=255, blank=True, default="")
    approval_url = models.URLField(_("approval URL"), max_length=1000, blank=True, default="")
    failure_reason = models.CharField(_("failure reason"), max_length=255, blank=True, default="")
    # Set when the authorization is to be voided (its order was cancelled): while the payment
    # is still AUTHORIZED, the refund-retry sweep asks the provider again, with the same key.
    void_requested_at = models.DateTimeField(_("void requested at"), null=True, blank=True)
    # The provider's time of the newest webhook event applied to the status: an event older
    # than it (providers do not deliver in order) cannot move the payment back.
    status_event_at = models.DateTimeField(_("status as of"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        indexes = [
            # The sweep (services.payments_void_unsettled) reads the few payments whose void the
            # provider has not taken, among every payment ever made.
            models.Index(
                fields=["void_requested_at"],
                name="payment_void_unsettled",
                condition=Q(status__in=VOIDABLE_STATUSES, void_requested_at__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=Q(captured_minor__lte=models.F("amount_minor")), name="payment_captured_le_amount"
            ),
            models.CheckConstraint(condition=Q(status__in=PaymentStatus.values), name="payment_status_known"),
            models.UniqueConstraint(
                fields=["order_reference", "attempt"], name="payment_one_attempt_number_per_reference"
            ),
            models.UniqueConstraint(
                fields=["provider", "provider_payment_id"],
                condition=~Q(provider_payment_id=""),
                name="payment_provider_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.amount_minor} {self.currency} for {self.order_reference} ({self.status})"

    def can_become(self, status: str) -> bool:
        return status in PAYMENT_TRANSITIONS[self.status]

    @property
    def is_paid(self) -> bool:
        return self.status in PAID_STATUSES


class Refund(models.Model):
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("payment"))
    amount_minor = models.PositiveBigIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(_("status"), max_length=16, choices=RefundStatus.choices, default=RefundStatus.PENDING)
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    provider_refund_id = models.CharField(_("provider's refund ID"), max_length=255, blank=True, default="")
    reason = models.CharField(_("reason"), max_length=255, blank=True, default="")
    # Money staff returned outside the provider (a bank transfer after the provider declined):
    # when, who (their label) and how, in their words. Such a refund never goes to a provider.
    settled_outside_at = models.DateTimeField(_("returned another way at"), null=True, blank=True)
    settled_outside_by = models.CharField(_("returned another way by"), max_length=255, blank=True, default="")
    settled_outside_note = models.CharField(_("how it was returned"), max_length=500, blank=True, default="")
    # The provider's time of the newest webhook event applied to the status: an older one (a
    # "succeeded" sent before a "failed" but delivered after it) cannot move the refund back.
    status_event_at = models.DateTimeField(_("status as of"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [
            models.CheckConstraint(condition=Q(amount_minor__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(condition=Q(status__in=RefundStatus.values), name="refund_status_known"),
            # Returned outside the provider: done, with a note of how, and nothing a provider knows.
            models.CheckConstraint(
                condition=Q(settled_outside_at__isnull=True)
                | (Q(status=RefundStatus.SUCCEEDED, provider_refund_id="") & ~Q(settled_outside_note="")),
                name="refund_settled_outside_is_done",
            ),
            models.UniqueConstraint(
                fields=["payment", "provider_refund_id"],
                condition=~Q(provider_refund_id=""),
                name="refund_provider_id_unique",
            ),
        ]
        indexes = [
            # The refund-retry sweep (selectors.refunds_unsettled) runs every few minutes over
            # the few refunds no provider acknowledged, among every refund ever made.
            models.Index(
                fields=["created_at"],
                name="refund_unsettled",
                condition=Q(status=RefundStatus.PENDING, provider_refund_id=""),
            ),
            # Orders' sweeps over recently settled refunds (selectors.refunds_succeeded for lost
            # refund mails, selectors.refunds_changed for refunded totals left behind) read a few
            # minutes' to days' worth of them by ``updated_at``, among every refund ever made.
            models.Index(
                fields=["updated_at"],
                name="refund_changed",
                condition=Q(status__in=[RefundStatus.SUCCEEDED, RefundStatus.FAILED]),
            ),
        ]

    def __str__(self) -> str:
        return f"refund {self.amount_minor} {self.currency} of payment {self.payment_id} ({self.status})"

    def can_become(self, status: str) -> bool:
        return status in REFUND_TRANSITIONS[self.status]


class WebhookEvent(models.Model):
    """One provider event, stored once by its provider id whatever how often it is delivered."""

    provider = models.CharField(_("payment provider"), max_length=32)
    event_id = models.CharField(_("event ID"), max_length=255)
    event_type = models.CharField(_("event type"), max_length=100)
    payload = models.JSONField(_("event data"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    # What processing did, for people reading the admin: "succeeded", "ignored: ..." and so on.
    result = models.CharField(_("result"), max_length=255, blank=True, default="")

    class Meta:
        ordering = ["pk"]
        # What operators see in Stripe's and PayPal's dashboards is a "webhook"; the word stays.
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="webhook_event_once_per_provider"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type} {self.event_id}"
