"""Show stats: who watched (and from where), how they engaged, and what the show sold."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.live import selectors, services
from apps.live.models import LiveRoom, PinnedProduct, RoomVisit, ViewerSample
from apps.live.realtime.ids import IdGenerator
from apps.live.realtime.writer import insert_danmaku, insert_watch_sessions
from apps.orders import services as orders
from tests.live.console_factories import report_viewers, schedule_room
from tests.orders.conftest import checkout

pytestmark = pytest.mark.usefixtures("payments_by_test_provider")


# --- Where viewers come from -------------------------------------------------------------


@pytest.mark.parametrize(
    ("utm", "referrer", "expected"),
    [
        (("Instagram", "Social", "Black Friday"), "", ("instagram", "social", "black friday")),
        (("  newsletter ", "", ""), "www.google.com", ("newsletter", "", "")),
        (("", "email", "x"), "www.google.com", ("www.google.com", "referral", "")),
        (("", "", ""), "shop.example", ("direct", "", "")),  # our own pages are no source
        (("", "", ""), "", ("direct", "", "")),
        (("", "", ""), "exa mple.com", ("direct", "", "")),  # not a host name
        (("", "", ""), "<script>", ("direct", "", "")),
        (("x" * 500, "", ""), "", ("x" * services.TRAFFIC_FIELD_LENGTH, "", "")),
    ],
)
def test_traffic_source_prefers_utm_tags_then_the_referring_site(utm, referrer, expected):
    source = services.traffic_source(
        utm_source=utm[0], utm_medium=utm[1], utm_campaign=utm[2], referrer_host=referrer, own_host="shop.example"
    )
    assert source == expected


def test_the_room_page_counts_each_viewer_once_with_their_first_source(client, live_room, make_user, settings):
    url = reverse("live:room", args=[live_room.slug])
    assert client.get(url, {"utm_source": "instagram", "utm_medium": "story"}).status_code == 200
    assert client.get(url, {"utm_source": "tiktok"}).status_code == 200  # the same viewer again
    visit = RoomVisit.objects.get(room=live_room)
    assert (visit.source, visit.medium, visit.user) == ("instagram", "story", None)
    # The session key is a credential: only a hash of it is kept.
    assert visit.visitor_key.startswith("session:") and client.session.session_key not in visit.visitor_key

    from_search = Client()
    assert from_search.get(url, HTTP_REFERER="https://www.google.com/search?q=live").status_code == 200
    signed_in, shopper = Client(), make_user()
    signed_in.force_login(shopper)
    assert signed_in.get(url, HTTP_REFERER="http://testserver/").status_code == 200  # from our own pages

    sources = {v.source: (v.medium, v.visitor_key, v.user) for v in RoomVisit.objects.filter(room=live_room)}
    assert sources.keys() == {"instagram", "www.google.com", "direct"}
    assert sources["www.google.com"][0] == "referral" and sources["www.google.com"][1].startswith("session:")
    assert sources["direct"] == ("", f"user:{shopper.pk}", shopper)


@pytest.mark.parametrize("referrer", ["http://[::1", "http://exa mple.com:99999/", "\x00"])
def test_a_malformed_referrer_is_no_source_and_no_error(client, live_room, referrer):
    response = client.get(reverse("live:room", args=[live_room.slug]), HTTP_REFERER=referrer)
    assert response.status_code == 200
    assert RoomVisit.objects.get(room=live_room).source == "direct"


def test_an_ended_show_counts_no_viewers(client, live_room, commit, region):
    ended = commit(services.live_room_end, room=live_room, region=region)
    assert ended.status == LiveRoom.Status.ENDED
    assert client.get(reverse("live:room", args=[live_room.slug])).status_code == 200
    assert not RoomVisit.objects.exists()


# --- Concurrent viewers, sampled every minute ---------------------------------------------


def test_sampling_stores_each_live_rooms_viewers_once_a_minute(live_room, merchant, region):
    scheduled = services.live_room_schedule(
        region=region,
        merchant=merchant,
        slug="later-show",
        titles={region.default_language: "Later"},
        language=region.default_language,
        starts_at=timezone.now() + dt.timedelta(days=1),
        ends_at=timezone.now() + dt.timedelta(days=1, hours=1),
    )
    report_viewers(live_room.pk, 120, 80)
    report_viewers(scheduled.pk, 7)
    at = timezone.now().replace(second=5, microsecond=0)

    assert services.viewer_counts_sample(now=at) == 1
    sample = ViewerSample.objects.get()
    assert (sample.room_id, sample.viewers, sample.at) == (live_room.pk, 200, at.replace(second=0))

    # A retried task within the same minute overwrites that minute; it never adds a second row.
    report_viewers(live_room.pk, 150, 80)
    assert services.viewer_counts_sample(now=at + dt.timedelta(seconds=40)) == 1
    assert list(ViewerSample.objects.values_list("viewers", flat=True)) == [230]

    assert services.viewer_counts_sample(now=at + dt.timedelta(minutes=1)) == 1
    assert list(ViewerSample.objects.order_by("at").values_list("viewers", flat=True)) == [230, 230]


# --- The figures ---------------------------------------------------------------------------


def _buy_from_the_show(room, product, region, *, quantity: int = 1):
    cart = orders.cart_for(user=None)
    services.pinned_product_to_cart(
        room=room, cart=cart, variant_id=product.variants.get().pk, quantity=quantity, country=region.default_country
    )
    return checkout(cart)


def _watched(room, minutes_by_visitor: dict[str, tuple[float, float]]) -> None:
    """Stays with the socket open (from, to minutes after the show started), stored as the socket processes store them."""
    start = room.started_at
    insert_watch_sessions(
        [
            {
                "id": n,
                "room_id": room.pk,
                "visitor_key": visitor,
                "connected_at": start + dt.timedelta(minutes=begin),
                "last_seen_at": start + dt.timedelta(minutes=end),
            }
            for n, (visitor, (begin, end)) in enumerate(minutes_by_visitor.items(), start=1)
        ]
    )


def _post_messages(room, user, texts: list[str], *, rejected: int = 0) -> None:
    ids = IdGenerator(node=1)
    now = timezone.now()
    rows = [
        {
            "id": ids.next_id(),
            "room_id": room.pk,
            "user_id": user.pk,
            "display_name": "Ana",
            "text": text,
            "posted_at": now,
            "verdict": "rejected" if n < rejected else "shown",
        }
        for n, text in enumerate(texts)
    ]
    insert_danmaku(rows)


def test_room_stats_add_up_audience_engagement_and_paid_sales(live_room, scarf, region, commit, make_user, client):
    start = live_room.started_at
    for minute, per_process in enumerate([(10,), (30, 20), (40,)]):
        report_viewers(live_room.pk, *per_process, *([0] * (2 - len(per_process))))
        services.viewer_counts_sample(now=start + dt.timedelta(minutes=minute + 1))
    url = reverse("live:room", args=[live_room.slug])
    for n in range(5):  # five distinct visitors, two of them from one campaign
        viewer = Client()
        viewer.get(url, {"utm_source": "newsletter"} if n < 2 else {})
    # Four of them watched (2, 4, 6 and 8 minutes); the fifth only visited the page.
    visitors = list(RoomVisit.objects.filter(room=live_room).order_by("pk").values_list("visitor_key", flat=True))
    _watched(live_room, {visitor: (1, 1 + 2 * (n + 1)) for n, visitor in enumerate(visitors[:4])})
    _post_messages(live_room, make_user(), ["hi", "love it", "spam"], rejected=1)
    services.live_room_likes_save(room_id=live_room.pk, total=321)

    commit(services.product_pin, room=live_room, product=scarf, region=region)
    paid = _buy_from_the_show(live_room, scarf, region, quantity=2)
    commit(orders.order_pay, order=paid)
    _buy_from_the_show(live_room, scarf, region)  # placed, never paid: no sale
    elsewhere = orders.cart_for(user=None)  # bought from the catalog, not from the show
    orders.cart_line_add(cart=elsewhere, variant_id=scarf.variants.get().pk, quantity=1, country="US")
    commit(orders.order_pay, order=checkout(elsewhere))

    live_room.refresh_from_db()
    stats = selectors.room_stats(room=live_room, now=start + dt.timedelta(minutes=10))
    assert (stats.peak_viewers, stats.average_viewers) == (50, round((10 + 50 + 40) / 3, 1))
    assert stats.unique_viewers == 4  # who had the show open while live, not who visited its page
    assert stats.live_seconds == 600
    assert stats.average_watch_seconds == (2 + 4 + 6 + 8) * 60 // 4
    assert (stats.messages, stats.likes) == (2, 321)
    assert stats.pinned_clicks == 2 == PinnedProduct.objects.get(room=live_room).buy_clicks
    assert stats.orders == 1 and stats.conversion_rate == 0.25
    [usd] = stats.revenue
    assert (usd.currency, usd.orders, usd.revenue_minor, usd.average_order_minor) == ("USD", 1, 9800, 9800)
    assert stats.sources == [("direct", "", 3), ("newsletter", "", 2)]
    points = stats.chart_points.split()
    assert len(points) == 3 and points[0] == f"0.0,{selectors.CHART_HEIGHT - 10 / 50 * selectors.CHART_HEIGHT:.1f}"
    assert points[1].endswith(",0.0")  # the peak touches the top


def test_a_show_nobody_watched_has_zeros_not_errors(make_room, live_settings):
    stats = selectors.room_stats(room=make_room(status="scheduled"))
    assert (stats.peak_viewers, stats.unique_viewers, stats.orders, stats.conversion_rate) == (0, 0, 0, 0.0)
    assert stats.revenue == [] and stats.chart_points == "" and stats.average_watch_seconds == 0


# --- The page in the console ---------------------------------------------------------------


def test_staff_see_their_shows_stats_and_not_another_merchants(client, staff_a, live_room, merchant_b, region):
    foreign = schedule_room(merchant=merchant_b, region=region, slug="b-show")
    report_viewers(live_room.pk, 12)
    services.viewer_counts_sample()
    client.get(reverse("live:room", args=[live_room.slug]), {"utm_source": "instagram"})
    _watched(live_room, {RoomVisit.objects.get(room=live_room).visitor_key: (0, 3)})

    client.force_login(staff_a)
    page = client.get(reverse("admin:live_liveroom_stats", args=[live_room.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="peak-viewers">12<' in html
    assert 'data-testid="unique-viewers">1<' in html
    assert 'data-testid="viewer-chart"' in html and "instagram" in html
    assert client.get(reverse("admin:live_liveroom_stats", args=[foreign.pk])).status_code == 404
    changelist = client.get(reverse("admin:live_liveroom_changelist")).content.decode()
    assert reverse("admin:live_liveroom_stats", args=[live_room.pk]) in changelist
    assert reverse("admin:live_liveroom_stats", args=[foreign.pk]) not in changelist


def test_the_stats_page_needs_a_console_user(client, live_room, make_user):
    url = reverse("admin:live_liveroom_stats", args=[live_room.pk])
    assert client.get(url).status_code == 302  # to the admin sign-in
    client.force_login(make_user())
    assert client.get(url).status_code in (302, 403)
