"""What payments tells the floors above it. Orders listens; payments never imports orders.

Every signal is sent with ``send_robust`` after the transaction that recorded the outcome
has committed (``transaction.on_commit``), so a receiver sees the payment as stored and a
rolled-back outcome is never announced. A receiver's exception is logged, not raised:
receivers must be idempotent and may reconcile later through the selectors.

``sender`` is always :class:`apps.payments.models.Payment`. Keyword arguments:

``payment_succeeded``
    ``payment_id: int``, ``order_reference: str``, ``provider: str``, ``method: str``,
    ``amount_minor: int`` (what was captured), ``currency: str``.
``payment_failed``
    ``payment_id: int``, ``order_reference: str``, ``provider: str``, ``method: str``,
    ``reason: str``. An attempt failed; with Stripe the shopper may still retry the same
    payment, so a later ``payment_succeeded`` for it can follow.
``payment_refunded``
    ``payment_id: int``, ``refund_id: int``, ``order_reference: str``, ``provider: str``,
    ``amount_minor: int`` (this refund), ``currency: str``, ``refunded_minor: int`` (all
    succeeded refunds of the payment so far), ``fully_refunded: bool``; ``failed: bool`` (default
    False: a refund the provider said had succeeded failed since, and ``refunded_minor`` is the
    lower total) and ``reason: str`` (the provider's failure reason, if any).
"""

from django.dispatch import Signal

payment_succeeded = Signal()
payment_failed = Signal()
payment_refunded = Signal()
