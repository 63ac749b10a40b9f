"""Pages that gather several apps; they live on the top floor, which may import them all."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from apps.catalog.selectors import categories_tree, featured_products
from apps.live.selectors import rooms_upcoming_and_live


def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "home.html",
        {
            "products": featured_products(country=request.shopper.country, limit=8),
            "categories": categories_tree(),
            "rooms": rooms_upcoming_and_live(limit=6),
        },
    )
