"""What a shopper may type into a listing's query string, validated before any query runs."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from apps.catalog.selectors import LISTING_SORTS, ListingFilters
from apps.compliance.models import CertificationType

SORT_LABELS = {
    "newest": _("Newest"),
    "price_asc": _("Price: low to high"),
    "price_desc": _("Price: high to low"),
    "name": _("Name"),
}


class ListingForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100, strip=True)
    sort = forms.ChoiceField(
        label=_("Sort by"), required=False, choices=[(key, SORT_LABELS[key]) for key in LISTING_SORTS]
    )
    certification = forms.ChoiceField(
        label=_("Certified"), required=False, choices=[("", _("Any")), *CertificationType.choices]
    )
    merchant = forms.SlugField(label=_("Shop"), required=False, max_length=80)
    page = forms.IntegerField(required=False, min_value=1, max_value=10_000)

    def filters(self, *, category=None) -> ListingFilters:
        data = self.cleaned_data
        return ListingFilters(
            category=category,
            query=data.get("q") or "",
            merchant_slug=data.get("merchant") or "",
            certification=data.get("certification") or "",
            sort=data.get("sort") or "newest",
        )
