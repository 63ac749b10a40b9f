from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.accounts.models import Merchant


class LiveRoom(models.Model):
    """A merchant's live show: scheduled, then live, then ended. Times are stored in UTC."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        LIVE = "live", _("Live")
        ENDED = "ended", _("Ended")

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="live_rooms")
    slug = models.SlugField(_("slug"), max_length=120, unique=True)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    language = models.CharField(_("language"), max_length=10)
    scheduled_start = models.DateTimeField(_("scheduled start"))
    scheduled_end = models.DateTimeField(_("scheduled end"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    playback_url = models.URLField(
        _("playback URL"), max_length=500, blank=True, help_text=_("HLS (.m3u8) address viewers play.")
    )
    # What a (re)connecting viewer needs besides chat: the pinned product, the open coupon
    # and the giveaway, as last published (see services.room_publish_event). Kept here so
    # that a Redis restart loses nothing.
    live_state = models.JSONField(_("live state"), default=dict, blank=True)
    # Likes are counted in Redis; this copy is refreshed every few seconds and heals the
    # Redis counter if Redis lost it.
    likes_total = models.BigIntegerField(_("likes"), default=0)
    cover_image = models.ImageField(_("cover image"), upload_to="live/covers/%Y/%m/", blank=True)
    # The stream the merchant's encoder (OBS) sends to, from the provider chosen when the
    # show starts (apps.live.providers); the key is shown to the merchant only.
    stream_provider = models.CharField(_("stream provider"), max_length=20, blank=True)
    stream_id = models.CharField(_("provider stream id"), max_length=300, blank=True)
    ingest_url = models.CharField(_("RTMP ingest URL"), max_length=500, blank=True)
    stream_key = models.CharField(_("stream key"), max_length=300, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    # The recording stays in the region's own storage location, or at the provider that
    # keeps it (Mux: mux://assets/<id>,<id>...); never deleted before retain_until (the
    # region's recording retention after the show ended). Text: a show whose encoder
    # reconnected many times has as many Mux assets, and ending it must not fail on length.
    recording_url = models.TextField(_("recording"), blank=True)
    # A recording copied into the region's store whose assets Mux has not yet confirmed
    # deleted (mux://assets/...); the hourly sweep deletes them there and clears this.
    mux_recording_to_delete = models.TextField(_("recording still to delete at Mux"), blank=True, editable=False)
    recording_retain_until = models.DateTimeField(_("keep recording until"), null=True, blank=True)
    recording_deleted_at = models.DateTimeField(_("recording deleted at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["scheduled_start", "id"]
        verbose_name = _("live room")
        verbose_name_plural = _("live rooms")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scheduled_end__gt=models.F("scheduled_start")), name="live_room_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return self.title


class Danmaku(models.Model):
    """One chat message posted in a room, kept for moderation review and for the replay.

    The id is assigned by the posting process before the message is broadcast (time in
    the high bits, see ``realtime.ids``) so that the row written later in a batch and the
    event viewers already saw share it, and ordering by id is ordering by time.
    """

    class Verdict(models.TextChoices):
        SHOWN = "shown", _("Shown")
        MASKED = "masked", _("Shown with words masked")
        REJECTED = "rejected", _("Rejected")

    id = models.BigIntegerField(primary_key=True)
    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="danmaku")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="danmaku")
    display_name = models.CharField(_("display name"), max_length=60)
    text = models.TextField(_("text as shown"))
    original_text = models.TextField(_("text as typed"), blank=True, help_text=_("Kept when moderation changed it."))
    verdict = models.CharField(_("verdict"), max_length=10, choices=Verdict.choices, default=Verdict.SHOWN)
    matched_words = models.JSONField(_("matched words"), default=list, blank=True)
    posted_at = models.DateTimeField(_("posted at"))
    removed_at = models.DateTimeField(_("removed at"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("chat message")
        verbose_name_plural = _("chat messages")
        indexes = [models.Index(fields=["room", "id"], name="live_danmaku_room_id")]

    def __str__(self) -> str:
        return f"{self.display_name}: {self.text[:40]}"


class ChatRestriction(models.Model):
    """A viewer who may watch a room but not post in it: muted for a while, or banned."""

    class Kind(models.TextChoices):
        MUTE = "mute", _("Muted")
        BAN = "ban", _("Banned")

    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="chat_restrictions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_restrictions")
    kind = models.CharField(_("kind"), max_length=4, choices=Kind.choices)
    until = models.DateTimeField(_("until"), null=True, blank=True, help_text=_("Empty: until lifted."))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(_("lifted at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("muted or banned viewer")
        verbose_name_plural = _("muted and banned viewers")
        indexes = [models.Index(fields=["room", "user"], name="live_restriction_room_user")]

    def __str__(self) -> str:
        return f"{self.user} {self.kind} in {self.room}"


class PinnedProduct(models.Model):
    """A product the merchant pinned in a room, with its price locked per viewer currency.

    ``prices`` maps currency -> {"minor": int, "display": {locale: text}} per variant
    (``{variant_id: {currency: {...}}}``), computed once at pin time with the FX snapshot
    ``fx_snapshot_id``; checkout honours them while the pin lasts (until ``unpinned_at``).
    """

    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="pins")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="live_pins")
    prices = models.JSONField(_("locked prices"), default=dict)
    fx_snapshot_id = models.BigIntegerField(_("FX snapshot"), null=True, blank=True)
    warnings = models.JSONField(_("compliance warnings"), default=dict, blank=True)
    pinned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    pinned_at = models.DateTimeField(_("pinned at"))
    unpinned_at = models.DateTimeField(_("unpinned at"), null=True, blank=True)
    # "Buy now" taps on this pin, for the show's stats (counted with F(), never read-modify-write).
    buy_clicks = models.PositiveIntegerField(_("buy now clicks"), default=0)

    class Meta:
        ordering = ["-pinned_at"]
        verbose_name = _("pinned product")
        verbose_name_plural = _("pinned products")
        constraints = [
            models.UniqueConstraint(
                fields=["room"], condition=models.Q(unpinned_at__isnull=True), name="live_one_open_pin_per_room"
            )
        ]

    def __str__(self) -> str:
        return f"{self.product} in {self.room}"

    @property
    def price_lock_source(self) -> str:
        """How the cart and the order name the price this pin promised."""
        return self.price_lock_source_for(self.pk)

    @staticmethod
    def price_lock_source_for(pin_id: int) -> str:
        return f"live-pin:{pin_id}"


FLASH_COUPON_SOURCE_PREFIX = "live-room:"


class FlashCoupon(models.Model):
    """A discount pushed during a show: limited in quantity and time.

    Viewers type the code at checkout, where it is an orders coupon (``order_coupon``):
    that row alone counts the uses, so what is left is read from it. Empty for coupons
    pushed before checkout knew them.
    """

    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="coupons")
    code = models.CharField(_("code"), max_length=40, unique=True)
    discount_percent = models.PositiveSmallIntegerField(_("discount (%)"))
    quantity = models.PositiveIntegerField(_("quantity"))
    order_coupon = models.OneToOneField(
        "orders.Coupon", on_delete=models.PROTECT, null=True, blank=True, editable=False, related_name="+"
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        ordering = ["-starts_at"]
        verbose_name = _("flash coupon")
        verbose_name_plural = _("flash coupons")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(discount_percent__gte=1, discount_percent__lte=90), name="live_coupon_discount_range"
            ),
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="live_coupon_quantity_positive"),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def remaining(self) -> int | None:
        """Uses left, as checkout counts them (``None`` for a coupon checkout never knew)."""
        return self.order_coupon.remaining if self.order_coupon_id else None

    @staticmethod
    def order_source_for(room_id: int) -> str:
        """How the orders coupon names the show that handed it out (its ``source``)."""
        return f"{FLASH_COUPON_SOURCE_PREFIX}{room_id}"


class Giveaway(models.Model):
    """A prize draw among viewers who typed a keyword; auditable.

    ``seed_hash`` (SHA-256 of the secret seed) is published when the giveaway opens;
    after the draw the seed is published too, with ``audit``: the pseudonymous entrant
    list in draw order, from which anyone can recompute the winner (see
    ``services.giveaway_winner_index``). Until the draw the seed is a secret: whoever
    knew it could steer the winner by removing entrants' messages.
    """

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        DRAWN = "drawn", _("Drawn")
        CANCELLED = "cancelled", _("Cancelled")

    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="giveaways")
    keyword = models.CharField(_("keyword"), max_length=40)
    prize = models.CharField(_("prize"), max_length=200)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    seed = models.CharField(_("draw seed"), max_length=64)
    seed_hash = models.CharField(_("draw seed hash"), max_length=64)
    opened_at = models.DateTimeField(_("opened at"))
    drawn_at = models.DateTimeField(_("drawn at"), null=True, blank=True)
    entrants = models.JSONField(_("entrants"), default=list, blank=True)
    excluded = models.JSONField(_("not eligible"), default=list, blank=True)
    winner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="giveaways_won"
    )
    winner_name = models.CharField(_("winner"), max_length=60, blank=True)
    # What was published at the draw, kept as it was so the audit outlives the show.
    audit = models.JSONField(_("public audit"), default=dict, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        verbose_name = _("giveaway")
        verbose_name_plural = _("giveaways")
        constraints = [
            models.UniqueConstraint(
                fields=["room"], condition=models.Q(state="open"), name="live_one_open_giveaway_per_room"
            )
        ]

    def __str__(self) -> str:
        return f"{self.keyword} in {self.room}"


class RoomVisit(models.Model):
    """One viewer's first visit to a room's page, with where they came from; for the show's stats.

    ``visitor_key`` is ``user:<id>`` for a signed-in shopper and a hash of the session key
    otherwise (the raw key is a credential and is never stored).
    """

    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="visits")
    visitor_key = models.CharField(max_length=80)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source = models.CharField(_("source"), max_length=100)
    medium = models.CharField(_("medium"), max_length=100, blank=True)
    campaign = models.CharField(_("campaign"), max_length=100, blank=True)
    created_at = models.DateTimeField(_("first seen"), auto_now_add=True)

    class Meta:
        verbose_name = _("room visit")
        verbose_name_plural = _("room visits")
        constraints = [models.UniqueConstraint(fields=["room", "visitor_key"], name="live_one_visit_per_viewer")]

    def __str__(self) -> str:
        return f"{self.visitor_key} from {self.source} in {self.room_id}"


class ViewerSample(models.Model):
    """Concurrent viewers of a live room at one minute, as the socket processes reported them."""

    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="viewer_samples")
    at = models.DateTimeField()
    viewers = models.PositiveIntegerField()

    class Meta:
        ordering = ["at"]
        verbose_name = _("viewers at one minute")
        verbose_name_plural = _("viewers per minute")
        constraints = [models.UniqueConstraint(fields=["room", "at"], name="live_one_viewer_sample_per_minute")]

    def __str__(self) -> str:
        return f"{self.viewers} viewers at {self.at:%Y-%m-%d %H:%M}"


class WatchSession(models.Model):
    """One socket's stay in a room, from connect to leave: what the show's watch time is measured from.

    The socket processes write these in batches (``realtime.writer``), never one insert per
    connect. While the show is live an open socket's ``last_seen_at`` is brought up to date
    every minute or so, so a process that dies loses at most that. The id is assigned by
    the process (``realtime.ids``), which makes those updates upserts. ``visitor_key`` is
    :class:`RoomVisit`'s: a reconnect or a second tab is the same viewer. Time outside the
    show's live period is kept as it came and left out when the stats are read.
    """

    id = models.BigIntegerField(primary_key=True)
    room = models.ForeignKey(LiveRoom, on_delete=models.CASCADE, related_name="watch_sessions")
    visitor_key = models.CharField(max_length=80)
    connected_at = models.DateTimeField(_("connected at"))
    last_seen_at = models.DateTimeField(_("last seen at"))

    class Meta:
        verbose_name = _("watch session")
        verbose_name_plural = _("watch sessions")
        indexes = [
            models.Index(fields=["room", "visitor_key", "connected_at"], name="live_watch_room_visitor"),
        ]

    def __str__(self) -> str:
        return f"{self.visitor_key} in {self.room_id} from {self.connected_at:%H:%M:%S}"
