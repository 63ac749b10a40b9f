"""Many viewers claim the same flash coupon at once: never more than its quantity, and the two counters agree."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from apps.errors import ApplicationError
from apps.live import services
from apps.live.models import FlashCoupon
from tests.live.console_factories import schedule_room


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_never_oversell(merchant, region, live_settings):
    room = services.live_room_start(room=schedule_room(merchant=merchant, region=region), provider="manual")
    coupon = services.flash_coupon_push(room=room, discount_percent=30, quantity=5, minutes=5)
    won, lost, failed = [], [], []
    start = threading.Barrier(24)

    def claim() -> None:
        try:
            start.wait()
            won.append(services.flash_coupon_claim(coupon=FlashCoupon.objects.get(pk=coupon.pk)))
        except ApplicationError as exc:
            lost.append(exc.code)
        except Exception as exc:  # reported by the assertion below, not lost in the thread
            failed.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim) for _ in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failed == []
    assert sorted(won) == [0, 1, 2, 3, 4]
    assert lost == ["coupon_sold_out"] * 19
    coupon.refresh_from_db()
    assert coupon.remaining == 0
