from __future__ import annotations

import datetime as dt
import io
import zoneinfo

import pytest
from django.apps import apps
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from modeltranslation.utils import build_localized_fieldname

from apps.accounts.models import Merchant, MerchantMembership, User
from apps.catalog.models import Product, Warehouse
from apps.live import selectors
from apps.live.models import LiveRoom
from apps.live.providers.recordings import recording_url
from apps.orders.models import Order, OrderLine
from livemall.demo import MERCHANTS, PRODUCT_DESCRIPTIONS, seed_demo


def _snapshot() -> dict[str, list[tuple]]:
    """Every row of every model the seed touches, as plain values (password hashes included)."""
    out = {}
    for model in apps.get_models():
        if model._meta.app_label in {
            "accounts",
            "catalog",
            "live",
            "auth",
            "compliance",
            "money",
            "payments",
            "orders",
        }:
            out[model._meta.label] = sorted(model.objects.values_list(), key=repr)
    return out


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["us-east", "me-south"])
def test_seed_demo_twice_gives_the_same_rows(use_region, code):
    region = use_region(code)
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    first = _snapshot()
    call_command("seed_demo", stdout=io.StringIO())
    assert _snapshot() == first

    assert Merchant.objects.count() >= 3
    staff = User.objects.filter(memberships__role=MerchantMembership.Role.STAFF)
    assert staff.count() >= 3
    assert all(user.is_staff and not user.is_superuser for user in staff)
    assert LiveRoom.objects.filter(status=LiveRoom.Status.SCHEDULED).count() >= 3
    # Each merchant's warehouse packs in its own time, so the demo's delivery dates differ by merchant.
    handling = dict(Warehouse.objects.values_list("merchant__slug", "handling_days"))
    assert handling == {spec.slug: spec.handling_days for spec in MERCHANTS}
    assert len(set(handling.values())) > 1 and 0 in handling.values()
    product = Product.objects.first()
    for lang in region.languages:
        assert getattr(product, f"name_{lang.replace('-', '_')}"), lang
    printed = out.getvalue()
    assert "operator@livemall.example" in printed
    assert "staff@atelier-nova.example" in printed
    assert "livemall-demo" in printed


def _description(product: Product, language: str) -> str:
    return getattr(product, build_localized_fieldname("description", language))


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["eu-west", "ap-southeast", "me-south"])
def test_demo_shows_are_in_the_local_evening_and_every_product_is_described(use_region, code):
    region = use_region(code)
    # Seeded at 02:00 UTC (morning in Dubai and Singapore, the small hours in Dublin): shows still go out in the evening.
    now = timezone.now().astimezone(dt.UTC).replace(hour=2, minute=0, second=0, microsecond=0)
    seed_demo(region=region, now=now)

    zone = zoneinfo.ZoneInfo(region.time_zone)
    upcoming = LiveRoom.objects.filter(status=LiveRoom.Status.SCHEDULED)
    assert upcoming.count() == 3
    for room in upcoming:
        local_start = room.scheduled_start.astimezone(zone)
        assert 18 <= local_start.hour <= 21 and room.scheduled_start > now, (room.slug, local_start)
    products = Product.objects.all()
    assert products.count() == len(PRODUCT_DESCRIPTIONS)
    for product in products:
        for language in region.languages:
            assert _description(product, language) == PRODUCT_DESCRIPTIONS[product.slug][language]


@pytest.mark.django_db
def test_seeding_again_describes_demo_products_left_without_a_description(use_region):
    region = use_region("eu-west")
    seed_demo(region=region)
    # As seeded before the demo had descriptions; and one the merchant wrote themselves.
    Product.objects.filter(slug="silk-scarf").update(
        **{build_localized_fieldname("description", language): "" for language in region.languages}
    )
    Product.objects.filter(slug="ceramic-mug").update(description_de="Unsere eigene Beschreibung.")

    seed_demo(region=region)
    scarf = Product.objects.get(slug="silk-scarf")
    assert [_description(scarf, language) for language in region.languages] == [
        PRODUCT_DESCRIPTIONS["silk-scarf"][language] for language in region.languages
    ]
    mug = Product.objects.get(slug="ceramic-mug")
    assert mug.description_de == "Unsere eigene Beschreibung."
    assert mug.description_fr == PRODUCT_DESCRIPTIONS["ceramic-mug"]["fr"]


@pytest.fixture
def seed_committed(settings, django_capture_on_commit_callbacks):
    """``seed_committed()``: run seed_demo and then its on-commit work, as a real commit would.

    Payments through the test provider (whatever keys the environment has) and tasks in
    this process, so the payment's "succeeded" signal marks the show's orders paid.
    """
    from livemall.celery import app

    settings.STRIPE_SECRET_KEY = None
    settings.PAYPAL_CLIENT_ID = None
    settings.PAYMENT_TEST_PROVIDER = True
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True

    def run() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            call_command("seed_demo", stdout=io.StringIO())

    yield run
    app.conf.task_always_eager = before


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["us-east", "ap-southeast"])
def test_seed_demo_has_last_nights_show_with_its_stats(use_region, code, seed_committed, client):
    region = use_region(code)
    seed_committed()
    first = _snapshot()

    room = LiveRoom.objects.get(slug="atelier-nova-last-night")
    assert room.status == LiveRoom.Status.ENDED and room.stream_key == ""
    # Ended yesterday evening in the region's time zone, 45 minutes after it went live.
    local_end = room.ended_at.astimezone(zoneinfo.ZoneInfo(region.time_zone))
    assert local_end.date() == timezone.now().astimezone(local_end.tzinfo).date() - dt.timedelta(days=1)
    assert 19 <= local_end.hour <= 20 and room.ended_at - room.started_at == dt.timedelta(minutes=45)
    # Recording kept the way the end-of-show service keeps it: for the region's retention.
    assert room.recording_url == recording_url(room.slug)
    assert room.recording_retain_until == room.ended_at + dt.timedelta(days=region.recording_retention_days)

    stats = selectors.room_stats(room=room)
    counts = [viewers for _at, viewers in stats.samples]
    assert len(counts) == 45 and stats.peak_viewers == max(counts) >= 150
    assert counts[0] < stats.peak_viewers / 3 and counts[-1] < stats.peak_viewers / 3  # rises, then falls
    assert 280 <= stats.unique_viewers <= 340 and stats.live_seconds == 45 * 60
    assert stats.average_watch_seconds > 0 and stats.messages >= 140 and stats.likes >= 2400
    assert {"instagram", "newsletter", "www.google.com", "direct"} <= {source for source, _m, _n in stats.sources}
    paid = Order.objects.filter(status=Order.Status.PAID)
    assert 6 <= stats.orders == paid.count() <= 9 and stats.pinned_clicks >= 30
    [sales] = stats.revenue
    assert sales.currency == region.country(region.default_country).currency
    assert sales.orders == stats.orders and sales.revenue_minor > 0
    assert sales.revenue_minor == sum(line.total_minor for line in OrderLine.objects.filter(order__in=paid))
    assert len(stats.chart_points.split()) == 45

    seed_committed()  # a second run adds no show, visit, message or order
    assert _snapshot() == first

    # The merchant's stats page shows the figures and the chart (signing in changes last_login: after the snapshot).
    client.force_login(User.objects.get(email="owner@atelier-nova.example"))
    html = client.get(reverse("admin:live_liveroom_stats", args=[room.pk])).content.decode()
    assert f'data-testid="peak-viewers">{stats.peak_viewers}<' in html
    assert f'data-testid="unique-viewers">{stats.unique_viewers}<' in html and 'data-testid="viewer-chart"' in html
