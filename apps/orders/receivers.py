"""Orders listens: payments' outcomes, and sign-in (to merge the anonymous cart and take the
session's guest orders into the account)."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from apps.orders import services
from apps.payments.signals import payment_refunded, payment_succeeded

SESSION_CART_KEY = "orders:cart_id"
# The references of the orders this browser session placed (``web.remember_order``).
SESSION_ORDERS_KEY = "orders:placed"


@receiver(payment_succeeded, dispatch_uid="orders.payment_succeeded")
def on_payment_succeeded(
    sender, *, order_reference: str, amount_minor: int, currency: str, provider: str, payment_id: int, **kwargs
) -> None:
    services.order_mark_paid(
        order_reference=order_reference,
        amount_minor=amount_minor,
        currency=currency,
        provider=provider,
        payment_id=payment_id,
    )


@receiver(payment_refunded, dispatch_uid="orders.payment_refunded")
def on_payment_refunded(
    sender,
    *,
    order_reference: str,
    refunded_minor: int,
    fully_refunded: bool,
    refund_id: int,
    amount_minor: int,
    currency: str,
    failed: bool = False,
    reason: str = "",
    **kwargs,
) -> None:
    services.order_record_refund(
        order_reference=order_reference,
        refunded_minor=refunded_minor,
        fully_refunded=fully_refunded,
        refund_id=refund_id,
        amount_minor=amount_minor,
        currency=currency,
        failed=failed,
        reason=reason,
    )


@receiver(user_logged_in, dispatch_uid="orders.merge_cart")
def on_sign_in(sender, *, request, user, **kwargs) -> None:
    session = getattr(request, "session", None)
    if session is None:
        return
    cart_id = session.pop(SESSION_CART_KEY, None)
    if isinstance(cart_id, int):
        services.cart_merge(user=user, anonymous_cart_id=cart_id)


@receiver(user_logged_in, dispatch_uid="orders.attach_session_orders")
def on_sign_in_attach_orders(sender, *, request, user, **kwargs) -> None:
    # Sign-up signs the new account in too, so this covers both. Which of the session's orders
    # join the account, and which the session forgets, is the service's rule.
    session = getattr(request, "session", None)
    if session is None:
        return
    references = session.get(SESSION_ORDERS_KEY)
    if isinstance(references, list) and references:
        session[SESSION_ORDERS_KEY] = services.orders_attach_to_user(user=user, references=references).kept
