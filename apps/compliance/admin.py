"""Operators edit country groups and product rules here; merchant staff have no access."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from modeltranslation.admin import TranslationAdmin

from apps.admin_languages import RegionLanguagesMixin
from apps.compliance.models import CountryGroup, CountryGroupMember, ProductRule, RuleAdditive


class CountryGroupMemberInline(admin.TabularInline):
    model = CountryGroupMember
    extra = 0


@admin.register(CountryGroup)
class CountryGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "countries"]
    search_fields = ["name", "code", "members__country"]
    inlines = [CountryGroupMemberInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("members")

    @admin.display(description=_("countries"))
    def countries(self, obj: CountryGroup) -> str:
        return " ".join(member.country for member in obj.members.all())


class RuleAdditiveInline(admin.TabularInline):
    model = RuleAdditive
    extra = 0
    fields = ["e_number", "name", "note"]


@admin.register(ProductRule)
class ProductRuleAdmin(RegionLanguagesMixin, TranslationAdmin):
    list_display = ["name", "target", "kind", "attribute", "food_only", "certification_type", "is_active"]
    list_filter = ["is_active", "kind", "group", "country"]
    search_fields = ["name", "message", "additives__e_number"]
    inlines = [RuleAdditiveInline]
    fieldsets = (
        (None, {"fields": ("name", "is_active")}),
        (_("Where"), {"fields": ("country", "group")}),
        (_("Which products"), {"fields": ("attribute", "food_only")}),
        (_("What happens"), {"fields": ("kind", "certification_type", "message")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("group")

    @admin.display(description=_("applies in"))
    def target(self, obj: ProductRule) -> str:
        return obj.country or str(obj.group)
