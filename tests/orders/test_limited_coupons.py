"""Coupons with a limited number of uses: taken at checkout, given back before payment, announced on commit."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from apps.errors import ApplicationError
from apps.orders import services
from apps.orders.models import Coupon, Order, Reservation
from apps.orders.selectors import available_units, checkout_quote
from apps.orders.signals import coupon_redemptions_changed
from tests.orders.conftest import cart_with, checkout, shopper_for


def _limited(code: str = "FLASH-1", *, uses: int = 3, percent_off: int = 25, **kwargs) -> Coupon:
    now = timezone.now()
    params = {
        "code": code,
        "percent_off": percent_off,
        "valid_from": now - dt.timedelta(minutes=1),
        "valid_until": now + dt.timedelta(hours=1),
        "max_redemptions": uses,
        "source": "test:limited",
    }
    params.update(kwargs)
    return services.coupon_create(**params)


@pytest.fixture
def announced():
    """What orders told the floors above: (coupon code, remaining) per announcement."""
    heard: list[tuple[str, int]] = []

    def listen(sender, *, code: str, remaining: int, **kwargs) -> None:
        heard.append((code, remaining))

    coupon_redemptions_changed.connect(listen, dispatch_uid="tests.limited_coupons")
    yield heard
    coupon_redemptions_changed.disconnect(dispatch_uid="tests.limited_coupons")


@pytest.mark.django_db
class TestLimitedCoupons:
    def test_each_order_takes_one_use_and_it_is_announced_after_commit(self, stocked, on_commit, announced):
        variant = stocked("lamp", 10, price_minor=4000)
        coupon = _limited(uses=2)
        order = on_commit(checkout, cart_with(variant), coupon_code="flash-1")
        assert (order.coupon_id, order.discount_minor) == (coupon.pk, 1000)
        coupon.refresh_from_db()
        assert (coupon.redemptions, coupon.remaining) == (1, 1)
        assert announced == [("FLASH-1", 1)]

    def test_a_refused_checkout_announces_nothing(self, stocked, on_commit, announced):
        variant = stocked("lamp", 10, price_minor=4000)
        _limited(uses=2)
        with pytest.raises(ApplicationError) as err:
            on_commit(checkout, cart_with(variant), coupon_code="FLASH-1", expected_total_minor=1)
        assert err.value.code == "total_changed"
        assert announced == [] and Coupon.objects.get().redemptions == 0

    def test_a_coupon_without_limit_is_never_counted(self, stocked, on_commit, announced):
        Coupon.objects.create(
            code="ALWAYS",
            percent_off=10,
            valid_from=timezone.now() - dt.timedelta(days=1),
            valid_until=timezone.now() + dt.timedelta(days=1),
        )
        on_commit(checkout, cart_with(stocked("lamp", 10)), coupon_code="ALWAYS")
        assert Coupon.objects.get().redemptions == 0 and announced == []

    def test_used_up_is_refused_on_the_page_and_at_checkout_with_nothing_written(self, stocked, on_commit):
        variant = stocked("lamp", 10)
        _limited(uses=1)
        on_commit(checkout, cart_with(variant), coupon_code="FLASH-1")
        late = cart_with(variant)
        with pytest.raises(ApplicationError) as err:
            checkout_quote(cart=late, shopper=shopper_for(), coupon_code="FLASH-1")
        assert (err.value.code, err.value.status) == ("coupon_sold_out", 409)
        with pytest.raises(ApplicationError) as err:
            on_commit(checkout, late, coupon_code="FLASH-1")
        assert err.value.code == "coupon_sold_out"
        assert Order.objects.count() == 1 and Reservation.objects.count() == 1
        assert available_units([variant.pk])[variant.pk] == 9

    def test_cancel_and_expiry_give_the_use_back_once(self, stocked, on_commit, announced):
        variant = stocked("lamp", 10)
        _limited(uses=2)
        cancelled = on_commit(checkout, cart_with(variant), coupon_code="FLASH-1")
        expired = on_commit(checkout, cart_with(variant), coupon_code="FLASH-1")
        assert Coupon.objects.get().redemptions == 2
        on_commit(services.order_cancel, order=cancelled)
        Order.objects.filter(pk=expired.pk).update(reserved_until=timezone.now() - dt.timedelta(seconds=1))
        assert on_commit(services.order_release_expired, order_id=expired.pk) is True
        # Later tries change nothing: the order is no longer awaiting payment.
        assert on_commit(services.order_release_expired, order_id=expired.pk) is False
        with pytest.raises(ApplicationError):
            on_commit(services.order_cancel, order=cancelled)
        assert Coupon.objects.get().redemptions == 0
        assert announced == [("FLASH-1", 1), ("FLASH-1", 0), ("FLASH-1", 1), ("FLASH-1", 2)]

    def test_a_deactivated_coupon_is_refused(self, stocked):
        coupon = _limited()
        assert services.coupon_deactivate(coupon_id=coupon.pk) is True
        assert services.coupon_deactivate(coupon_id=coupon.pk) is False
        with pytest.raises(ApplicationError) as err:
            checkout(cart_with(stocked("lamp", 10)), coupon_code="FLASH-1")
        assert err.value.code == "coupon_expired"
        assert not Order.objects.exists()

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"code": "no spaces"}, "code"),
            ({"code": "X"}, "code"),
            ({"code": 42}, "code"),
            ({"percent_off": 0}, "percent_off"),
            ({"percent_off": 101}, "percent_off"),
            ({"percent_off": True}, "percent_off"),
            ({"uses": 0}, "max_redemptions"),
            ({"uses": "3"}, "max_redemptions"),
            ({"valid_until": timezone.now() - dt.timedelta(days=1)}, "valid_until"),
            ({"countries": ["us"]}, "countries"),
            ({"source": "x" * 41}, "source"),
        ],
    )
    def test_bad_coupons_are_refused_and_nothing_is_written(self, change, field):
        with pytest.raises(ApplicationError) as err:
            _limited(**change)
        assert err.value.code == "invalid_coupon" and field in err.value.fields
        assert not Coupon.objects.exists()

    def test_a_code_is_not_handed_out_twice_in_any_case(self):
        _limited("FLASH-1")
        with pytest.raises(ApplicationError) as err:
            _limited("flash-1")
        assert (err.value.code, err.value.status) == ("coupon_code_taken", 409)
        assert Coupon.objects.count() == 1

    def test_the_admin_shows_the_uses_and_keeps_them_when_the_limit_is_edited(self, client, operator, stocked):
        coupon = _limited(uses=3)
        client.force_login(operator)
        page = client.get(reverse("admin:orders_coupon_changelist"))
        assert page.status_code == 200 and b"test:limited" in page.content
        form_url = reverse("admin:orders_coupon_change", args=[coupon.pk])
        assert client.get(form_url).status_code == 200
        checkout(cart_with(stocked("lamp", 10)), coupon_code="FLASH-1")
        checkout(cart_with(stocked("vase", 10)), coupon_code="FLASH-1")  # while the operator's form is open
        data = {
            "code": "FLASH-1",
            "percent_off": "25",
            "amounts_off": "{}",
            "min_spend": "{}",
            "countries": "[]",
            "valid_from_0": coupon.valid_from.strftime("%Y-%m-%d"),
            "valid_from_1": coupon.valid_from.strftime("%H:%M:%S"),
            "valid_until_0": coupon.valid_until.strftime("%Y-%m-%d"),
            "valid_until_1": coupon.valid_until.strftime("%H:%M:%S"),
            "is_active": "on",
        }
        page = client.post(form_url, {**data, "max_redemptions": "1"})
        assert page.status_code == 200 and "max_redemptions" in page.context["adminform"].form.errors
        page = client.post(form_url, {**data, "max_redemptions": "5"})
        assert page.status_code == 302
        coupon.refresh_from_db()
        assert (coupon.max_redemptions, coupon.redemptions) == (5, 2)


@pytest.mark.django_db(transaction=True)
def test_ten_buyers_for_three_uses_make_exactly_three_orders(stocked):
    variant = stocked("race-lamp", 20)
    _limited("RACE-3", uses=3)
    carts = [cart_with(variant) for _ in range(10)]
    barrier = threading.Barrier(len(carts))
    results: list = [None] * len(carts)

    def buy(i: int) -> None:
        try:
            barrier.wait()
            results[i] = checkout(carts[i], coupon_code="RACE-3")
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=buy, args=(i,)) for i in range(len(carts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a checkout hung"
    placed = [r for r in results if isinstance(r, Order)]
    refused = [r for r in results if not isinstance(r, Order)]
    assert len(placed) == 3, refused[:3]
    assert all(isinstance(r, ApplicationError) and r.code == "coupon_sold_out" for r in refused), refused[:3]
    assert Order.objects.count() == 3 and Coupon.objects.get().redemptions == 3
    assert available_units([variant.pk])[variant.pk] == 17
