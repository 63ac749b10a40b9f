"""Writes about payments: create, capture, refund, and the provider webhooks.

Rules that hold across them:

- A provider is never called inside a transaction that holds our locks longer than the
  call needs: ``payment_create`` and ``payment_refund`` commit their row first (with its
  deterministic idempotency key) and call the provider afterwards, so a timeout leaves a
  row whose retry sends the *same* key and gets the *same* intent or refund back.
  ``payment_capture`` holds the reference's rows locked over the call, so two captures of
  one reference cannot both go out.
- Keys: ``order:<ref>:intent``, ``order:<ref>:capture``, ``order:<ref>:refund:<n>`` for
  the first payment attempt of a reference; a later attempt (another provider, another
  amount) inserts ``:attempt-<k>`` after the reference. A capture after the provider
  refused one (``capture-2``, ``capture-3`` ...) is a new request: the provider would replay
  its recorded refusal to the old key.
- Outcomes reach orders through :mod:`apps.payments.signals`, sent on commit.
- Unreachable providers surface as ``ApplicationError(code="provider_unavailable",
  status=503)`` whose message asks the shopper to try another method.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.errors import ApplicationError
from apps.money.formatting import format_money, reader_locale
from apps.parsers import is_text, json_texts
from apps.payments import breaker, registry, selectors
from apps.payments.models import (
    OPEN_STATUSES,
    PAID_STATUSES,
    REFUNDABLE_STATUSES,
    VOIDABLE_STATUSES,
    Payment,
    Refund,
    WebhookEvent,
)
from apps.payments.providers.base import (
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
    Provider,
    ProviderDeclined,
    ProviderUnavailable,
    RefundResult,
    RefundStatus,
    WebhookOutcome,
    WebhookRejected,
)
from apps.payments.signals import payment_failed, payment_refunded, payment_succeeded

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Letters, digits, '.', '_' and '-': a reference never contains the ':' our keys are built with.
REFERENCE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
COUNTRY_RE = re.compile(r"^[A-Z]{2}$")


# --- keys ---------------------------------------------------------------------------------


def _key_base(order_reference: str, attempt: int) -> str:
    return f"order:{order_reference}" if attempt == 1 else f"order:{order_reference}:attempt-{attempt}"


def intent_key(order_reference: str, attempt: int = 1) -> str:
    return f"{_key_base(order_reference, attempt)}:intent"


def capture_key(order_reference: str, attempt: int = 1, declined_before: int = 0) -> str:
    """One key per capture request: a retry after a lost answer reuses it, a capture after a refusal does not."""
    suffix = f"-{declined_before + 1}" if declined_before else ""
    return f"{_key_base(order_reference, attempt)}:capture{suffix}"


def refund_key(order_reference: str, number: int, attempt: int = 1) -> str:
    return f"{_key_base(order_reference, attempt)}:refund:{number}"


# --- shared steps -------------------------------------------------------------------------


def _unavailable(provider_name: str) -> ApplicationError:
    return ApplicationError(
        _("This payment method is not answering right now; please try another method."),
        code="provider_unavailable",
        fields={"provider": [provider_name]},
        status=503,
    )


def _provider_call(provider: Provider, func: Callable[[], T]) -> T:
    """One provider call through its circuit breaker; unreachable becomes the clean 503."""
    try:
        return breaker.call(provider.name, func)
    except ProviderUnavailable as exc:
        logger.warning("Payment provider %s unavailable: %s", provider.name, exc)
        raise _unavailable(provider.name) from exc


def _send_on_commit(signal: Signal, payment: Payment, **kwargs: object) -> None:
    def send() -> None:
        for receiver, result in signal.send_robust(sender=Payment, payment_id=payment.pk, **kwargs):
            if isinstance(result, Exception):
                logger.error("Receiver %r of a payment signal failed", receiver, exc_info=result)

    transaction.on_commit(send)


def _transition(
    payment: Payment,
    status: PaymentStatus,
    *,
    captured_minor: int | None = None,
    provider_capture_id: str = "",
    reason: str = "",
) -> bool:
    """Move ``payment`` (locked) to ``status`` if that is a legal step; queue the signal. Caller saves."""
    if status == payment.status or not payment.can_become(status):
        return False
    was_paid = payment.is_paid
    payment.status = status
    if payment.is_paid and not was_paid:
        _cancel_collection(payment)
    if provider_capture_id and not payment.provider_capture_id:
        payment.provider_capture_id = provider_capture_id
    if status == PaymentStatus.SUCCEEDED:
        payment.captured_minor = min(captured_minor or payment.amount_minor, payment.amount_minor)
        payment.failure_reason = ""
        others = Payment.objects.filter(order_reference=payment.order_reference, status__in=PAID_STATUSES)
        if others.exclude(pk=payment.pk).exists():
            logger.warning(
                "Reference %s is paid twice (payment %s succeeded too); refund one of them",
                payment.order_reference,
                payment.pk,
            )
        _send_on_commit(
            payment_succeeded,
            payment,
            order_reference=payment.order_reference,
            provider=payment.provider,
            method=payment.method,
            amount_minor=payment.captured_minor,
            currency=payment.currency,
        )
        _sync_refunded_status(payment)
    elif status == PaymentStatus.PROCESSING:
        # A retry of a declined intent is under way: the old decline no longer says anything.
        payment.failure_reason = ""
    elif status == PaymentStatus.FAILED:
        payment.failure_reason = reason[:255]
        _send_on_commit(
            payment_failed,
            payment,
            order_reference=payment.order_reference,
            provider=payment.provider,
            method=payment.method,
            reason=payment.failure_reason,
        )
    return True


def _record_result(payment: Payment, result: PaymentResult) -> bool:
    """Move ``payment`` (locked) to what the provider answered; queue the signal. Caller saves."""
    return _transition(
        payment,
        result.status,
        captured_minor=result.captured_minor,
        provider_capture_id=result.provider_capture_id,
        reason=result.failure_reason,
    )


def _save_captured(payment: Payment) -> None:
    """Save ``payment`` (locked); once captured, provider events that waited for it may apply."""
    payment.save()
    if payment.provider_capture_id:
        provider_name = payment.provider
        transaction.on_commit(lambda: webhook_events_retry(provider=provider_name))


def _sync_refunded_status(payment: Payment) -> None:
    """Payment status from its succeeded refunds (they may be recorded before the capture is)."""
    refunded = _refunded_minor(payment)
    if refunded <= 0 or payment.status not in REFUNDABLE_STATUSES:
        return
    status = PaymentStatus.REFUNDED if refunded >= payment.captured_minor else PaymentStatus.PARTIALLY_REFUNDED
    if status != payment.status and payment.can_become(status):
        payment.status = status


def _refunded_minor(payment: Payment) -> int:
    total = payment.refunds.filter(status=RefundStatus.SUCCEEDED).aggregate(total=Sum("amount_minor"))["total"]
    return total or 0


def _cancel_collection(paid: Payment) -> None:
    """``paid`` (locked) took the money: the courier must not collect it again at the door.

    The reference's cash-on-delivery attempts still open are cancelled in the same
    transaction, so a capture of one afterwards is refused (``payment_cancelled``). Locked in
    ``pk`` order after ``paid``, as :func:`payment_capture` locks them: any such attempt was
    started after ``paid`` (:func:`_attempt_for` refuses the other order), so no deadlock.
    """
    siblings = (
        Payment.objects.select_for_update()
        .filter(order_reference=paid.order_reference, status__in=OPEN_STATUSES)
        .exclude(pk=paid.pk)
        .order_by("pk")
    )
    for waiting in siblings:
        if selectors.payment_awaits_courier(payment=waiting) and _transition(waiting, PaymentStatus.CANCELLED):
            waiting.save(update_fields=["status", "updated_at"])
            logger.info(
                "Cash on delivery %s for %s cancelled: payment %s paid it",
                waiting.pk,
                paid.order_reference,
                paid.pk,
            )


def _configured(name: str) -> Provider:
    provider = registry.configured_provider(name)
    if provider is None:
        logger.error("Payment provider %s has payments but no keys any more", name)
        raise _unavailable(name)
    return provider


def _check_amount(amount_minor: object, *, field: str = "amount_minor") -> int:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise ApplicationError(
            _("The amount must be a whole positive number of minor units."),
            code="invalid_amount",
            # Translators: %(value)s is the amount as it was sent (12.5, "10", None).
            fields={field: [_("Received %(value)s.") % {"value": repr(amount_minor)[:40]}]},
        )
    return amount_minor


# --- create -------------------------------------------------------------------------------


def payment_create(
    *,
    order_reference: str,
    provider: str,
    method: str,
    amount_minor: int,
    currency: str,
    description: str = "",
    return_url: str = "",
    cancel_url: str = "",
    country: str = "",
) -> Payment:
    """Start paying ``amount_minor`` ``currency`` for ``order_reference`` with ``provider``/``method``.

    ``country`` is the shopper's (ISO 3166 alpha-2): some methods take a currency only from
    some countries (Stripe's Klarna), and the intent offers only what the shopper can use.

    Returns the :class:`Payment`; its ``next_action`` says what the page does next
    (``client_secret`` for the Stripe Payment Element, ``approval_url`` for PayPal, nothing
    for the test provider, whose payment has already succeeded). Calling it again for the
    same reference, provider, amount and currency returns the same payment and never a
    second intent. Refused with ``already_paid`` (409) when the reference is paid, and with
    ``cash_on_delivery_pending`` (409) when a courier is to collect its cash (any other
    provider, amount or currency would take the money twice).
    Call it outside your own transaction: it commits before it calls the provider.
    """
    fields: dict[str, list[str]] = {}
    if not isinstance(order_reference, str) or not REFERENCE_RE.match(order_reference):
        fields["order_reference"] = [_("1 to 64 letters, digits, '.', '_' or '-'.")]
    currency = currency.upper() if isinstance(currency, str) else ""
    region = settings.REGION
    if currency not in region.currencies:
        fields["currency"] = [
            # Translators: %(values)s lists currency codes: "USD, CAD, MXN, BRL".
            _("Not offered here; valid values: %(values)s") % {"values": ", ".join(region.currencies)}
        ]
    country = country.upper() if isinstance(country, str) else "" if country is None else "?"
    if country and not COUNTRY_RE.fullmatch(country):
        fields["country"] = [_("A country code of two letters, like DE.")]
    if fields:
        raise ApplicationError(_("The payment could not be started."), fields=fields)
    amount_minor = _check_amount(amount_minor)
    gateway = registry.offered_provider(
        provider, method=method, currency=currency, region=region, country=country or None
    )

    payment = _attempt_for(
        order_reference=order_reference, provider=provider, method=method, amount_minor=amount_minor, currency=currency
    )
    if payment.provider_payment_id:
        return payment  # created at the provider already: the same intent, not a second one

    request = PaymentRequest(
        order_reference=order_reference,
        amount_minor=amount_minor,
        currency=currency,
        method=method,
        methods=registry.provider_methods(provider, region=region, currency=currency, country=country or None),
        idempotency_key=payment.idempotency_key,
        description=description[:500],
        return_url=return_url,
        cancel_url=cancel_url,
        country=country,
    )
    try:
        result = _provider_call(gateway, lambda: gateway.create_payment(request))
    except ProviderDeclined as exc:
        # The provider refused to even start: this attempt is over, the next one gets a new key.
        Payment.objects.filter(pk=payment.pk, provider_payment_id="").update(
            status=PaymentStatus.CANCELLED, failure_reason=exc.message[:255], updated_at=timezone.now()
        )
        raise ApplicationError(exc.message, code="payment_declined") from exc
    return _record_created(payment.pk, result)


def _attempt_for(*, order_reference: str, provider: str, method: str, amount_minor: int, currency: str) -> Payment:
    """The open attempt to reuse, or a new committed one; refuses a paid reference."""
    for _try in range(3):
        with transaction.atomic():
            payments = list(Payment.objects.select_for_update().filter(order_reference=order_reference).order_by("pk"))
            if any(p.status in PAID_STATUSES for p in payments):
                raise ApplicationError(
                    _("This order is already paid."),
                    code="already_paid",
                    fields={"order_reference": [order_reference]},
                    status=409,
                )
            wanted = (provider, amount_minor, currency)
            if any(
                selectors.payment_awaits_courier(payment=p) and (p.provider, p.amount_minor, p.currency) != wanted
                for p in payments
            ):
                # The courier is on the way to collect: money taken another way would be taken twice.
                raise ApplicationError(
                    _(
                        "This order is paid in cash on delivery: the courier collects the money, "
                        "so it cannot be paid another way."
                    ),
                    code="cash_on_delivery_pending",
                    fields={"order_reference": [order_reference]},
                    status=409,
                )
            for p in reversed(payments):
                same = (p.provider, p.amount_minor, p.currency) == (provider, amount_minor, currency)
                if p.status == PaymentStatus.PROCESSING:
                    # The shopper's money is on its way: a second attempt could take it twice.
                    if same:
                        return p
                    raise ApplicationError(
                        _("A payment for this order is already being processed."),
                        code="payment_in_progress",
                        fields={"order_reference": [order_reference]},
                        status=409,
                    )
                if same and p.status in OPEN_STATUSES:
                    if p.method != method:
                        p.method = method
                        p.save(update_fields=["method", "updated_at"])
                    return p
            attempt = max((p.attempt for p in payments), default=0) + 1
            try:
                with transaction.atomic():
                    return Payment.objects.create(
                        order_reference=order_reference,
                        provider=provider,
                        method=method,
                        amount_minor=amount_minor,
                        currency=currency,
                        attempt=attempt,
                        idempotency_key=intent_key(order_reference, attempt),
                    )
            except IntegrityError:
                # A concurrent call created this attempt first and has committed: reuse it.
                continue
    raise ApplicationError(_("The payment could not be started; please retry."), code="conflict", status=409)


def _record_created(payment_id: int, result: PaymentResult) -> Payment:
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if not payment.provider_payment_id:
            payment.provider_payment_id = result.provider_payment_id
        elif payment.provider_payment_id != result.provider_payment_id:
            logger.error(
                "Provider %s answered key %s with %s, not %s",
                payment.provider,
                payment.idempotency_key,
                result.provider_payment_id,
                payment.provider_payment_id,
            )
        payment.next_action = result.next_action
        payment.client_secret = result.client_secret
        payment.approval_url = result.approval_url
        _record_result(payment, result)
        payment.save()
    return payment


# --- capture ------------------------------------------------------------------------------


def payment_capture(*, payment_id: int, amount_minor: int | None = None, locale: str | None = None) -> Payment:
    """Take the money of an approved or authorized payment (PayPal after approval, cash on delivery).

    Idempotent: a captured payment is returned as it is. Refused when another payment of
    the same reference is already paid, and (``payment_cancelled``, nothing asked of the
    provider) when the payment is cancelled or marked to be voided. A decline records the
    payment as failed (and sends ``payment_failed``) before the error is raised. Amounts in
    refusals are money in ``locale`` (the asker's ``request.shopper.locale``), and in minor
    units in the fields for API clients.
    """
    reference = Payment.objects.filter(pk=payment_id).values_list("order_reference", flat=True).first()
    if reference is None:
        raise ApplicationError(_("No such payment."), code="not_found", status=404)
    declined: ProviderDeclined | None = None
    with transaction.atomic():
        payments = list(Payment.objects.select_for_update().filter(order_reference=reference).order_by("pk"))
        payment = next(p for p in payments if p.pk == payment_id)
        if payment.status in REFUNDABLE_STATUSES or payment.status == PaymentStatus.REFUNDED:
            return payment
        if payment.void_requested_at is not None or payment.status == PaymentStatus.CANCELLED:
            # Nobody will have this money (its order was cancelled, the void may still wait for
            # the provider): taken now, it would only have to be refunded.
            raise ApplicationError(
                _("This payment is cancelled: its money cannot be taken any more."),
                code="payment_cancelled",
                fields={"payment_id": [str(payment.pk)]},
                status=409,
            )
        if any(p.status in PAID_STATUSES for p in payments if p.pk != payment.pk):
            raise ApplicationError(
                _("This order is already paid."),
                code="already_paid",
                fields={"order_reference": [reference]},
                status=409,
            )
        if payment.status not in (PaymentStatus.PENDING, PaymentStatus.AUTHORIZED, PaymentStatus.FAILED):
            raise ApplicationError(
                # Translators: %(status)s is the payment's status as the admin lists it ("Processing", "Cancelled").
                _("This payment cannot be captured: its status is “%(status)s”.")
                % {"status": payment.get_status_display()},
                code="not_capturable",
            )
        if not payment.provider_payment_id:
            raise ApplicationError(
                _("This payment was not created at the provider yet; start it again."), code="not_capturable"
            )
        amount = payment.amount_minor if amount_minor is None else _check_amount(amount_minor)
        if amount > payment.amount_minor:
            raise ApplicationError(
                _("Cannot capture more than the payment's amount."),
                code="invalid_amount",
                fields={
                    "amount_minor": [
                        _("At most %(amount)s can be captured.")
                        % {"amount": format_money(payment.amount_minor, payment.currency, locale or reader_locale())}
                    ],
                    # For API clients, in minor units, as a refund's `refundable_minor`.
                    "capturable_minor": [str(payment.amount_minor)],
                },
            )
        provider = _configured(payment.provider)
        key = capture_key(payment.order_reference, payment.attempt, payment.capture_declines)
        try:
            result = _provider_call(
                provider,
                lambda: provider.capture(
                    provider_payment_id=payment.provider_payment_id,
                    amount_minor=amount,
                    currency=payment.currency,
                    idempotency_key=key,
                ),
            )
        except ProviderDeclined as exc:
            declined = exc
            payment.capture_declines += 1
            _transition(payment, PaymentStatus.FAILED, reason=exc.message)
        else:
            if result.status == PaymentStatus.FAILED:
                payment.capture_declines += 1
            _record_result(payment, result)
        _save_captured(payment)
    if declined is not None:
        raise ApplicationError(declined.message, code="payment_declined")
    return payment


# --- cancel -------------------------------------------------------------------------------


def void_key(order_reference: str, attempt: int = 1) -> str:
    return f"{_key_base(order_reference, attempt)}:void"


def _void_waits(payment: Payment) -> bool:
    """Whether ``payment`` is marked to be voided and its provider has not voided it yet: an
    authorization, or an open intent the shopper could still complete (3-D Secure under way)."""
    if payment.void_requested_at is None:
        return False
    return payment.status in VOIDABLE_STATUSES


def payment_void_request(*, payment_id: int) -> Payment:
    """Note that nobody will take the money of this payment any more (its order was cancelled).

    No provider call, so it may run inside the caller's transaction (the order's cancel): the
    cancel and what it leaves to do commit together. An authorized one, and an open one its
    provider could still complete (a Stripe intent in 3-D Secure: the shopper may finish it
    after the cancel), is marked to be voided, which :func:`payment_cancel` does after the
    commit or, if the provider cannot be reached then, the retry sweep does
    (:func:`payments_void_unsettled`); it keeps its status until the provider answers. Any
    other open payment is cancelled at once (nothing remote holds it). Anything else is
    returned as it is.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().filter(pk=payment_id).first()
        if payment is None:
            raise ApplicationError(_("No such payment."), code="not_found", status=404)
        if payment.status in OPEN_STATUSES and not selectors.payment_voids_at_provider(payment=payment):
            _transition(payment, PaymentStatus.CANCELLED)
            payment.save()
        elif payment.status in VOIDABLE_STATUSES and payment.void_requested_at is None:
            payment.void_requested_at = timezone.now()
            payment.save(update_fields=["void_requested_at", "updated_at"])
    return payment


def payment_cancel(*, payment_id: int) -> Payment:
    """A payment nobody will complete or capture any more (the order was cancelled): cancelled.

    An open one whose provider has nothing to call off (PayPal before approval, cash on
    delivery) is recorded as cancelled without a provider call: nothing was taken. Should the
    provider still report money for it, that succeeds over the cancellation, and the order,
    being cancelled, refunds it.

    An authorized one holds the shopper's money, and an open Stripe intent could still take it
    (the shopper finishing 3-D Secure after the cancel): the provider voids it (Stripe cancels
    the intent) with the key ``order:<ref>:void``, the reference's payments locked over the call
    so that no capture crosses it. The request is committed first: if the provider cannot be
    reached, ``provider_unavailable`` is raised and the retry sweep asks again with the same
    key. A provider that will not void it (the intent was captured, or completed, meanwhile)
    is asked what the payment is now, and that is recorded; money captured after all is then
    refunded through the order, as any payment of a cancelled order is.
    """
    payment = payment_void_request(payment_id=payment_id)
    if not _void_waits(payment):
        return payment
    with transaction.atomic():
        locked = list(
            Payment.objects.select_for_update().filter(order_reference=payment.order_reference).order_by("pk")
        )
        payment = next(p for p in locked if p.pk == payment_id)
        if not _void_waits(payment):
            return payment
        provider = _configured(payment.provider)
        void = getattr(provider, "cancel", None)
        if void is None or not payment.provider_payment_id:
            # Nothing remote holds it (the provider has no authorizations to void, or never
            # heard of this one): cancelled here.
            _transition(payment, PaymentStatus.CANCELLED)
            payment.save()
            return payment
        key = void_key(payment.order_reference, payment.attempt)
        try:
            result = _provider_call(
                provider, lambda: void(provider_payment_id=payment.provider_payment_id, idempotency_key=key)
            )
        except ProviderDeclined as exc:
            logger.warning("%s would not void payment %s: %s; asking how it is", provider.name, payment.pk, exc.message)
            try:
                result = _provider_call(
                    provider,
                    lambda: provider.fetch(provider_payment_id=payment.provider_payment_id, currency=payment.currency),
                )
            except ProviderDeclined as unknown:
                raise ApplicationError(unknown.message, code="void_declined", status=409) from unknown
        _record_result(payment, result)
        _save_captured(payment)
    if _void_waits(payment):
        logger.error(
            "Payment %s for %s is still %s after its void", payment.pk, payment.order_reference, payment.status
        )
    return payment


def payments_void_unsettled(*, older_than: dt.timedelta) -> int:
    """Void again the payments of cancelled orders no provider has voided; returns how many it has now.

    Authorizations, and open intents the shopper could still complete (:func:`_void_waits`).
    Each goes through :func:`payment_cancel` with its own key, so a void the provider made
    (its answer lost) comes back the same. A provider still down keeps them for the next run.
    """
    waiting = selectors.payments_awaiting_void(requested_before=timezone.now() - older_than)
    done = 0
    for payment_id, reference in list(waiting.values_list("pk", "order_reference")):
        try:
            payment = payment_cancel(payment_id=payment_id)
        except ApplicationError as exc:
            logger.warning(
                "Void of payment %s for %s still waits: %s (%s)", payment_id, reference, exc.message, exc.code
            )
            continue
        except Exception:
            # Our own trouble with one payment must not keep the others' money held.
            logger.exception("Void of payment %s for %s failed; the next run tries again", payment_id, reference)
            continue
        done += not _void_waits(payment)
    return done


# --- the shopper comes back ---------------------------------------------------------------


# What the provider may still move on its own: an open payment, or one it is processing.
REFRESHABLE_STATUSES = OPEN_STATUSES | {PaymentStatus.PROCESSING}


def payment_refresh(*, payment_id: int) -> Payment:
    """Bring a payment up to date with what its provider says now; capture one the shopper approved.

    Called when the shopper comes back from the provider's page (Stripe's redirect after the
    Payment Element, PayPal's return URL) and, for PayPal, when its "order approved" event
    arrives: an approved PayPal order is money nobody has taken yet, and a shopper who
    closes the tab after approving must still get their order. Idempotent; a paid,
    cancelled or refunded payment is returned as it is, without a call.
    """
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None:
        raise ApplicationError(_("No such payment."), code="not_found", status=404)
    if payment.status not in REFRESHABLE_STATUSES or not payment.provider_payment_id:
        return payment
    provider = _configured(payment.provider)
    result = _provider_call(
        provider,
        lambda: provider.fetch(provider_payment_id=payment.provider_payment_id, currency=payment.currency),
    )
    if result.approved:
        return payment_capture(payment_id=payment.pk)
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        _record_result(payment, result)
        _save_captured(payment)
    return payment


def payment_return(*, order_reference: str, provider_payment_id: str) -> Payment | None:
    """The shopper is back from the provider with ``provider_payment_id`` in the URL.

    Only a payment of this very reference is refreshed: the id comes from a URL anyone can
    edit, so an id of another order, or of none, is ignored (``None``).
    """
    if not provider_payment_id or len(provider_payment_id) > 255:
        return None
    payment = (
        Payment.objects.filter(order_reference=order_reference, provider_payment_id=provider_payment_id)
        .order_by("-pk")
        .first()
    )
    if payment is None:
        return None
    return payment_refresh(payment_id=payment.pk)


def _queue_refresh(payment_id: int) -> None:
    # Imported here: tasks wrap services, so services reach them only at run time.
    from apps.payments import tasks

    try:
        tasks.payment_refresh.delay(payment_id)
    except Exception:
        # The broker is down: the shopper's return, or the provider's next delivery, refreshes it.
        logger.exception("Could not queue the refresh of payment %s", payment_id)


def payments_ask_providers(*, order_reference: str) -> bool:
    """Ask the providers how the open attempts of ``order_reference`` are, and record what they say.

    For the expiry sweep: a "processing" or "succeeded" webhook that never arrived would let
    it cancel an order the shopper has paid. Each attempt known to its provider is read
    (a GET: :meth:`Provider.fetch`) and the answer recorded by :func:`payment_refresh`,
    through the transitions webhooks take, so an answer its webhook also brings applies once.
    Providers with nothing remote (test, cash on delivery) answer without a call: no news.

    True when every provider answered, whatever it said. False when one could not be asked
    (unreachable, its circuit open): nothing can be concluded this time. An answer that is a
    refusal (an intent the provider does not know) is no news, logged. Call it outside your
    own transaction: it calls providers.
    """
    answered = True
    asked = selectors.payments_to_ask_about(order_reference=order_reference)
    for payment_id in list(asked.values_list("pk", flat=True)):
        try:
            payment_refresh(payment_id=payment_id)
        except ApplicationError as exc:
            if exc.code == "provider_unavailable":
                answered = False
            else:
                logger.warning("Asking about payment %s of %s: %s", payment_id, order_reference, exc.code)
        except ProviderDeclined as exc:
            logger.warning("The provider would not say how payment %s for %s is: %s", payment_id, order_reference, exc)
    return answered


# --- refund -------------------------------------------------------------------------------


def _refundable(payment: Payment, refunds: list[Refund]) -> int:
    """Captured, less the refunds that succeeded or are under way (``refunds``: all of the payment's)."""
    return payment.captured_minor - sum(r.amount_minor for r in refunds if r.status != RefundStatus.FAILED)


def _refund_write(payment: Payment, refunds: list[Refund], *, amount_minor: int, reason: str) -> Refund:
    """A pending refund of ``amount_minor`` with the payment's next refund key (payment locked)."""
    return Refund.objects.create(
        payment=payment,
        amount_minor=amount_minor,
        currency=payment.currency,
        reason=reason[:255],
        idempotency_key=refund_key(payment.order_reference, len(refunds) + 1, payment.attempt),
    )


def payment_refund(
    *,
    payment_id: int,
    amount_minor: int | None = None,
    reason: str = "",
    refund_id: int | None = None,
    locale: str | None = None,
) -> Refund:
    """Refund ``amount_minor`` (default: everything still refundable) of a captured payment.

    Refunds never add up to more than was captured (``over_refund``). If the provider could
    not be reached, the refund stays pending and the error is raised; calling again (with
    the same amount or none) retries that same refund with the same key, so it is never
    made twice. A declined refund is recorded as failed and frees its amount again.
    With ``refund_id`` (the sweep, :func:`refunds_retry_unsettled`) only that refund is
    retried: one the provider has acknowledged meanwhile is returned as it is, no new one made.
    Amounts in refusals are money in ``locale`` (the asker's ``request.shopper.locale``).
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().filter(pk=payment_id).first()
        if payment is None:
            raise ApplicationError(_("No such payment."), code="not_found", status=404)
        # A refund we already accepted is retried whatever the payment became since (a refund
        # made in the provider's dashboard): the provider replays it or declines it.
        if payment.status not in REFUNDABLE_STATUSES and refund_id is None:
            raise ApplicationError(
                # Translators: %(status)s is the payment's status as the admin lists it ("Pending", "Refunded").
                _("This payment cannot be refunded: its status is “%(status)s”. Only a captured payment can be.")
                % {"status": payment.get_status_display()},
                code="not_refundable",
            )
        refunds = list(payment.refunds.order_by("pk"))
        unsettled = [r for r in refunds if r.status == RefundStatus.PENDING and not r.provider_refund_id]
        if refund_id is not None:
            # Settled by the normal path since the sweep read it: a call without the refund's
            # row would make a second refund of the amount, so nothing is sent.
            refund = next((r for r in refunds if r.pk == refund_id), None)
            if refund is None:
                raise ApplicationError(_("No such refund of this payment."), code="not_found", status=404)
            if refund not in unsettled:
                return refund
        elif unsettled:
            refund = unsettled[0]
            if amount_minor is not None and amount_minor != refund.amount_minor:
                raise ApplicationError(
                    _("An earlier refund of %(amount)s is still unconfirmed; retry it first.")
                    % {"amount": format_money(refund.amount_minor, payment.currency, locale or reader_locale())},
                    code="refund_in_progress",
                    # For API clients, in minor units: the amount to retry with (or none).
                    fields={"unconfirmed_minor": [str(refund.amount_minor)]},
                    status=409,
                )
        else:
            refundable = _refundable(payment, refunds)
            amount = refundable if amount_minor is None else _check_amount(amount_minor)
            if amount <= 0 or amount > refundable:
                most = max(refundable, 0)
                raise ApplicationError(
                    _("That is more than can be refunded."),
                    code="over_refund",
                    fields={
                        "amount_minor": [
                            _("At most %(amount)s can be refunded.")
                            % {"amount": format_money(most, payment.currency, locale or reader_locale())}
                        ],
                        # For API clients, in minor units, as `total_changed` carries the current total.
                        "refundable_minor": [str(most)],
                    },
                )
            refund = _refund_write(payment, refunds, amount_minor=amount, reason=reason)
    provider = _configured(payment.provider)
    try:
        result = _provider_call(
            provider,
            lambda: provider.refund(
                provider_payment_id=payment.provider_payment_id,
                provider_capture_id=payment.provider_capture_id,
                amount_minor=refund.amount_minor,
                currency=payment.currency,
                idempotency_key=refund.idempotency_key,
            ),
        )
    except ProviderDeclined as exc:
        with transaction.atomic():
            Payment.objects.select_for_update().get(pk=payment.pk)
            Refund.objects.filter(pk=refund.pk, status=RefundStatus.PENDING).update(
                status=RefundStatus.FAILED, updated_at=timezone.now()
            )
        raise ApplicationError(exc.message, code="refund_declined") from exc
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        refund = Refund.objects.get(pk=refund.pk)
        _settle_refund(payment, refund, result)
    return refund


def payment_refund_remaining(*, payment_id: int, reason: str = "") -> Refund | None:
    """Write, pending, one refund of everything of a captured payment that no refund covers yet.

    No provider call, so it may run inside the caller's transaction (the order's cancel): the
    cancel and the money it owes commit together, and nothing owed depends on a call made
    afterwards. :func:`payment_refunds_send` sends it after the commit; if nobody does, the
    retry sweep does. Covered means succeeded or under way (a refund still waiting for its
    provider keeps its own amount and key); a declined refund's amount is owed again.
    ``None`` when nothing is left (another call wrote it already): twice writes once.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().filter(pk=payment_id).first()
        if payment is None:
            raise ApplicationError(_("No such payment."), code="not_found", status=404)
        if payment.status not in REFUNDABLE_STATUSES:
            return None
        refunds = list(payment.refunds.order_by("pk"))
        owed = _refundable(payment, refunds)
        if owed <= 0:
            return None
        return _refund_write(payment, refunds, amount_minor=owed, reason=reason)


def payment_refunds_send(*, payment_id: int) -> list[Refund]:
    """Send every refund of the payment no provider has acknowledged yet, oldest first, each with its key.

    Call it outside your transaction. Raises ``provider_unavailable`` at the first one the
    provider cannot take (they all wait, pending, for the retry sweep), and
    ``refund_declined`` after the others went out if the provider declined one.
    """
    waiting = Refund.objects.filter(payment_id=payment_id, status=RefundStatus.PENDING, provider_refund_id="")
    sent: list[Refund] = []
    declined: ApplicationError | None = None
    for refund_id in list(waiting.order_by("pk").values_list("pk", flat=True)):
        try:
            sent.append(payment_refund(payment_id=payment_id, refund_id=refund_id))
        except ApplicationError as exc:
            if exc.code != "refund_declined":
                raise
            declined = declined or exc
    if declined is not None:
        raise declined
    return sent


REFUND_OUTSIDE_NOTE_MAX = 500


def refund_outside_note_clean(note: object) -> str:
    """Staff's note of how they returned money outside the provider, checked: required, bounded."""
    note = note.strip() if isinstance(note, str) else ""
    if not note:
        raise ApplicationError(
            _("Say how the money was returned to the customer (for example: bank transfer, its reference)."),
            code="invalid_note",
            fields={"note": [_("This field is required.")]},
        )
    if len(note) > REFUND_OUTSIDE_NOTE_MAX:
        raise ApplicationError(
            _("Say how the money was returned in at most %(max)d characters.") % {"max": REFUND_OUTSIDE_NOTE_MAX},
            code="invalid_note",
            fields={"note": [_("At most %(max)d characters.") % {"max": REFUND_OUTSIDE_NOTE_MAX}]},
        )
    return note


def payment_refund_settle_outside(*, payment_id: int, amount_minor: int, note: str, by: str) -> Refund:
    """Record that staff returned ``amount_minor`` of a payment outside its provider (a bank transfer).

    For money no refund covers (the provider declined it): ``amount_minor`` must be exactly
    that, so a page read before a refund went through, or a second click, is refused
    (``not_owed``) instead of recording money twice. The refund is written succeeded with
    who, when and ``note`` (how it was returned), never sent to a provider nor retried, and
    ``payment_refunded`` tells orders as for any refund.
    """
    note = refund_outside_note_clean(note)
    with transaction.atomic():
        payment = Payment.objects.select_for_update().filter(pk=payment_id).first()
        if payment is None:
            raise ApplicationError(_("No such payment."), code="not_found", status=404)
        refunds = list(payment.refunds.order_by("pk"))
        owed = _refundable(payment, refunds)
        if payment.status not in REFUNDABLE_STATUSES or owed <= 0 or amount_minor != owed:
            raise ApplicationError(
                _("This refund is not owed any more: nothing of this payment is waiting to be returned."),
                code="not_owed",
                status=409,
            )
        refund = _refund_write(payment, refunds, amount_minor=owed, reason=f"returned outside {payment.provider}")
        _settle_refund(
            payment, refund, RefundResult(provider_refund_id="", status=RefundStatus.SUCCEEDED, amount_minor=owed)
        )
        refund.settled_outside_at = timezone.now()
        refund.settled_outside_by = by[:255]
        refund.settled_outside_note = note
        refund.save(update_fields=["settled_outside_at", "settled_outside_by", "settled_outside_note", "updated_at"])
    return refund


def _settle_refund(
    payment: Payment, refund: Refund, result: RefundResult, *, may_fail_after_success: bool = False, reason: str = ""
) -> bool:
    """Record what the provider says of ``refund`` (payment locked); True if its status changed.

    A succeeded refund becomes failed only with ``may_fail_after_success`` (the provider's
    newer event said so, see :func:`_apply_refund`); ``reason`` is the provider's why.
    """
    update = ["updated_at"]
    if result.provider_refund_id and not refund.provider_refund_id:
        refund.provider_refund_id = result.provider_refund_id
        update.append("provider_refund_id")
    changed = result.status != refund.status and refund.can_become(result.status)
    failed_after_success = changed and refund.status == RefundStatus.SUCCEEDED
    if failed_after_success and not may_fail_after_success:
        changed = failed_after_success = False
    if changed:
        refund.status = result.status
        update.append("status")
    refund.save(update_fields=update)
    if changed and refund.status == RefundStatus.SUCCEEDED:
        _sync_refunded_status(payment)
        payment.save(update_fields=["status", "updated_at"])
        _send_refunded(payment, refund, _refunded_minor(payment))
    elif failed_after_success:
        _refund_failed_after_success(payment, refund, reason=reason)
    return changed


def _refund_failed_after_success(payment: Payment, refund: Refund, *, reason: str) -> None:
    """``refund`` (just saved failed) had succeeded: the payment holds its amount again (payment locked).

    The payment's status is worked out again from the refunds that still stand. That step is
    outside ``PAYMENT_TRANSITIONS`` on purpose: there REFUNDED is final, so that a replayed
    "payment succeeded" can never reopen a refunded payment; this is not the payment's event
    but the refunds' sum going down. ``payment_refunded`` tells orders, with ``failed=True``
    and the lower total; no refund mail follows from it.
    """
    refunded = _refunded_minor(payment)
    if payment.status in (PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED):
        if refunded <= 0:
            payment.status = PaymentStatus.SUCCEEDED
        elif refunded < payment.captured_minor:
            payment.status = PaymentStatus.PARTIALLY_REFUNDED
        payment.save(update_fields=["status", "updated_at"])
    # Nothing retries it (the same card would fail again): someone has to return it another way.
    logger.error(
        "Refund %s of %s %s (minor units) for %s failed at %s after it had succeeded (%s); the customer is owed it",
        refund.pk,
        refund.amount_minor,
        refund.currency,
        payment.order_reference,
        payment.provider,
        reason or "no reason given",
    )
    _send_refunded(payment, refund, refunded, failed=True, reason=reason[:255])


def _send_refunded(payment: Payment, refund: Refund, refunded: int, **failure: object) -> None:
    """Tell orders, after commit, that ``refund`` settled and ``payment`` has ``refunded`` back in all
    (``failure``: ``failed=True`` and the provider's reason for a refund that failed after success)."""
    _send_on_commit(
        payment_refunded,
        payment,
        refund_id=refund.pk,
        order_reference=payment.order_reference,
        provider=payment.provider,
        amount_minor=refund.amount_minor,
        currency=refund.currency,
        refunded_minor=refunded,
        fully_refunded=refunded >= payment.captured_minor > 0,
        **failure,
    )


# The normal path (a cancellation, a staff refund) may still be waiting for its provider
# call this long after it committed the row: the sweep leaves such refunds to it.
REFUND_RETRY_GRACE = dt.timedelta(minutes=5)
# Unsettled this long, a refund is a customer still waiting for their money: operators are told.
REFUND_OVERDUE_AFTER = dt.timedelta(hours=24)


def refunds_retry_unsettled(*, older_than: dt.timedelta = REFUND_RETRY_GRACE) -> int:
    """Send again the refunds no provider has acknowledged; returns how many it has now.

    A cancellation or refund while the provider was unreachable leaves its refund pending
    without a provider id, and nothing else tries again: the customer's money would stay
    with us. Each is retried through :func:`payment_refund` with its own key, so one the
    provider did make (its answer lost) comes back the same, never twice. A provider still
    down (its breaker refuses fast) keeps its refunds for the next run; the others go on.
    Refunds unsettled for ``REFUND_OVERDUE_AFTER`` are logged at ERROR on every run.
    Authorizations whose void the provider has not taken are voided first
    (:func:`payments_void_unsettled`) and counted with the refunds.
    """
    now = timezone.now()
    # Authorizations of cancelled orders are money held too: voided by the same run.
    settled = payments_void_unsettled(older_than=older_than)
    for refund in list(selectors.refunds_unsettled(created_before=now - older_than)):
        reference = refund.payment.order_reference
        try:
            result = payment_refund(payment_id=refund.payment_id, refund_id=refund.pk)
        except ApplicationError as exc:
            if exc.code == "refund_declined":
                # Recorded as failed, its amount refundable again: only staff can decide now.
                logger.error(
                    "Refund %s of %s %s for %s was declined by %s: %s",
                    refund.pk,
                    refund.amount_minor,
                    refund.currency,
                    reference,
                    refund.payment.provider,
                    exc.message,
                )
                continue
            if exc.code != "provider_unavailable":
                logger.error("Retry of refund %s for %s refused: %s (%s)", refund.pk, reference, exc.message, exc.code)
            else:
                logger.warning(
                    "Refund %s for %s still unsettled: %s is unavailable", refund.pk, reference, refund.payment.provider
                )
        except Exception:
            # Our own trouble with one refund (a bug, a lost connection) must not keep the others waiting.
            logger.exception("Retry of refund %s for %s failed; the next run tries again", refund.pk, reference)
        else:
            if result.status != RefundStatus.PENDING or result.provider_refund_id:
                settled += 1
                continue
        if now - refund.created_at >= REFUND_OVERDUE_AFTER:
            logger.error(
                "Refund %s of %s %s (minor units) for %s is still unsettled at %s after %s; the customer is waiting",
                refund.pk,
                refund.amount_minor,
                refund.currency,
                reference,
                refund.payment.provider,
                now - refund.created_at,
            )
    return settled


# --- webhooks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookReceipt:
    event: WebhookEvent
    duplicate: bool


def webhook_receive(*, provider: str, body: bytes, headers: Mapping[str, str]) -> WebhookReceipt:
    """Verify one webhook delivery, store its event once, and apply it once.

    Refused (400 ``webhook_rejected``, nothing stored) when the signature is missing or
    wrong, or its timestamp is too old or in the future. A delivery of an event already
    stored changes nothing (``duplicate=True``). Events apply in any order: a status the
    payment cannot move to from where it is (a late "processing" after "succeeded") is
    recorded and ignored.
    """
    gateway = registry.webhook_provider(provider)
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    try:
        outcome = gateway.parse_webhook(body=body, headers=lowered)
        _check_storable(outcome)
    except WebhookRejected as exc:
        logger.warning("Rejected a %s webhook: %s", provider, exc)
        raise ApplicationError(str(exc), code="webhook_rejected") from exc
    except ProviderUnavailable as exc:
        logger.warning("Could not verify a %s webhook: %s", provider, exc)
        raise _unavailable(provider) from exc
    with transaction.atomic():
        event, created = WebhookEvent.objects.get_or_create(
            provider=provider,
            event_id=outcome.event_id[:255],
            defaults={"event_type": outcome.event_type[:100], "payload": dict(outcome.payload)},
        )
        if not created:
            return WebhookReceipt(event=event, duplicate=True)
        event.result = _apply(provider, outcome)[:255]
        if event.result != WAITING_FOR_PAYMENT:
            event.processed_at = timezone.now()
            # This event may be what an earlier one was waiting for.
            transaction.on_commit(lambda: webhook_events_retry(provider=provider))
        event.save(update_fields=["result", "processed_at"])
    return WebhookReceipt(event=event, duplicate=False)


def _check_storable(outcome: WebhookOutcome) -> None:
    """Refuse an event PostgreSQL cannot store: a NUL character (refused in text and in jsonb)
    or a lone surrogate (``"\\ud800"``: valid JSON, not UTF-8) anywhere in it would fail the
    insert with a 500. No provider sends either; a signed event with one is refused, nothing stored."""
    for text in json_texts([outcome.event_id, outcome.event_type, outcome.payload]):
        if not is_text(text):
            raise WebhookRejected("Webhook event carries a lone surrogate, which cannot be stored.")
        if "\x00" in text:
            raise WebhookRejected("Webhook event carries a NUL character, which cannot be stored.")


# An event about a payment we do not know yet (a refund whose capture our records have not
# caught up with) waits, stored, and is applied when the payment turns up; after this long
# it is given up and logged.
WAITING_FOR_PAYMENT = "waiting: unknown payment"
WEBHOOK_WAIT_LIMIT = dt.timedelta(days=3)


def webhook_events_retry(*, provider: str | None = None, now: dt.datetime | None = None) -> int:
    """Apply the stored events that were waiting for their payment; returns how many applied.

    Runs after every applied event and capture (on commit) and hourly from beat. Events go
    in the order they arrived, each in its own transaction, skipping one that another run
    holds; passes repeat while they make progress, since one event can be what the next waits for.
    """
    now = now or timezone.now()
    applied_in_all = 0
    while True:
        waiting = WebhookEvent.objects.filter(processed_at__isnull=True, result=WAITING_FOR_PAYMENT)
        if provider:
            waiting = waiting.filter(provider=provider)
        applied = 0
        for event_pk in list(waiting.order_by("pk").values_list("pk", flat=True)[:500]):
            with transaction.atomic():
                event = (
                    WebhookEvent.objects.select_for_update(skip_locked=True)
                    .filter(pk=event_pk, processed_at__isnull=True)
                    .first()
                )
                if event is None:
                    continue
                try:
                    outcome = registry.webhook_provider(event.provider).event_outcome(event.payload)
                except (ApplicationError, WebhookRejected) as exc:
                    event.result, event.processed_at = f"ignored: {exc}"[:255], now
                    event.save(update_fields=["result", "processed_at"])
                    continue
                result = _apply(event.provider, outcome)
                if result == WAITING_FOR_PAYMENT:
                    if now - event.received_at >= WEBHOOK_WAIT_LIMIT:
                        logger.warning("%s event %s never matched a payment; given up", event.provider, event.event_id)
                        event.result, event.processed_at = "ignored: unknown payment", now
                        event.save(update_fields=["result", "processed_at"])
                    continue
                event.result, event.processed_at = result[:255], now
                event.save(update_fields=["result", "processed_at"])
                applied += 1
        applied_in_all += applied
        if not applied:
            return applied_in_all


def _find_payment(provider: str, *, payment_id: str, key: str, capture_id: str) -> Payment | None:
    lookups = []
    if payment_id:
        lookups.append(Q(provider_payment_id=payment_id))
    if key:
        lookups.append(Q(idempotency_key=key))
    if capture_id:
        lookups.append(Q(provider_capture_id=capture_id))
    for lookup in lookups:
        payment = Payment.objects.select_for_update().filter(lookup, provider=provider).first()
        if payment is not None:
            return payment
    return None


def _apply(provider: str, outcome: WebhookOutcome) -> str:
    if outcome.status is None and outcome.refund is None:
        return "ignored: not about a payment"
    refund = outcome.refund
    payment = _find_payment(
        provider,
        payment_id=outcome.provider_payment_id or (refund.provider_payment_id if refund else ""),
        key=outcome.payment_key,
        capture_id=outcome.provider_capture_id or (refund.provider_capture_id if refund else ""),
    )
    if payment is None:
        logger.info("%s event %s is about no payment we know (yet); it waits", provider, outcome.event_id)
        return WAITING_FOR_PAYMENT
    if outcome.provider_payment_id and not payment.provider_payment_id:
        # The event overtook our own record of the provider's answer.
        payment.provider_payment_id = outcome.provider_payment_id
    if refund is not None:
        payment.save()
        return _apply_refund(payment, refund, occurred_at=outcome.occurred_at, failure_reason=outcome.failure_reason)
    before = payment.status
    if outcome.status != before and payment.can_become(outcome.status) and _stale(payment, outcome):
        payment.save()
        logger.info(
            "%s event %s is older than one already applied to payment %s", provider, outcome.event_id, payment.pk
        )
        return f"no change: {before} stays (older than an event already applied)"
    changed = _transition(
        payment,
        outcome.status,
        captured_minor=outcome.captured_minor,
        provider_capture_id=outcome.provider_capture_id,
        reason=outcome.failure_reason,
    )
    if outcome.provider_capture_id and not payment.provider_capture_id:
        payment.provider_capture_id = outcome.provider_capture_id
    payment.status_event_at = _newest(payment.status_event_at, outcome.occurred_at)
    payment.save()
    if outcome.approved and payment.status in OPEN_STATUSES:
        payment_id = payment.pk
        transaction.on_commit(lambda: _queue_refresh(payment_id))
        return f"{before}: approved, capture queued"
    return f"{before} -> {payment.status}" if changed else f"no change: {before} stays"


def _stale(payment: Payment, outcome: WebhookOutcome) -> bool:
    """Whether ``outcome`` happened before the newest event already applied to ``payment``.

    Providers do not deliver events in order: a "processing" sent before a "failed" may come
    after it, and moving the payment back would hold its order for days. The events' own
    times (the provider's clock) decide. Never for "succeeded": the provider's word that
    money moved is not ignored, and the transitions already keep it from going backward.
    Stripe dates events in whole seconds: one from the same second as the newest applied is
    not older, and the transitions decide, as they did before.
    """
    return outcome.status != PaymentStatus.SUCCEEDED and _older(outcome.occurred_at, payment.status_event_at)


def _older(occurred_at: dt.datetime | None, newest_applied: dt.datetime | None) -> bool:
    """Whether an event of ``occurred_at`` (provider's clock) happened before the newest one applied.

    An event or a row that does not say when is never older: the transitions decide.
    """
    return occurred_at is not None and newest_applied is not None and occurred_at < newest_applied


def _newest(newest_applied: dt.datetime | None, occurred_at: dt.datetime | None) -> dt.datetime | None:
    """The newest applied event's time once an event of ``occurred_at`` has been applied."""
    if occurred_at is None or (newest_applied is not None and newest_applied >= occurred_at):
        return newest_applied
    return occurred_at


def _refunds_fail_after_success(payment: Payment, occurred_at: dt.datetime | None) -> bool:
    """Whether an event of ``occurred_at`` about ``payment``'s refund may fail one that succeeded.

    Only a provider that documents refunds failing after success (its optional
    ``refunds_fail_after_success``: Stripe) and only an event that says when it happened,
    so that it can be judged newer than the "succeeded" (:func:`_older`); PayPal's refunds
    stay as they are.
    """
    provider = registry.configured_provider(payment.provider)
    return occurred_at is not None and bool(getattr(provider, "refunds_fail_after_success", False))


def _apply_refund(
    payment: Payment, result: RefundResult, *, occurred_at: dt.datetime | None = None, failure_reason: str = ""
) -> str:
    refund = None
    if result.provider_refund_id:
        refund = payment.refunds.filter(provider_refund_id=result.provider_refund_id).first()
    if refund is None and result.refund_key:
        refund = payment.refunds.filter(idempotency_key=result.refund_key).first()
    if refund is None:
        # Made outside our services (the provider's dashboard): money moved, so record it.
        if not result.provider_refund_id or result.amount_minor <= 0:
            return "ignored: refund without id or amount"
        refund = Refund.objects.create(
            payment=payment,
            amount_minor=result.amount_minor,
            currency=payment.currency,
            status=RefundStatus.PENDING,
            provider_refund_id=result.provider_refund_id,
            idempotency_key=f"{payment.provider}:{result.provider_refund_id}"[:200],
            reason="made at the provider",
        )
    before = refund.status
    if result.status != before and refund.can_become(result.status) and _older(occurred_at, refund.status_event_at):
        # Providers do not deliver in order: a "succeeded" sent before the "failed" already
        # applied would count money as returned that the customer never got, and nothing
        # would owe it to them any more. A "failed" older than the "succeeded" applied is the
        # same story the other way: the refund failed first and was then made after all.
        logger.info("Refund event is older than one already applied to refund %s", refund.pk)
        return f"refund no change: {before} stays (older than an event already applied)"
    changed = _settle_refund(
        payment,
        refund,
        result,
        may_fail_after_success=_refunds_fail_after_success(payment, occurred_at),
        reason=failure_reason,
    )
    newest = _newest(refund.status_event_at, occurred_at)
    if newest != refund.status_event_at:
        refund.status_event_at = newest
        refund.save(update_fields=["status_event_at", "updated_at"])
    return f"refund {before} -> {refund.status}" if changed else f"refund no change: {before} stays"
