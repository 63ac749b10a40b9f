from django.contrib import admin

from apps.orders.models import Coupon, Order, OrderEvent, OrderLine, Shipment


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin):
    list_display = ("code", "percent_off", "valid_from", "valid_until", "is_active")
    search_fields = ("code",)


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

    def has_change_permission(self, request, obj=None) -> bool:
        return False
