"""The order admin: the order is read-only; its next steps are buttons that call the services.

Operators see every order whole and take every step. Merchant staff see the orders
holding their products and, in them, only their own lines and parcels, the shipping
address and the status; they ship and deliver their own parcels (``selectors.order_scope``).
"""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from apps.errors import ApplicationError
from apps.money.types import currency_digits
from apps.orders import selectors, services
from apps.orders.models import Coupon, Order, OrderEvent, OrderLine, Shipment
from apps.orders.selectors import RefundsOwed
from apps.payments import selectors as payment_selectors


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
    readonly_fields = ("warehouse_name", "tracking_number", "shipped_at", "delivered_at")

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
        return queryset.filter(
            Q(**{f"{email.refused_field}__isnull": False for email in services.ORDER_EMAILS.values()}, _connector=Q.OR)
        )


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Read-only here: status changes go through the services, which record who and when."""

    list_display = ("reference", "status", "country", "currency", "total_minor", "created_at")
    # The refusal fields themselves show, read-only like the rest, on the order's page.
    list_filter = ("status", "country", "currency", EmailRefusedFilter)
    search_fields = ("reference", "email")
    inlines = [OrderLineInline, ShipmentInline, OrderEventInline]

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
        address = order.address if isinstance(order.address, dict) else {}
        city = " ".join(filter(None, (address.get("city"), address.get("state"), address.get("postal_code"))))
        lines = [address.get("name"), address.get("line1"), address.get("line2"), city, address.get("country")]
        if address.get("phone"):
            lines.append(address["phone"])
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines if line))

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
            parcels = selectors.shipments_for_staff(scope=scope).filter(order=order)
            extra["unshipped"] = list(parcels.filter(shipped_at__isnull=True).order_by("pk"))
            if scope is None:
                extra["refundable"] = services.order_refundable_minor(order=order)
                # A refund the provider could not take (it was down) is retried by a beat task;
                # until then the operator sees what the customer is still owed.
                extra["refunds_owed"] = list(payment_selectors.refunds_unsettled(order_reference=order.reference))
                held = selectors.order_refunds_owed(order=order)
                if held.held_minor:
                    # Nothing retries a declined refund and a cancelled order has no refund step:
                    # said on every visit until the money has gone back, and the page offers to
                    # record that staff returned it another way.
                    extra["refund_held_minor"] = held.held_minor
                    [notice] = RefundsOwed(held_minor=held.held_minor, provider=held.provider).notices(
                        currency=order.currency, locale=request.shopper.locale
                    )
                    messages.error(request, notice)
        return super().change_view(request, object_id, form_url, extra)

    def step_view(self, request: HttpRequest, order_id: int, step: str) -> HttpResponse:
        if not self._may_act(request):
            raise PermissionDenied
        order = get_object_or_404(self.get_queryset(request), pk=order_id)
        try:
            order = services.order_take_step(
                order=order,
                step=step,
                actor=request.user,
                tracking_numbers={
                    int(name.removeprefix("tracking-")): value
                    for name, value in request.POST.items()
                    if name.startswith("tracking-") and name.removeprefix("tracking-").isdigit()
                },
                amount_minor=_amount_minor(request.POST.get("amount", ""), order.currency),
                note=request.POST.get("note", ""),
                merchant_ids=_scope(request),
            )
        except ApplicationError as exc:
            # A refund written and waiting for the provider is not an error to fix, nor a reason
            # to "try another method": asking again would retry the same refund. Warned instead.
            if not (step == "refund" and exc.code == "provider_unavailable" and _refund_waiting(request, order)):
                details = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in (exc.fields or {}).items())
                messages.error(request, f"{exc.message} {details}".strip())
        else:
            messages.success(request, _("Done: the order is now %(status)s.") % {"status": order.get_status_display()})
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
                    fields={"owed_minor": [raw[:40]]},
                )
            services.order_refund_settle_outside(
                order=order, amount_minor=int(raw), note=request.POST.get("note", ""), actor=request.user
            )
        except ApplicationError as exc:
            details = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in (exc.fields or {}).items())
            messages.error(request, f"{exc.message} {details}".strip())
        else:
            messages.success(request, _("Recorded: the refund owed was returned to the customer another way."))
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))


def _refund_waiting(request: HttpRequest, order: Order) -> bool:
    """Warn that the order's refund waits for the provider (the retry sweep sends it); False if none does."""
    waiting = selectors.order_refunds_owed(order=order).waiting_minor
    if waiting:
        [notice] = RefundsOwed(waiting_minor=waiting).notices(currency=order.currency, locale=request.shopper.locale)
        messages.warning(request, notice)
    return bool(waiting)


def _amount_minor(raw: str, currency: str) -> int | None:
    """An amount typed in the order's currency (``12.50``) in minor units; blank: None (everything)."""
    raw = raw.strip().replace(",", ".")
    if not raw:
        return None
    digits = currency_digits(currency)
    whole, sep, fraction = raw.partition(".")
    if not (whole.isdigit() and len(whole) <= 12 and (fraction.isdigit() or not sep) and len(fraction) <= digits):
        raise ApplicationError(
            _("Enter an amount like %(example)s.") % {"example": f"{Decimal(1250).scaleb(-digits):f}"},
            code="invalid_amount",
            fields={"amount": [raw[:40]]},
        )
    return int(Decimal(raw).scaleb(digits))
