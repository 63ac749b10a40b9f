"""Carts, coupons, orders, stock reservations and the order's history.

Amounts are integer minor units. Order amounts are in the shopper's currency, converted
from the settlement-currency catalog prices with the FX snapshot recorded on the order.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.catalog.models import Stock, Variant
from apps.money.types import currency_digits


class Cart(models.Model):
    """A shopper's basket: anonymous (found through the session) or a signed-in user's."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        MERGED = "merged", _("merged")
        ORDERED = "ordered", _("ordered")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="carts",
        verbose_name=_("shopper"),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    order = models.OneToOneField(
        "orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="cart", verbose_name=_("order")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("cart")
        verbose_name_plural = _("carts")
        constraints = [
            # One open cart per signed-in shopper; merging folds the others into it.
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(status="open", user__isnull=False), name="one_open_cart_per_user"
            )
        ]

    def __str__(self) -> str:
        return f"cart {self.pk}"


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines", verbose_name=_("cart"))
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="+", verbose_name=_("variant"))
    quantity = models.PositiveIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    added_at = models.DateTimeField(_("added at"), auto_now_add=True)
    # A price promised to the shopper elsewhere (a product pinned in a live show), per
    # currency in minor units; honoured at checkout until ``locked_until``, and never above
    # the current price.
    locked_prices = models.JSONField(_("locked prices"), default=dict, blank=True)
    lock_source = models.CharField(_("price locked by"), max_length=40, blank=True)
    lock_fx_snapshot_id = models.IntegerField(_("exchange rate snapshot of the locked price"), null=True, blank=True)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)

    class Meta:
        ordering = ["added_at", "pk"]
        verbose_name = _("cart line")
        verbose_name_plural = _("cart lines")
        constraints = [
            models.UniqueConstraint(fields=["cart", "variant"], name="one_cart_line_per_variant"),
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="cart_line_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.variant_id}"


class Coupon(models.Model):
    """A code giving a percentage off, or a fixed amount off per currency (``amounts_off``)."""

    code = models.CharField(_("code"), max_length=40, unique=True)
    percent_off = models.PositiveSmallIntegerField(_("percent off"), null=True, blank=True)
    # {"EUR": 500, "GBP": 400}: the fixed discount in each currency it may be used in.
    amounts_off = models.JSONField(_("amount off per currency (minor units)"), default=dict, blank=True)
    # {"EUR": 3000}: minimum spend on products, in the order's currency.
    min_spend = models.JSONField(_("minimum spend per currency (minor units)"), default=dict, blank=True)
    countries = models.JSONField(_("countries (empty: all)"), default=list, blank=True)
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"))
    is_active = models.BooleanField(_("active"), default=True)
    # Empty: any number of orders may use it. Otherwise each order awaiting payment or
    # bought with it holds one use; an order cancelled before payment gives it back.
    max_redemptions = models.PositiveIntegerField(_("uses allowed (empty: unlimited)"), null=True, blank=True)
    redemptions = models.PositiveIntegerField(_("uses so far"), default=0, editable=False)
    # Who handed the code out, e.g. "live-room:42" for a flash coupon pushed in that show.
    source = models.CharField(_("handed out by"), max_length=40, blank=True, editable=False)

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(percent_off__isnull=True) | models.Q(percent_off__gte=1, percent_off__lte=100),
                name="coupon_percent_in_range",
            ),
            models.CheckConstraint(
                condition=models.Q(max_redemptions__isnull=True)
                | models.Q(redemptions__lte=models.F("max_redemptions")),
                name="coupon_redemptions_within_limit",
            ),
            # Checkout finds a code case-insensitively (``code__iexact``, UPPER() on PostgreSQL):
            # "flash-1" next to "FLASH-1" would shadow it. The same UPPER() lets that lookup use
            # this index. ``clean`` says so on the form first; this holds for every writer.
            models.UniqueConstraint(
                Upper("code"),
                name="coupon_code_unique_in_any_case",
                violation_error_message=_("A coupon with this code exists."),
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.code and Coupon.objects.filter(code__iexact=self.code).exclude(pk=self.pk).exists():
            errors["code"] = [_("A coupon with this code exists.")]
        # The count is not on the form, so the database constraint alone would answer a 500.
        if self.max_redemptions is not None and self.max_redemptions < self.redemptions:
            errors["max_redemptions"] = [
                _("Already used %(count)d times: the limit cannot be lower.") % {"count": self.redemptions}
            ]
        # Checkout reads these maps as they are stored: a wrong one would refuse every shopper
        # or charge more than the order (a negative amount off), so the form refuses it.
        region = settings.REGION
        for name in ("amounts_off", "min_spend"):
            cleaned, problems = self._per_currency(getattr(self, name), region.currencies)
            if problems:
                errors[name] = problems
            else:
                setattr(self, name, cleaned)
        countries, problems = self._served_countries(self.countries, region.country_codes)
        if problems:
            errors["countries"] = problems
        else:
            self.countries = countries
        has_amounts = bool(self.amounts_off) or "amounts_off" in errors
        if (self.percent_off is None) == (not has_amounts):
            one_kind = _("Give either a percentage off or amounts off per currency, not both.")
            errors.setdefault("amounts_off" if has_amounts else "percent_off", []).append(one_kind)
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            errors.setdefault("valid_until", []).append(_("The coupon must end after it starts."))
        if errors:
            raise ValidationError(errors)

    @staticmethod
    def is_minor_amount(value: object) -> bool:
        """An amount as coupons store it: whole minor units above zero (``500`` is 5.00 USD)."""
        return type(value) is int and value > 0

    @classmethod
    def _per_currency(cls, value: object, currencies: tuple[str, ...]) -> tuple[dict[str, int], list[str]]:
        """``{"usd": 500}`` as stored (``{"USD": 500}``), or what is wrong with it."""
        example = f'{{"{currencies[0]}": 500}}'
        if value in (None, ""):
            return {}, []
        if not isinstance(value, dict):
            return {}, [_("Enter amounts per currency, like %(example)s.") % {"example": example}]
        cleaned: dict[str, int] = {}
        problems: list[str] = []
        for raw_currency, amount in value.items():
            currency = raw_currency.strip().upper() if isinstance(raw_currency, str) else ""
            if currency not in currencies:
                problems.append(
                    _("%(currency)s is not a currency sold here: use %(currencies)s.")
                    % {"currency": raw_currency, "currencies": ", ".join(currencies)}
                )
            elif currency in cleaned:
                problems.append(_("%(currency)s is given twice.") % {"currency": currency})
            elif not cls.is_minor_amount(amount):
                example_minor = f"{Decimal(500).scaleb(-currency_digits(currency)):f}"
                problems.append(
                    _("%(currency)s: a whole number of minor units above zero (500 is %(example)s).")
                    % {"currency": currency, "example": example_minor}
                )
            cleaned[currency] = amount
        return cleaned, problems

    @staticmethod
    def _served_countries(value: object, served: frozenset[str]) -> tuple[list[str], list[str]]:
        """``["us", "CA"]`` as stored (``["CA", "US"]``), or what is wrong with it."""
        if value in (None, ""):
            return [], []
        if not isinstance(value, list):
            example = "[" + ", ".join(f'"{code}"' for code in sorted(served)[:2]) + "]"
            return [], [_("Enter a list of country codes, like %(example)s.") % {"example": example}]
        codes = [c.strip().upper() if isinstance(c, str) else c for c in value]
        unknown = [str(c) for c in codes if not isinstance(c, str) or c not in served]
        if unknown:
            return [], [
                _("Not a country this region serves: %(unknown)s. Use %(countries)s.")
                % {"unknown": ", ".join(unknown), "countries": ", ".join(sorted(served))}
            ]
        return sorted(set(codes)), []

    @property
    def remaining(self) -> int | None:
        """Uses left (``None``: unlimited)."""
        if self.max_redemptions is None:
            return None
        return max(self.max_redemptions - self.redemptions, 0)


# A checkout's Idempotency-Key (Order.idempotency_key): the checkout refuses any other, so no
# order is ever looked up by one (a NUL byte in a header would fail the query, not find nothing).
# \Z, not $: $ also matches before a final newline, which a form field can carry.
IDEMPOTENCY_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}\Z")


class Order(models.Model):
    class Status(models.TextChoices):
        # Each label says what the order is, as in "The order is now %(status)s." and, capitalised,
        # alone on the shopper's pages; the context tells translators it agrees with "order"
        # (la commande, die Bestellung).
        CREATED = "created", pgettext_lazy("order status", "awaiting payment")
        # Cash on delivery: the units are sold and the order ships; the courier takes the money.
        CONFIRMED = "confirmed", pgettext_lazy("order status", "to be paid on delivery")
        PAID = "paid", pgettext_lazy("order status", "paid")
        # Every merchant's part is packed (services.order_fulfil: the last part packed fulfils it);
        # it stays so until the last parcel has left.
        FULFILLED = "fulfilled", pgettext_lazy("order status", "packed and ready to ship")
        SHIPPED = "shipped", pgettext_lazy("order status", "shipped")
        DELIVERED = "delivered", pgettext_lazy("order status", "delivered")
        CANCELLED = "cancelled", pgettext_lazy("order status", "cancelled")
        REFUNDED = "refunded", pgettext_lazy("order status", "refunded")

    reference = models.CharField(_("reference"), max_length=32, unique=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=128, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
        verbose_name=_("shopper"),
    )
    email = models.EmailField(_("e-mail address"))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.CREATED)
    region = models.CharField(_("region"), max_length=20)
    country = models.CharField(_("country"), max_length=2)
    language = models.CharField(_("language"), max_length=10)
    time_zone = models.CharField(_("time zone"), max_length=64)
    currency = models.CharField(_("currency"), max_length=3)
    settlement_currency = models.CharField(_("settlement currency"), max_length=3)
    fx_snapshot_id = models.IntegerField(_("exchange rate snapshot"), null=True, blank=True)
    fx_rate = models.CharField(_("exchange rate"), max_length=32, blank=True)
    address = models.JSONField(_("delivery address"))
    shipping_option = models.CharField(_("shipping option"), max_length=20)
    coupon = models.ForeignKey(
        Coupon, null=True, blank=True, on_delete=models.PROTECT, related_name="orders", verbose_name=_("coupon")
    )
    tax_model = models.CharField(_("tax type"), max_length=20)
    tax_rate = models.CharField(_("tax rate"), max_length=10)
    prices_include_tax = models.BooleanField(_("prices include tax"))
    # The named taxes tax_rate is made of where the destination names them (Quebec: GST 5 and QST
    # 9.975), each with its share of tax_minor: [{"name", "rate", "minor"}]; empty elsewhere.
    tax_parts = models.JSONField(_("tax parts"), default=list, blank=True)
    subtotal_minor = models.BigIntegerField(_("subtotal (minor units)"))
    discount_minor = models.BigIntegerField(_("discount (minor units)"), default=0)
    shipping_minor = models.BigIntegerField(_("shipping (minor units)"), default=0)
    tax_minor = models.BigIntegerField(_("tax (minor units)"), default=0)
    total_minor = models.BigIntegerField(_("total (minor units)"), validators=[MinValueValidator(0)])
    refunded_minor = models.BigIntegerField(_("refunded amount (minor units)"), default=0)
    eta = models.DateField(
        _("expected delivery"),
    )
    payment_provider = models.CharField(_("payment provider"), max_length=30, blank=True)
    payment_method = models.CharField(_("payment method"), max_length=30, blank=True)
    reserved_until = models.DateTimeField(_("stock reserved until"))
    # The flash-sale gate's admission whose units this order took ("" when no line was gated):
    # the gate's reconcile counts an admission whose order committed as sold, even before the
    # checkout settled it (or if its process died first), instead of seeing drift.
    flash_sale_admission = models.CharField(_("flash sale admission"), max_length=200, blank=True, default="")
    created_at = models.DateTimeField(_("placed at"), auto_now_add=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    # The payment (payments' id) that paid the order. Each attempt is a payment of its own, so
    # a second tab or a retried redirect can pay a paid order again: that payment is given back
    # (``services.order_mark_paid``), told apart from this one's news delivered again. An id,
    # not a foreign key: orders read payments through payments' selectors. Null until paid, and
    # on orders paid before it was recorded (their reference's first paid payment stands in).
    paid_by_payment_id = models.PositiveBigIntegerField(_("paid by payment"), null=True, blank=True)
    # What other payments took for the order once it was paid, all given back unasked: their
    # refunds count in ``refunded_minor`` (what its payments returned) but refund nothing the
    # shopper kept, so the order's own refund is ``refunded_minor`` less this.
    paid_again_minor = models.BigIntegerField(_("paid again and given back (minor units)"), default=0)
    # Each e-mail to the shopper goes out once: ``*_sent_at`` is set when it was handed to the
    # mail server, ``*_claimed_at`` when a worker began sending it. Another worker (a broker
    # redelivery, the sweep) leaves a fresh claim alone; a claim older than the lease is
    # taken for a worker that died mid-send, and the mail is sent again rather than lost.
    confirmation_sent_at = models.DateTimeField(_("confirmation e-mail sent at"), null=True, blank=True)
    confirmation_claimed_at = models.DateTimeField(_("confirmation e-mail sending started at"), null=True, blank=True)
    shipped_email_sent_at = models.DateTimeField(_("shipping e-mail sent at"), null=True, blank=True)
    shipped_email_claimed_at = models.DateTimeField(_("shipping e-mail sending started at"), null=True, blank=True)
    # A mail the mail server refused for good (a 5xx answer: no such mailbox, say) is not
    # sent again: ``*_refused_at`` is when, ``*_refusal`` the server's code and answer, for
    # staff to read. A passing failure (4xx, no connection) records nothing and is retried.
    confirmation_refused_at = models.DateTimeField(_("confirmation e-mail refused at"), null=True, blank=True)
    confirmation_refusal = models.CharField(_("mail server's refusal of the confirmation"), max_length=500, blank=True)
    shipped_email_refused_at = models.DateTimeField(_("shipping e-mail refused at"), null=True, blank=True)
    shipped_email_refusal = models.CharField(
        _("mail server's refusal of the shipping e-mail"), max_length=500, blank=True
    )
    # When staff last asked to send a refused mail again, written with the refusal's clearing:
    # the sweep counts the mail owed from then, however old the order, so a resend whose task
    # could not be queued (the broker down at the commit) is sent late rather than lost.
    confirmation_send_again_at = models.DateTimeField(
        _("confirmation e-mail resend requested at"), null=True, blank=True
    )
    shipped_email_send_again_at = models.DateTimeField(_("shipping e-mail resend requested at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            models.CheckConstraint(condition=models.Q(total_minor__gte=0), name="order_total_not_negative"),
        ]
        indexes = [
            models.Index(
                fields=["flash_sale_admission"],
                condition=~models.Q(flash_sale_admission=""),
                name="order_by_flash_sale_admission",
            ),
            # The sweep of e-mails owed (``order_emails_send_missed``): only orders whose mail is
            # due and not yet sent are in these, so they stay small however many orders there are.
            # The statuses are those of ``ORDER_EMAILS`` in services (a test keeps them equal).
            models.Index(
                fields=["created_at"],
                condition=models.Q(
                    confirmation_sent_at__isnull=True,
                    status__in=["confirmed", "paid", "fulfilled", "shipped", "delivered"],
                ),
                name="order_confirmation_unsent",
            ),
            models.Index(
                fields=["created_at"],
                condition=models.Q(shipped_email_sent_at__isnull=True, status="shipped"),
                name="order_shipped_email_unsent",
            ),
        ]

    def __str__(self) -> str:
        return self.reference


class RefundEmail(models.Model):
    """The shopper's e-mail about one refund of their order, written when payments tells orders
    that the refund succeeded (never for a pending or failed one).

    One row per refund (``refund_id`` is unique: a replayed webhook or a second signal finds it
    there) keeps what the mail says, as of that refund, and its sending as the order's own
    mails do: ``claimed_at`` while a worker sends it, ``sent_at`` once the mail server took it,
    ``refused_at`` and ``refusal`` when the server refused it for good (not sent again).
    """

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="refund_emails", verbose_name=_("order"))
    # The payments app's refund: orders know it by the id its signal gives, not by its row.
    refund_id = models.BigIntegerField(_("refund"), unique=True)
    amount_minor = models.BigIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
    # Everything refunded of the payment with this refund: the mail's "refunded so far".
    refunded_minor = models.BigIntegerField(_("refunded so far (minor units)"))
    owed_at = models.DateTimeField(_("owed since"), auto_now_add=True)
    claimed_at = models.DateTimeField(_("sending started at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    refused_at = models.DateTimeField(_("refused at"), null=True, blank=True)
    refusal = models.CharField(_("mail server's refusal"), max_length=500, blank=True)

    class Meta:
        ordering = ["owed_at", "pk"]
        verbose_name = _("refund e-mail")
        verbose_name_plural = _("refund e-mails")
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_minor__gt=0), name="refund_email_amount_positive"),
        ]
        indexes = [
            # The sweep of mails owed reads the few unsent ones, among every refund mail ever sent.
            models.Index(
                fields=["owed_at"],
                condition=models.Q(sent_at__isnull=True, refused_at__isnull=True),
                name="refund_email_unsent",
            ),
        ]

    def __str__(self) -> str:
        return f"refund {self.refund_id} e-mail of order {self.order_id}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", verbose_name=_("order"))
    variant = models.ForeignKey(Variant, on_delete=models.PROTECT, related_name="+", verbose_name=_("variant"))
    product_name = models.CharField(_("product name"), max_length=200)
    sku = models.CharField(_("SKU"), max_length=40)
    quantity = models.PositiveIntegerField(_("quantity"), validators=[MinValueValidator(1)])
    unit_price_minor = models.BigIntegerField(
        _("unit price (minor units)"),
    )
    total_minor = models.BigIntegerField(
        _("total (minor units)"),
    )
    # Where a locked price came from (e.g. "live-pin:42") and the FX snapshot it was fixed with.
    price_lock = models.CharField(_("price locked by"), max_length=40, blank=True)
    price_lock_fx_snapshot_id = models.IntegerField(
        _("exchange rate snapshot of the locked price"), null=True, blank=True
    )

    class Meta:
        ordering = ["pk"]
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class Reservation(models.Model):
    """Units of one stock row held for an order until payment (sold) or expiry (released)."""

    class Status(models.TextChoices):
        HELD = "held", _("held")
        SOLD = "sold", _("sold")
        RELEASED = "released", _("released")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="reservations", verbose_name=_("order"))
    line = models.ForeignKey(
        OrderLine, on_delete=models.CASCADE, related_name="reservations", verbose_name=_("order line")
    )
    stock = models.ForeignKey(Stock, on_delete=models.PROTECT, related_name="+", verbose_name=_("stock"))
    quantity = models.PositiveIntegerField(_("quantity"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.HELD)
    # Reserved through the flash-sale gate: releasing it gives the units back to the gate.
    gated = models.BooleanField(_("reserved through the flash sale"), default=False)
    expires_at = models.DateTimeField(_("expires at"))

    class Meta:
        ordering = ["pk"]
        verbose_name = _("stock reservation")
        verbose_name_plural = _("stock reservations")
        indexes = [
            models.Index(fields=["stock"], condition=models.Q(status="held"), name="held_reservations_by_stock"),
            models.Index(fields=["expires_at"], condition=models.Q(status="held"), name="held_reservations_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of stock {self.stock_id} ({self.status})"


class Shipment(models.Model):
    """The part of an order leaving one warehouse."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments", verbose_name=_("order"))
    warehouse_id = models.IntegerField(_("warehouse ID"))
    warehouse_name = models.CharField(_("warehouse"), max_length=120)
    tracking_number = models.CharField(_("tracking number"), max_length=60, blank=True)
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    # This parcel's own promise (its warehouse's handling); null on parcels packed before parcels had one.
    eta = models.DateField(_("expected delivery"), null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")

    def __str__(self) -> str:
        return f"{self.order_id} from {self.warehouse_name}"


class OrderEvent(models.Model):
    """One step in the order's life: who moved it from which status to which, and when."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events", verbose_name=_("order"))
    from_status = models.CharField(_("from status"), max_length=20, blank=True)
    to_status = models.CharField(_("to status"), max_length=20)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        verbose_name=_("changed by (account)"),
    )
    actor_label = models.CharField(_("changed by"), max_length=60, blank=True)
    note = models.CharField(_("note"), max_length=255, blank=True)
    at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")

    def __str__(self) -> str:
        return f"{self.from_status or '-'} → {self.to_status}"
