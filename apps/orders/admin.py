"""The order admin: the order is read-only; its next steps are buttons that call the services.

Operators see every order whole and take every step. Merchant staff see the orders
holding their products and, in them, only their own lines and parcels, the shipping
address and the status; they pack, ship and deliver their own parcels (``selectors.order_scope``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from babel.numbers import NumberFormatError, format_decimal, parse_decimal
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import translation
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from apps.errors import ApplicationError
from apps.money.formatting import format_money
from apps.money.types import currency_digits
from apps.orders import selectors, services
from apps.orders.models import Coupon, Order, OrderEvent, OrderLine, RefundEmail, Shipment
from apps.orders.selectors import RefundsOwed
from apps.payments import selectors as payment_selectors
from apps.payments.providers.base import RefundStatus
from regions.languages import babel_locale

S = Order.Status


class CouponForm(forms.ModelForm):
    """Says what the JSON fields take, in this region's currencies and countries (``Coupon.clean`` checks them)."""

    class Meta:
        model = Coupon
        fields = (
            "code",
            "percent_off",
            "amounts_off",
            "min_spend",
            "countries",
            "valid_from",
            "valid_until",
            "is_active",
            "max_redemptions",
        )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        region = settings.REGION
        currency = region.currencies[0]
        five = f"{Decimal(500).scaleb(-currency_digits(currency)):f}"
        helps = {
            "amounts_off": _(
                "Minor units off per currency sold here (%(currencies)s): %(example)s is %(amount)s off. "
                "Empty for a percentage coupon."
            )
            % {"currencies": ", ".join(region.currencies), "example": f'{{"{currency}": 500}}', "amount": five},
            "min_spend": _(
                "Minimum spend on products in minor units per currency, e.g. %(example)s. "
                "With a minimum, shoppers paying in a currency not listed cannot use the coupon."
            )
            % {"example": f'{{"{currency}": 5000}}'},
            "countries": _("Country codes served here (%(countries)s), e.g. %(example)s. Empty: every country.")
            % {"countries": ", ".join(sorted(region.country_codes)), "example": f'["{region.default_country}"]'},
        }
        for name, text in helps.items():
            if name in self.fields:
                self.fields[name].help_text = text


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin):
    form = CouponForm
    list_display = (
        "code",
        "percent_off",
        "valid_from",
        "valid_until",
        "is_active",
        "max_redemptions",
        "redemptions",
        "source",
    )
    list_filter = ("is_active",)
    search_fields = ("code", "source")
    readonly_fields = ("redemptions", "source")

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        # Checkouts keep counting uses while the form is open: never write back the count it loaded.
        kept = {"id", "redemptions", "source"}
        obj.save(update_fields=[f.name for f in obj._meta.concrete_fields if f.name not in kept])


def _scope(request: HttpRequest) -> frozenset[int] | None:
    """``selectors.order_scope`` once per request: every inline and the page ask it."""
    if not hasattr(request, "_order_scope"):
        request._order_scope = selectors.order_scope(request.user)
    return request._order_scope


class PartOfTheOrder(admin.TabularInline):
    """Lines, parcels and history are read with the order, by whoever may view the order."""

    extra = 0
    can_delete = False

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return _scope(request) is None or bool(_scope(request))

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class OrderLineInline(PartOfTheOrder):
    model = OrderLine
    readonly_fields = ("variant", "product_name", "sku", "quantity", "unit_price_minor", "total_minor")

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderLine]:
        return selectors.order_lines_for_staff(scope=_scope(request))


class ShipmentInline(PartOfTheOrder):
    model = Shipment
    # Named, not left to the view-only inline's "every field": each parcel's promised day is part of
    # what staff and merchants answer "when does mine come?" from.
    readonly_fields = ("warehouse_name", "tracking_number", "shipped_at", "delivered_at", "eta")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Shipment]:
        return selectors.shipments_for_staff(scope=_scope(request))


class OrderEventInline(PartOfTheOrder):
    model = OrderEvent
    readonly_fields = ("from_status", "to_status", "actor", "actor_label", "note", "at")

    def get_fields(self, request: HttpRequest, obj=None):
        if _scope(request) is not None:
            # Who else acted and their notes (payments, refunds, other merchants' parcels)
            # are not a merchant's business: the status and when.
            return ("from_status", "to_status", "at")
        return super().get_fields(request, obj)


class EmailRefusedFilter(admin.SimpleListFilter):
    """Orders whose shopper never got a mail because the mail server refused it for good (a
    mistyped address, say): nothing sends it again, so someone has to reach the shopper."""

    title = gettext_lazy("e-mail refused")
    parameter_name = "email_refused"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin):
        return [("yes", gettext_lazy("yes"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        if self.value() != "yes":
            return queryset
        return queryset.filter(_email_refused())


def _email_refused() -> Q:
    """Orders with at least one mail the mail server refused for good (their own, or a refund's)."""
    refund_refused = Exists(RefundEmail.objects.filter(order=OuterRef("pk"), refused_at__isnull=False))
    return Q(
        refund_refused,
        **{f"{email.refused_field}__isnull": False for email in services.ORDER_EMAILS.values()},
        _connector=Q.OR,
    )


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Read-only here: status changes go through the services, which record who and when."""

    list_display = ("reference", "status", "country", "currency", "total_minor", "created_at")
    # The refusal fields themselves show, read-only like the rest, on the order's page.
    list_filter = ("status", "country", "currency", EmailRefusedFilter)
    search_fields = ("reference", "email")
    inlines = [OrderLineInline, ShipmentInline, OrderEventInline]
    actions = ["email_send_again"]

    change_form_template = "admin/orders/order/change_form.html"

    # What merchant staff see of an order they hold products in: enough to ship it, not
    # what the shopper paid for the whole order nor how.
    merchant_fields = ("reference", "status", "created_at", "ship_to", "shipping_option", "eta")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        # Every view (list, page, history, steps) reads through here: another merchant's
        # order is missing, not forbidden.
        return selectors.orders_for_staff(scope=_scope(request))

    def get_fields(self, request: HttpRequest, obj=None):
        if _scope(request) is not None:
            return self.merchant_fields
        return super().get_fields(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        if _scope(request) is not None:
            return self.merchant_fields
        return super().get_readonly_fields(request, obj)

    def get_list_display(self, request: HttpRequest):
        if _scope(request) is not None:
            return ("reference", "status", "country", "created_at")
        return super().get_list_display(request)

    def get_search_fields(self, request: HttpRequest):
        if _scope(request) is not None:
            return ("reference",)
        return super().get_search_fields(request)

    def get_list_filter(self, request: HttpRequest):
        if _scope(request) is not None:
            # Whether the shopper's mail went out is not a merchant's business (nor on their page).
            return [f for f in super().get_list_filter(request) if f is not EmailRefusedFilter]
        return super().get_list_filter(request)

    @admin.display(description=gettext_lazy("ship to"))
    def ship_to(self, order: Order) -> str:
        # As the shopper's page and the courier write it: in the destination country's order,
        # state and country named in the staff member's language.
        delivery = selectors.order_delivery_address(order=order, language=translation.get_language())
        phone = delivery["address_phone"]
        # Each line on its own, in the direction of its first letter, as on the order page: an
        # Arabic street next to a Latin town (or "12 Main St" on a page in Arabic) would otherwise
        # be reordered. The phone left to right: on a page in Arabic the groups of "+49 30 12345678"
        # would otherwise be read right to left.
        lines = [format_html('<bdi dir="auto">{}</bdi>', line) for line in delivery["address_lines"] if line]
        if phone:
            lines.append(format_html('<bdi dir="ltr">{}</bdi>', phone))
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Orders are records of money and stock: they are cancelled or refunded, never deleted.
        return False

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:order_id>/step/<slug:step>/",
                wrap(require_POST(self.step_view)),
                name="orders_order_step",
            ),
            path(
                "<int:order_id>/email/<slug:kind>/send-again/",
                wrap(require_POST(self.email_send_again_view)),
                name="orders_order_email_send_again",
            ),
            path(
                "<int:order_id>/refund-returned-outside/",
                wrap(require_POST(self.refund_settled_view)),
                name="orders_order_refund_settled",
            ),
            *super().get_urls(),
        ]

    def _may_act(self, request: HttpRequest) -> bool:
        scope = _scope(request)
        return scope is None or bool(scope)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        order = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if order is not None and self._may_act(request):
            scope = _scope(request)
            extra["order_steps"] = services.order_next_steps(order=order, merchant_ids=scope)
            if not extra["order_steps"]:
                extra["waiting_for"] = _waiting_for(order, merchant=scope is not None)
            extra["packs_a_part"] = scope is not None
            parcels = selectors.shipments_for_staff(scope=scope).filter(order=order)
            extra["unshipped"] = list(parcels.filter(shipped_at__isnull=True).order_by("pk"))
            if scope is None:
                extra["refundable"] = services.order_refundable_minor(order=order)
                extra["amount_example"] = _amount_example(order.currency, request.shopper.locale)
                extra["refused_emails"] = selectors.order_emails_refused(order=order, locale=request.shopper.locale)
                # A refund the provider could not take (it was down) is retried by a beat task;
                # until then the operator sees what the customer is still owed.
                extra["refunds_owed"] = list(payment_selectors.refunds_unsettled(order_reference=order.reference))
                held = selectors.order_refunds_owed(order=order)
                if held.held_minor:
                    # Nothing retries a declined refund and a cancelled order has no refund step:
                    # said on every visit until the money has gone back, and the page offers to
                    # record that staff returned it another way.
                    extra["refund_held_minor"] = held.held_minor
                    [notice] = replace(held, waiting_minor=0).notices(
                        currency=order.currency, locale=request.shopper.locale
                    )
                    messages.error(request, notice)
        return super().change_view(request, object_id, form_url, extra)

    def step_view(self, request: HttpRequest, order_id: int, step: str) -> HttpResponse:
        if not self._may_act(request):
            raise PermissionDenied
        order = get_object_or_404(self.get_queryset(request), pk=order_id)
        scope, locale = _scope(request), request.shopper.locale
        before = _Before.of(order, scope)
        try:
            amount_minor = _amount_minor(request.POST.get("amount", ""), order.currency, locale)
            order = services.order_take_step(
                order=order,
                step=step,
                actor=request.user,
                tracking_numbers={
                    int(name.removeprefix("tracking-")): value
                    for name, value in request.POST.items()
                    if name.startswith("tracking-") and name.removeprefix("tracking-").isdigit()
                },
                amount_minor=amount_minor,
                note=request.POST.get("note", ""),
                merchant_ids=scope,
                locale=locale,
            )
        except ApplicationError as exc:
            # A refund written and waiting for the provider is not an error to fix, nor a reason
            # to "try another method": asking again would retry the same refund. Warned instead.
            if not (step == "refund" and exc.code == "provider_unavailable" and _refund_waiting(request, order)):
                messages.error(request, _error_text(exc))
        else:
            messages.success(request, _step_done(step, order, before, scope=scope, locale=locale))
            if step == "cancel":
                _refund_waiting(request, order)
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))

    def refund_settled_view(self, request: HttpRequest, order_id: int) -> HttpResponse:
        """Operators record that they returned a declined refund another way (a bank transfer)."""
        if _scope(request) is not None:
            # Money and how it went back are the operators' business, not a merchant's.
            raise PermissionDenied
        order = get_object_or_404(self.get_queryset(request), pk=order_id)
        raw = request.POST.get("owed_minor", "").strip()
        try:
            if not raw.isdigit() or len(raw) > 18:
                raise ApplicationError(
                    _("The page is out of date; look at the order again."),
                    code="invalid_amount",
                    fields={"owed_minor": []},
                )
            services.order_refund_settle_outside(
                order=order,
                amount_minor=int(raw),
                note=request.POST.get("note", ""),
                actor=request.user,
                locale=request.shopper.locale,
            )
        except ApplicationError as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(request, _("Recorded: the refund owed was returned to the customer another way."))
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))

    def has_email_resend_permission(self, request: HttpRequest) -> bool:
        # The shopper's address and mail are the operators' business, not a merchant's (nor on their page).
        return _scope(request) is None

    def email_send_again_view(self, request: HttpRequest, order_id: int, kind: str) -> HttpResponse:
        """Operators send again a mail refused for good, to the address they corrected or the same one."""
        if not self.has_email_resend_permission(request):
            raise PermissionDenied
        order = get_object_or_404(self.get_queryset(request), pk=order_id)
        try:
            order = services.order_email_send_again(
                order=order, kind=kind, actor=request.user, email=request.POST.get("email", "")
            )
        except ApplicationError as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(
                request,
                # Translators: %(email)s names the mail: "Confirmation e-mail", "Shipping e-mail" or "Refund e-mail".
                _("%(email)s: queued to be sent again to %(address)s.")
                % {"email": services.order_email_name(kind=kind), "address": order.email},
            )
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))

    @admin.action(description=gettext_lazy("Send the e-mail again"), permissions=["email_resend"])
    def email_send_again(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        """Every mail of the selected orders that the mail server refused, to the address on the order."""
        queued = 0
        refused = list(queryset.filter(_email_refused()))
        for order in refused:
            for email in selectors.order_emails_refused(order=order, locale=request.shopper.locale):
                try:
                    services.order_email_send_again(order=order, kind=email.kind, actor=request.user)
                except ApplicationError as exc:
                    messages.error(request, f"{order.reference}: {exc.message}")
                else:
                    queued += 1
        if not refused:
            messages.warning(request, _("The mail server refused no e-mail of the selected orders: nothing was sent."))
        elif queued:
            messages.success(
                request,
                ngettext(
                    "%(count)d e-mail is queued to be sent again.",
                    "%(count)d e-mails are queued to be sent again.",
                    queued,
                )
                % {"count": queued},
            )


def _refund_waiting(request: HttpRequest, order: Order) -> bool:
    """Warn that the order's refund waits for the provider (the retry sweep sends it); False if none does."""
    waiting = selectors.order_refunds_owed(order=order).waiting_minor
    if waiting:
        [notice] = RefundsOwed(waiting_minor=waiting).notices(currency=order.currency, locale=request.shopper.locale)
        messages.warning(request, notice)
    return bool(waiting)


# Fields that name what the page sent rather than say what is wrong with it (the step of the
# button pressed, the payment provider, the kind of mail): after the message they would read
# as stray words.
_ECHOED_FIELDS = frozenset({"step", "provider", "kind"})
# Amounts in minor units kept for API clients beside a message that says them in money.
_MINOR_UNITS_FIELDS = frozenset({"refundable_minor", "unconfirmed_minor", "owed_minor", "capturable_minor"})


def _error_text(exc: ApplicationError) -> str:
    """The error as a person reads it: its message, then what each field's messages say, without
    the fields' names. Services say amounts in money in the locale they were given."""
    details: list[str] = []
    for field, texts in (exc.fields or {}).items():
        if field in _ECHOED_FIELDS or field in _MINOR_UNITS_FIELDS:
            continue
        details.extend(str(text) for text in texts)
    return " ".join([str(exc.message), *details])


def _waiting_for(order: Order, *, merchant: bool) -> str:
    """What the order waits for when no step is the staff member's now (said, not a blank)."""
    if order.status == S.CREATED:
        return _("Waiting for the shopper to pay.")
    if merchant and order.status in (S.PAID, S.CONFIRMED):
        return _("Your part is packed; waiting for the other merchants of this order to pack theirs.")
    if merchant and order.status in (S.FULFILLED, S.SHIPPED):
        return _("Your parcels are delivered; waiting for the other merchants' parcels of this order.")
    return _("Nothing left to do: the order is %(status)s.") % {"status": order.get_status_display()}


@dataclass(frozen=True)
class _Before:
    """The order as the staff member's step found it: what the step did is told from the difference."""

    status: str
    refunds: frozenset[int]
    parcels: dict[int, tuple[bool, bool]]  # shipment id: (shipped, delivered)

    @classmethod
    def of(cls, order: Order, scope: frozenset[int] | None) -> _Before:
        parcels = selectors.shipments_for_staff(scope=scope).filter(order=order)
        return cls(
            status=order.status,
            refunds=frozenset(refund.pk for refund in _refunds(order)),
            parcels={
                pk: (shipped is not None, delivered is not None)
                for pk, shipped, delivered in parcels.values_list("pk", "shipped_at", "delivered_at")
            },
        )


def _refunds(order: Order) -> list:
    """Every refund of the order's payments. The payments' own record: the order's refunded total
    follows it when the refund's news is delivered, after the commit."""
    return [
        refund
        for payment in payment_selectors.payments_for_reference(order_reference=order.reference)
        for refund in payment_selectors.refunds_for_payment(payment=payment)
    ]


def _step_done(step: str, order: Order, before: _Before, *, scope: frozenset[int] | None, locale: str) -> str:
    """What the step did, said in the shop's words, money in the order's currency and ``locale``."""
    parcels = list(selectors.shipments_for_staff(scope=scope).filter(order=order).order_by("pk"))
    said: list[str] = []
    if step == "fulfil":
        packed = [p for p in parcels if p.pk not in before.parcels]
        said.append(
            ngettext(
                "Packed: %(count)d parcel, from %(warehouses)s.",
                "Packed: %(count)d parcels, from %(warehouses)s.",
                len(packed),
            )
            % {"count": len(packed), "warehouses": ", ".join(p.warehouse_name for p in packed)}
        )
        if order.status == before.status:
            said.append(_("The order ships once the other merchants of this order have packed their parts."))
    elif step == "ship":
        shipped = [p for p in parcels if p.shipped_at is not None and not before.parcels.get(p.pk, (False, False))[0]]
        said.append(
            ngettext(
                "Shipped: %(count)d parcel, %(parcels)s.", "Shipped: %(count)d parcels, %(parcels)s.", len(shipped)
            )
            % {
                "count": len(shipped),
                "parcels": ", ".join(
                    # Translators: one parcel shipped: "Main warehouse (tracking number 1Z999AA10123456784)".
                    _("%(warehouse)s (tracking number %(tracking)s)")
                    % {"warehouse": p.warehouse_name, "tracking": p.tracking_number}
                    for p in shipped
                ),
            }
        )
    elif step == "deliver":
        delivered = [
            p for p in parcels if p.delivered_at is not None and not before.parcels.get(p.pk, (False, False))[1]
        ]
        said.append(
            ngettext(
                "Delivered: %(count)d parcel, from %(warehouses)s.",
                "Delivered: %(count)d parcels, from %(warehouses)s.",
                len(delivered),
            )
            % {"count": len(delivered), "warehouses": ", ".join(p.warehouse_name for p in delivered)}
        )
    if step == "cancel":
        # What cancelling did is the status itself; the money it sent back follows.
        # Translators: %(status)s is an order status (context "order status"), e.g. "cancelled".
        said.append(_("Done: the order is now %(status)s.") % {"status": order.get_status_display()})
    elif order.status != before.status:
        # Translators: %(status)s is an order status (context "order status"), e.g. "packed and ready to ship".
        said.append(_("The order is now %(status)s.") % {"status": order.get_status_display()})
    refunds = _refunds(order)
    succeeded = [r for r in refunds if r.status == RefundStatus.SUCCEEDED]
    refunded = sum(r.amount_minor for r in succeeded if r.pk not in before.refunds)
    # Taken by the provider, not final yet (a refund waiting for it is warned of, a declined one is an error).
    asked = sum(r.amount_minor for r in refunds if r.pk not in before.refunds and r.status == RefundStatus.PENDING)
    if refunded:
        said.insert(
            0 if step == "refund" else len(said),
            _("Refunded %(amount)s (in all %(total)s refunded).")
            % {
                "amount": format_money(refunded, order.currency, locale),
                "total": format_money(sum(r.amount_minor for r in succeeded), order.currency, locale),
            },
        )
    elif step == "refund" and asked:
        said.insert(
            0,
            _("Refund of %(amount)s asked; the payment provider has not confirmed it yet.")
            % {"amount": format_money(asked, order.currency, locale)},
        )
    return " ".join(said)


# Amounts are read as written in the staff member's locale, up to a trillion of the currency
# (more than any order): a longer number is a typing slip, not a refund.
AMOUNT_MAX = Decimal(10) ** 12


def _amount_example(currency: str, locale: str) -> str:
    """How to type an amount of ``currency`` in ``locale``: ``1,234.50``, ``1.234,50``, ``1,234``."""
    digits = currency_digits(currency)
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(Decimal("1234.5"), format=pattern, locale=babel_locale(locale), decimal_quantization=True)


def _amount_minor(raw: str, currency: str, locale: str) -> int | None:
    """An amount typed in the order's currency as ``locale`` writes numbers, in minor units;
    blank: None (everything).

    Babel reads it strictly: separators where ``locale`` does not put them ("18,50" in
    English) or more decimals than the currency has ("1.000" dollars: one, or a thousand as
    a German writes it?) are refused with an example rather than guessed.
    """
    raw = raw.strip()
    if not raw:
        return None
    digits = currency_digits(currency)
    example = _amount_example(currency, locale)
    try:
        value = parse_decimal(raw, locale=babel_locale(locale), strict=True)
    except NumberFormatError as exc:
        if exc.suggestions:
            message = _("“%(typed)s” could be read more than one way: write the amount like %(example)s.")
        else:
            message = _("“%(typed)s” is not an amount: write it like %(example)s.")
        raise ApplicationError(
            message % {"typed": raw[:40], "example": example}, code="invalid_amount", fields={"amount": []}
        ) from None
    # "1e5" and "NaN" parse, but nobody types a refund so.
    if not value.is_finite() or value.as_tuple().exponent > 0 or abs(value) >= AMOUNT_MAX:
        raise ApplicationError(
            _("“%(typed)s” is not an amount: write it like %(example)s.") % {"typed": raw[:40], "example": example},
            code="invalid_amount",
            fields={"amount": []},
        )
    if value <= 0:
        raise ApplicationError(
            _("Enter an amount above zero, like %(example)s.") % {"example": example},
            code="invalid_amount",
            fields={"amount": []},
        )
    if -value.as_tuple().exponent > digits:
        raise ApplicationError(
            ngettext(
                "“%(typed)s” could be read more than one way: %(currency)s amounts have at most %(digits)d decimal; "
                "write it like %(example)s.",
                "“%(typed)s” could be read more than one way: %(currency)s amounts have at most %(digits)d decimals; "
                "write it like %(example)s.",
                digits,
            )
            % {"typed": raw[:40], "currency": currency, "digits": digits, "example": example},
            code="invalid_amount",
            fields={"amount": []},
        )
    return int(value.scaleb(digits))
