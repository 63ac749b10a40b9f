"""Operators' read-only view of the stored FX rates: what every price was converted with."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join

from apps.money.models import FxRate, RateSnapshot
from apps.money.selectors import is_stale_date, rate_snapshot_get


class ReadOnlyForOperators(admin.ModelAdmin):
    """Rates come only from providers; nobody edits or deletes them by hand (orders point at them)."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class FxRateInline(admin.TabularInline):
    model = FxRate
    fields = ["base", "quote", "rate", "source", "fetched_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(RateSnapshot)
class RateSnapshotAdmin(ReadOnlyForOperators):
    list_display = ["rate_date", "source", "pivot", "rate_count", "stale", "fetched_at"]
    list_filter = ["source"]
    date_hierarchy = "rate_date"
    fields = ["source", "rate_date", "pivot", "fetched_at", "resolved_rates"]
    readonly_fields = fields
    inlines = [FxRateInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[RateSnapshot]:
        return super().get_queryset(request).annotate(rate_count=Count("rates"))

    @admin.display(description="rates", ordering="rate_count")
    def rate_count(self, obj: RateSnapshot) -> int:
        return obj.rate_count

    @admin.display(description="stale today", boolean=True)
    def stale(self, obj: RateSnapshot) -> bool:
        return is_stale_date(obj.rate_date)

    @admin.display(description="every currency per 1 pivot (as conversions use it)")
    def resolved_rates(self, obj: RateSnapshot) -> str:
        snapshot = rate_snapshot_get(snapshot_id=obj.pk)
        rows = (
            (code, f"{Decimal(value.numerator) / Decimal(value.denominator):.6g}")
            for code, value in sorted(snapshot.units_per_pivot.items())
        )
        return format_html_join("", "<div>1 {} = {} {}</div>", ((obj.pivot, value, code) for code, value in rows))


@admin.register(FxRate)
class FxRateAdmin(ReadOnlyForOperators):
    list_display = ["snapshot", "base", "quote", "rate", "source", "fetched_at"]
    list_filter = ["source", "snapshot__source", "quote"]
    search_fields = ["base", "quote"]
    list_select_related = ["snapshot"]
    date_hierarchy = "snapshot__rate_date"
    readonly_fields = ["snapshot", "source", "base", "quote", "rate", "fetched_at"]
