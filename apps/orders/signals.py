"""What orders tells the floors above it (live listens); orders never imports them.

Like payments' signals, each is sent with ``send_robust`` after the transaction that
changed the data has committed (``transaction.on_commit``): a receiver sees the rows as
stored, a rolled-back change is never announced, and a receiver's exception is logged,
not raised.

``sender`` is always :class:`apps.orders.models.Coupon`. Keyword arguments:

``coupon_redemptions_changed``
    ``coupon_id: int``, ``code: str``, ``source: str`` (who handed the code out, e.g.
    ``"live-room:42"``; may be empty), ``remaining: int`` (uses left, read after the
    commit). Sent when an order used a limited coupon, or gave its use back (cancelled
    before payment, reservation expired).
"""

from django.dispatch import Signal

coupon_redemptions_changed = Signal()
