"""Live listens: orders' news about the coupons a show handed out."""

from __future__ import annotations

from django.dispatch import receiver

from apps.live import services
from apps.live.models import FLASH_COUPON_SOURCE_PREFIX
from apps.orders.signals import coupon_redemptions_changed


@receiver(coupon_redemptions_changed, dispatch_uid="live.coupon_redemptions_changed")
def on_coupon_redemptions_changed(sender, *, coupon_id: int, source: str, **kwargs) -> None:
    # Coupons handed out elsewhere (a campaign, an operator) are no show's business.
    if source.startswith(FLASH_COUPON_SOURCE_PREFIX):
        services.flash_coupon_remaining_publish(order_coupon_id=coupon_id)
