"""The console's services: show lifecycle, recordings, pinning (compliance + price lock), coupons, giveaways."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from django.core import mail
from django.db import DataError
from django.test import override_settings
from django.utils import timezone

from apps.compliance.models import CertificationType as Cert
from apps.compliance.models import ProductAttribute as A
from apps.errors import ApplicationError
from apps.live import selectors, services
from apps.live.models import Danmaku, FlashCoupon, Giveaway, LiveRoom, PinnedProduct
from apps.live.providers import StreamProviderError
from apps.live.realtime.ids import IdGenerator
from regions import all_regions, load_region
from tests.catalog.factories import make_product, today
from tests.live.console_factories import load_fx_rates, schedule_room


@pytest.fixture
def room(db, merchant, region, live_settings):
    return schedule_room(merchant=merchant, region=region)


@pytest.fixture
def live_room(room, commit):
    return commit(services.live_room_start, room=room, provider="manual")


# --- lifecycle -----------------------------------------------------------------------------


def test_start_then_end_publishes_status_and_keeps_the_recording(room, commit, region, bus, settings):
    subscribe, events = bus
    subscribe(room)
    started = commit(services.live_room_start, room=room, provider="manual")
    assert started.status == LiveRoom.Status.LIVE and started.started_at is not None
    ended = commit(services.live_room_end, room=started, region=region)
    assert ended.status == LiveRoom.Status.ENDED
    assert ended.recording_url.endswith(f"/{room.slug}/")
    assert ended.recording_url.startswith(settings.LIVE_RECORDING_STORAGE)  # the region's own store
    assert ended.recording_retain_until >= ended.ended_at + dt.timedelta(days=region.recording_retention_days)
    assert [e["status"] for e in events() if e["type"] == "status"] == ["live", "ended"]


@pytest.mark.parametrize("status", ["live", "ended"])
def test_only_a_scheduled_room_starts(room, status):
    LiveRoom.objects.filter(pk=room.pk).update(status=status)
    room.refresh_from_db()
    with pytest.raises(ApplicationError) as err:
        services.live_room_start(room=room, provider="manual")
    assert err.value.code == "invalid_transition" and err.value.status == 409


@pytest.mark.parametrize("status", ["scheduled", "ended"])
def test_only_a_live_room_ends(room, region, status):
    LiveRoom.objects.filter(pk=room.pk).update(status=status)
    room.refresh_from_db()
    with pytest.raises(ApplicationError) as err:
        services.live_room_end(room=room, region=region)
    assert err.value.code == "invalid_transition"
    room.refresh_from_db()
    assert room.status == status and room.recording_url == ""


def test_manual_start_without_playback_url_changes_nothing(db, merchant, region, live_settings):
    room = schedule_room(merchant=merchant, region=region, playback_url="")
    with pytest.raises(ApplicationError) as err:
        services.live_room_start(room=room, provider="manual")
    assert err.value.code == "playback_url_required"
    room.refresh_from_db()
    assert room.status == LiveRoom.Status.SCHEDULED and room.started_at is None


# --- a start that fails leaves no stream at the provider ------------------------------------


def _unchanged(room: LiveRoom, status: str = LiveRoom.Status.SCHEDULED) -> None:
    room.refresh_from_db()
    assert room.status == status and room.started_at is None
    assert (room.stream_provider, room.stream_id, room.stream_key, room.ingest_url) == ("", "", "", "")


def test_a_start_refused_after_the_stream_was_created_deletes_it_at_the_provider(room, fake_mux, caplog):
    LiveRoom.objects.filter(pk=room.pk).update(status=LiveRoom.Status.ENDED)  # cancelled meanwhile; ``room`` is stale
    with caplog.at_level(logging.INFO, logger="apps.live.services"), pytest.raises(ApplicationError) as err:
        services.live_room_start(room=room, provider="mux")
    assert err.value.code == "invalid_transition"  # the original error, not the clean-up's
    (stream_id,) = fake_mux.streams
    assert fake_mux.deleted_streams == {stream_id}
    assert not fake_mux.requested("PUT", f"/video/v1/live-streams/{stream_id}/complete")  # deleted, not just ended
    _unchanged(room, status=LiveRoom.Status.ENDED)
    assert any(stream_id in r.getMessage() and "whose start failed" in r.getMessage() for r in caplog.records)


def test_a_start_whose_save_failed_and_whose_stream_the_provider_will_not_delete(room, fake_mux, caplog):
    dispatch = fake_mux._dispatch

    def answer(req):
        # An id too long for the room's column: the database refuses the save.
        status, body = dispatch(req)
        if req.method == "POST" and req.path == "/video/v1/live-streams":
            body = {"data": {**body["data"], "id": "x" * 301}}
        return status, body

    fake_mux._dispatch = answer
    fake_mux.fail_next = [None, 503]  # created; then Mux refuses to delete it
    with caplog.at_level(logging.ERROR, logger="apps.live.services"), pytest.raises(DataError):
        services.live_room_start(room=room, provider="mux")
    assert [r.method for r in fake_mux.requests] == ["POST", "DELETE"]
    assert fake_mux.requests[1].path == "/video/v1/live-streams/" + "x" * 301
    (record,) = [r for r in caplog.records if "delete it by hand" in r.getMessage()]
    assert "x" * 301 in record.getMessage() and "HTTP 503" in str(record.exc_info[1])
    _unchanged(room)


@pytest.mark.django_db(transaction=True)
def test_a_start_committed_before_the_live_event_failed_keeps_its_stream(merchant, region, live_settings, fake_mux):
    room = schedule_room(merchant=merchant, region=region)
    with socket.socket() as sock:  # a port where no Redis listens: publishing "live" fails after the commit
        sock.bind(("127.0.0.1", 0))
        dead_redis = f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
    with override_settings(REDIS_URL=dead_redis), pytest.raises(redis.ConnectionError):
        services.live_room_start(room=room, provider="mux")
    (stream_id,) = fake_mux.streams
    room.refresh_from_db()
    assert room.status == LiveRoom.Status.LIVE and room.stream_id == stream_id and room.stream_key
    assert not [r for r in fake_mux.requests if r.method != "POST"]  # the room's stream is left alone
    assert fake_mux.deleted_streams == set()


def test_a_start_with_ivs_in_an_unknown_region_is_a_provider_error(room, settings):
    settings.IVS_AWS_REGION = "eu-nowhere-9"
    with pytest.raises(StreamProviderError) as err:
        services.live_room_start(room=room, provider="ivs")
    assert err.value.status == 502 and "IVS_AWS_REGION" in err.value.detail
    _unchanged(room)


def _record(url: str, files: int = 3) -> Path:
    """What the encoder's recording leaves in the store: a few segments and a playlist."""
    folder = Path(urlsplit(url).path)
    (folder / "media" / "hls").mkdir(parents=True)
    for number in range(files - 1):
        (folder / "media" / "hls" / f"{number}.ts").write_bytes(b"\x47" * 188)
    (folder / "media" / "hls" / "master.m3u8").write_text("#EXTM3U\n")
    return folder


def test_recordings_are_deleted_after_retention_never_before(live_room, commit, region, caplog):
    ended = commit(services.live_room_end, room=live_room, region=region)
    retain_until = ended.recording_retain_until
    assert retain_until >= ended.ended_at + dt.timedelta(days=180)
    folder = _record(ended.recording_url)
    assert services.recordings_delete_expired(now=retain_until - dt.timedelta(seconds=1)) == []
    ended.refresh_from_db()
    assert ended.recording_url and ended.recording_deleted_at is None and folder.exists()
    with caplog.at_level(logging.INFO, logger="apps.live.services"):
        assert services.recordings_delete_expired(now=retain_until) == [ended.pk]
    ended.refresh_from_db()
    assert ended.recording_url == "" and ended.recording_deleted_at == retain_until
    assert not folder.exists() and folder.parent.exists()  # only this show's recording went
    assert any(ended.slug in r.getMessage() and "3 file(s)" in r.getMessage() for r in caplog.records)
    assert services.recordings_delete_expired(now=retain_until + dt.timedelta(days=1)) == []


def test_a_recording_the_store_could_not_delete_is_kept_and_tried_again(live_room, commit, region, caplog):
    ended = commit(services.live_room_end, room=live_room, region=region)
    blocker = Path(urlsplit(ended.recording_url).path)
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a folder")  # the store fails on it (as a full disk or a bucket policy would)
    with caplog.at_level(logging.WARNING, logger="apps.live.services"):
        assert services.recordings_delete_expired(now=ended.recording_retain_until) == []
    ended.refresh_from_db()
    assert ended.recording_url and ended.recording_deleted_at is None
    assert any("Could not delete" in r.getMessage() and ended.slug in r.getMessage() for r in caplog.records)

    blocker.unlink()
    folder = _record(ended.recording_url)
    assert services.recordings_delete_expired(now=ended.recording_retain_until) == [ended.pk]
    assert not folder.exists()


def test_beat_schedule_runs_the_retention_task():
    from livemall.celery import app

    assert any(e["task"] == "live.recordings_delete_expired" for e in app.conf.beat_schedule.values())


# --- pinning -------------------------------------------------------------------------------


def test_pin_locks_prices_per_currency_with_the_fx_snapshot(live_room, merchant, region, commit, bus):
    load_fx_rates()
    subscribe, events = bus
    subscribe(live_room)
    product = make_product(merchant, "silk-scarf", price_minor=4900)
    pin = commit(services.product_pin, room=live_room, product=product, region=region)
    variant = product.variants.get()
    assert pin.fx_snapshot_id is not None
    assert set(pin.prices[str(variant.pk)]) == set(region.currencies)
    assert pin.prices[str(variant.pk)]["USD"]["minor"] == 4900
    pinned = [e for e in events() if e["type"] == "pinned"][-1]["product"]
    # Written the way each viewer's locale writes prices; the page picks the viewer's.
    prices = pinned["prices"]
    assert pinned["id"] == product.pk and all(set(f) == set(region.currencies) for f in prices["formats"])
    assert prices["formats"][prices["by_locale"]["en_US"]]["USD"] == "$49.00"
    assert prices["formats"][prices["by_locale"]["en_CA"]]["USD"] == "US$49.00"
    assert prices["formats"][prices["by_locale"]["es_US"]]["USD"] == "$49.00"
    assert prices["formats"][prices["by_locale"]["pt_BR"]]["USD"] == "US$\xa049,00"
    live_room.refresh_from_db()
    assert live_room.live_state["pinned"]["pin"] == pin.pk  # in the reconnect snapshot

    lock = selectors.pinned_price_lock(live_room, variant, "cad")
    assert (
        lock.amount_minor == pin.prices[str(variant.pk)]["CAD"]["minor"] and lock.fx_snapshot_id == pin.fx_snapshot_id
    )
    # The lock holds while pinned even if the catalog price changes, and ends with the pin.
    variant.price_minor = 9900
    variant.save()
    assert selectors.pinned_price_lock(live_room, variant, "USD").amount_minor == 4900
    commit(services.product_unpin, room=live_room)
    assert selectors.pinned_price_lock(live_room, variant, "USD") is None
    assert selectors.pinned_price_lock(live_room, variant, "USD", at=pin.pinned_at).amount_minor == 4900
    live_room.refresh_from_db()
    assert live_room.live_state["pinned"] is None


def test_pinning_again_replaces_the_pin(live_room, merchant, region, commit):
    first = commit(services.product_pin, room=live_room, product=make_product(merchant, "a-one"), region=region)
    second = commit(services.product_pin, room=live_room, product=make_product(merchant, "a-two"), region=region)
    first.refresh_from_db()
    assert first.unpinned_at is not None and second.unpinned_at is None


def test_pin_forbidden_in_some_countries_needs_confirmation_and_is_recorded(live_room, merchant, region, commit):
    product = make_product(merchant, "red-sweets", attributes=(A.IS_FOOD,), e_numbers=("E123",))
    with pytest.raises(ApplicationError) as err:
        services.product_pin(room=live_room, product=product, region=region)
    assert err.value.code == "pin_needs_confirmation" and set(err.value.fields) == {"US"}
    assert not PinnedProduct.objects.exists()
    pin = commit(services.product_pin, room=live_room, product=product, region=region, accept_warnings=True)
    assert set(pin.warnings) == {"US"}
    live_room.refresh_from_db()
    assert live_room.live_state["pinned"]["not_sold_in"] == ["US"]


def test_pin_forbidden_everywhere_or_missing_certificate_is_refused(db, merchant, use_region, live_settings, commit):
    region = use_region("me-south")
    room = commit(services.live_room_start, room=schedule_room(merchant=merchant, region=region), provider="manual")
    missing = make_product(merchant, "dates-no-cert", attributes=(A.IS_FOOD,))
    expired = make_product(
        merchant,
        "dates-expired",
        attributes=(A.IS_FOOD,),
        certifications=((Cert.HALAL, today() + dt.timedelta(days=1)),),
    )
    expired.certifications.update(valid_until=today() - dt.timedelta(days=1))  # it ran out since
    for product in (missing, expired):
        with pytest.raises(ApplicationError) as err:
            services.product_pin(room=room, product=product, region=region, accept_warnings=True)
        assert err.value.code == "pin_forbidden" and set(err.value.fields) == set(region.country_codes)
    certified = make_product(
        merchant,
        "dates-halal",
        attributes=(A.IS_FOOD,),
        certifications=((Cert.HALAL, today() + dt.timedelta(days=90)),),
    )
    assert commit(services.product_pin, room=room, product=certified, region=region).warnings == {}
    assert PinnedProduct.objects.count() == 1


def test_pin_refuses_other_merchants_products_and_rooms_not_live(room, live_room, region, make_user):
    from apps.accounts import services as accounts

    other = accounts.merchant_create(name="Shop B", country="US", owner=make_user(email="b@shop-b.test"))
    foreign = make_product(other, "their-scarf")
    with pytest.raises(ApplicationError) as err:
        services.product_pin(room=live_room, product=foreign, region=region)
    assert err.value.code == "foreign_product"
    off_sale = make_product(live_room.merchant, "old-scarf", is_active=False)
    with pytest.raises(ApplicationError) as err:
        services.product_pin(room=live_room, product=off_sale, region=region)
    assert err.value.code == "product_not_on_sale"
    LiveRoom.objects.filter(pk=live_room.pk).update(status="ended")
    live_room.refresh_from_db()
    with pytest.raises(ApplicationError) as err:
        services.product_pin(room=live_room, product=make_product(live_room.merchant, "new-scarf"), region=region)
    assert err.value.code == "room_not_live"
    assert not PinnedProduct.objects.exists()


# --- flash coupons ---------------------------------------------------------------------


def test_a_pushed_coupon_is_a_checkout_coupon_limited_to_its_quantity(live_room, commit, region):
    # Checkout's side (uses taken, given back, refused) is in test_flash_coupon_checkout.py.
    coupon = commit(services.flash_coupon_push, room=live_room, discount_percent=20, quantity=3, minutes=5)
    live_room.refresh_from_db()
    assert live_room.live_state["coupon"]["remaining"] == 3 == coupon.remaining
    assert dt.datetime.fromisoformat(live_room.live_state["coupon"]["ends_at"]) == coupon.ends_at
    at_checkout = coupon.order_coupon
    assert (at_checkout.code, at_checkout.percent_off, at_checkout.max_redemptions) == (coupon.code, 20, 3)
    assert (at_checkout.valid_from, at_checkout.valid_until) == (coupon.starts_at, coupon.ends_at)
    assert at_checkout.countries == sorted(region.country_codes) and at_checkout.is_active


@pytest.mark.parametrize(
    ("discount", "quantity", "minutes", "field"),
    [
        (20, 0, 5, "quantity"),
        (0, 5, 5, "discount_percent"),
        (95, 5, 5, "discount_percent"),
        (20, 5, 0, "minutes"),
        ("20", 5, 5, "discount_percent"),
    ],
)
def test_bad_coupons_are_refused_and_nothing_is_written(live_room, discount, quantity, minutes, field):
    with pytest.raises(ApplicationError) as err:
        services.flash_coupon_push(room=live_room, discount_percent=discount, quantity=quantity, minutes=minutes)
    assert field in err.value.fields
    assert not FlashCoupon.objects.exists()


def test_ending_the_show_closes_pin_coupon_and_giveaway(live_room, merchant, region, commit):
    commit(services.product_pin, room=live_room, product=make_product(merchant, "scarf"), region=region)
    commit(services.flash_coupon_push, room=live_room, discount_percent=10, quantity=5, minutes=5)
    commit(services.giveaway_open, room=live_room, keyword="win", prize="A scarf", region=region)
    commit(services.live_room_end, room=live_room, region=region)
    live_room.refresh_from_db()
    assert live_room.live_state["pinned"] is None and live_room.live_state["coupon"] is None
    assert not FlashCoupon.objects.get().order_coupon.is_active  # its code no longer works at checkout
    assert not Giveaway.objects.filter(state=Giveaway.State.OPEN).exists()


# --- giveaways -------------------------------------------------------------------------


_ids = IdGenerator(node=7)


def _say(room, user, text):
    Danmaku.objects.create(
        id=_ids.next_id(), room=room, user=user, display_name=user.public_name, text=text, posted_at=timezone.now()
    )


def test_giveaway_is_auditable_fair_and_notifies_the_winner(live_room, region, commit, make_user, client, bus):
    subscribe, bus_events = bus
    subscribe(live_room)
    giveaway = commit(services.giveaway_open, room=live_room, keyword="Scarf", prize="A silk scarf", region=region)
    live_room.refresh_from_db()
    opened = live_room.live_state["giveaway"]
    before_the_draw = bus_events()
    assert [e["giveaway"] for e in before_the_draw if e["type"] == "giveaway"] == [opened]
    assert giveaway.seed not in json.dumps(before_the_draw)
    assert opened["state"] == "opened" and "seed" not in opened
    assert opened["seed_hash"] == giveaway.seed_hash
    assert opened["no_purchase_necessary_in"] == ["CA", "US"] and opened["not_open_in"] == ["BR"]

    fans = [make_user(display_name=f"Fan {i}", country="US") for i in range(4)]
    brazilian = make_user(display_name="Fan BR", country="BR")
    for fan in fans:
        _say(live_room, fan, "I want the SCARF please")
    _say(live_room, fans[0], "scarf again")  # one entry per person
    _say(live_room, brazilian, "scarf!")
    _say(live_room, make_user(display_name="Quiet"), "hello")
    _say(live_room, live_room.merchant.memberships.get().user, "scarf")  # the shop's own staff cannot win

    drawn = commit(services.giveaway_draw, giveaway=giveaway)
    # In order of entry (fans[0] entered first, once); the Brazilian and the staff are out.
    assert [e["user"] for e in drawn.entrants] == [f.pk for f in fans]
    assert [e["user"] for e in drawn.excluded] == [brazilian.pk]

    # Anyone can check, from what was published only (the event, then the audit JSON).
    published = next(e["giveaway"] for e in bus_events() if e["type"] == "giveaway")
    live_room.refresh_from_db()
    assert live_room.live_state["giveaway"] == published
    assert published["state"] == "drawn" and published["entrants"] == 4
    assert hashlib.sha256(published["seed"].encode()).hexdigest() == opened["seed_hash"]
    audit = client.get(published["audit_url"])
    assert audit.status_code == 200 and audit["Content-Type"] == "application/json"
    record = audit.json()
    ids = record["entrants"]
    assert len(ids) == published["entrants"] == record["entrants_count"] == len(set(ids))
    assert hashlib.sha256(",".join(ids).encode()).hexdigest() == published["entrants_digest"]
    assert record["seed"] == published["seed"] and record["seed_hash"] == opened["seed_hash"]
    index = int(hashlib.sha256(f"{published['seed']}:{','.join(ids)}".encode()).hexdigest(), 16) % len(ids)
    assert record["winner"] == {"index": index, "id": ids[index], "name": published["winner"]}
    assert published["winner_id"] == ids[index]
    assert "sha256(seed + ':' + ','.join(entrants))" in record["algorithm"]
    # ... and the published winner is the one the shop notifies.
    assert drawn.winner_name == published["winner"] and drawn.entrants[index]["user"] == drawn.winner_id
    # The public record names no one but the winner: no user ids, e-mails or countries.
    public = audit.content.decode()
    for person in [*fans, brazilian]:
        assert person.email not in public and f'"{person.pk}"' not in public
        assert person.public_name == published["winner"] or person.public_name not in public
    assert '"US"' not in public and '"BR"' not in public
    assert mail.outbox and mail.outbox[0].to == [drawn.winner.email]
    with pytest.raises(ApplicationError) as err:
        services.giveaway_draw(giveaway=giveaway)
    assert err.value.code == "giveaway_closed"


def test_draw_with_no_entrants_is_refused_and_leaves_it_open(live_room, region, commit):
    giveaway = commit(services.giveaway_open, room=live_room, keyword="scarf", prize="A scarf", region=region)
    with pytest.raises(ApplicationError) as err:
        services.giveaway_draw(giveaway=giveaway)
    assert err.value.code == "no_entrants"
    giveaway.refresh_from_db()
    assert giveaway.state == Giveaway.State.OPEN and giveaway.winner is None


def test_bad_giveaways_are_refused(live_room, region, commit):
    for keyword, prize in (("", "A scarf"), ("two words", "A scarf"), ("scarf", "")):
        with pytest.raises(ApplicationError):
            services.giveaway_open(room=live_room, keyword=keyword, prize=prize, region=region)
    commit(services.giveaway_open, room=live_room, keyword="scarf", prize="A scarf", region=region)
    with pytest.raises(ApplicationError) as err:
        services.giveaway_open(room=live_room, keyword="hat", prize="A hat", region=region)
    assert err.value.code == "giveaway_open"
    assert Giveaway.objects.count() == 1


def test_winner_index_is_the_documented_formula_over_the_list_in_draw_order():
    ids = ["5a", "3b", "9c", "1d"]
    expected = int(hashlib.sha256(b"abc:5a,3b,9c,1d").hexdigest(), 16) % 4
    assert services.giveaway_winner_index(seed="abc", entrant_ids=ids) == expected
    with pytest.raises(ApplicationError):
        services.giveaway_winner_index(seed="abc", entrant_ids=[])


def test_entrant_ids_are_stable_per_giveaway_and_unlinkable_across_giveaways():
    first = services.giveaway_entrant_id(giveaway_id=1, user_id=42)
    assert first == services.giveaway_entrant_id(giveaway_id=1, user_id=42)
    assert first != services.giveaway_entrant_id(giveaway_id=2, user_id=42)
    assert first != services.giveaway_entrant_id(giveaway_id=1, user_id=43)
    # Not a plain hash of the ids, which anyone could reverse by trying every user id.
    assert first not in {hashlib.sha256(s.encode()).hexdigest()[:16] for s in ("1:42", "42", "1-42", "142")}


@pytest.mark.parametrize("code", [region.code for region in all_regions()])
def test_pinned_prices_come_written_for_every_locale_the_region_serves(code):
    from django.utils.translation import to_locale

    from apps.money.formatting import format_money

    region = load_region(code)
    per_currency = {currency: {"minor": 123456} for currency in region.currencies}
    prices, _variants = services._pinned_variants(prices={"1": per_currency}, options={}, region=region)
    assert len(prices["formats"]) == len({tuple(f.items()) for f in prices["formats"]})  # each way once
    for language in region.languages:
        for country in region.countries:
            locale = f"{to_locale(language)}_{country.code}"
            written = prices["formats"][prices["by_locale"][locale]]
            for currency in region.currencies:
                assert written[currency] == format_money(123456, currency, locale), (locale, currency)
