"""Operators' order admin: the order is read-only; its next steps are buttons that call the services."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.errors import ApplicationError
from apps.money.types import currency_digits
from apps.orders import selectors, services
from apps.orders.models import Coupon, Order, OrderEvent, OrderLine, Shipment


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin):
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


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    can_delete = False
    readonly_fields = ("variant", "product_name", "sku", "quantity", "unit_price_minor", "total_minor")


class ShipmentInline(admin.TabularInline):
    model = Shipment
    extra = 0
    can_delete = False
    readonly_fields = ("warehouse_name", "tracking_number", "shipped_at", "delivered_at")


class OrderEventInline(admin.TabularInline):
    model = OrderEvent
    extra = 0
    can_delete = False
    readonly_fields = ("from_status", "to_status", "actor", "actor_label", "note", "at")


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Read-only here: status changes go through the services, which record who and when."""

    list_display = ("reference", "status", "country", "currency", "total_minor", "created_at")
    list_filter = ("status", "country", "currency")
    search_fields = ("reference", "email")
    inlines = [OrderLineInline, ShipmentInline, OrderEventInline]

    change_form_template = "admin/orders/order/change_form.html"

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
            *super().get_urls(),
        ]

    def _may_act(self, request: HttpRequest) -> bool:
        return selectors.may_take_order_steps(request.user)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        order = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if order is not None and self._may_act(request):
            extra["order_steps"] = services.order_next_steps(order=order)
            extra["unshipped"] = list(order.shipments.filter(shipped_at__isnull=True).order_by("pk"))
            extra["refundable"] = services.order_refundable_minor(order=order)
        return super().change_view(request, object_id, form_url, extra)

    def step_view(self, request: HttpRequest, order_id: int, step: str) -> HttpResponse:
        if not self._may_act(request):
            raise PermissionDenied
        order = get_object_or_404(Order, pk=order_id)
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
            )
        except ApplicationError as exc:
            details = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in (exc.fields or {}).items())
            messages.error(request, f"{exc.message} {details}".strip())
        else:
            messages.success(request, _("Done: the order is now %(status)s.") % {"status": order.get_status_display()})
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))


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
