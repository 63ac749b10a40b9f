"""Any change to what a listing shows makes every cached listing of the region stale at once."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apps.catalog.models import Category, Certification, Product, ProductImage, ProductIngredient, Variant
from apps.catalog.selectors import catalog_changed

LISTED_MODELS = (Category, Certification, Product, ProductImage, ProductIngredient, Variant)


@receiver(post_save)
@receiver(post_delete)
def _catalog_changed(sender: type, **kwargs: Any) -> None:
    if sender in LISTED_MODELS:
        catalog_changed()
