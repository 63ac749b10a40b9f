"""Storefront pages: listings, search and the product page. Thin: selectors decide what shows."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from apps.catalog import page_cache
from apps.catalog.forms import ListingForm
from apps.catalog.models import Category
from apps.catalog.selectors import (
    LISTING_CACHE_SECONDS,
    ListingFilters,
    categories_tree,
    category_by_slug,
    certifications_to_show,
    listing_address,
    listing_cache_key,
    listing_worth_keeping,
    product_for_page,
    product_hidden_in,
    required_certifications,
    storefront_products,
)

PAGE_SIZE = 48


def _listing(request: HttpRequest, *, category: Category | None, title: str, show_search: bool = False) -> HttpResponse:
    """A listing for every visitor alike: the whole page from the cache, with their own parts put in.

    The page is the same for every shopper of one (country, language, currency, address) but
    for the account menu, the messages waiting and the CSRF token (see
    :mod:`apps.catalog.page_cache`); those are rendered per request for signed-in shoppers and
    first visits alike. The page and, on its own, the listing body are keyed by the validated
    parameters only (:func:`~apps.catalog.selectors.listing_address`), so that addresses that
    differ in stray parameters or in the spelling of a search share them.
    """
    form = ListingForm(request.GET)
    shopper = request.shopper
    viewpoint = {"country": shopper.country, "language": shopper.language, "currency": shopper.currency}
    context = {"title": title, "category": category, "show_search": show_search}
    if not form.is_valid():
        # A bad parameter narrows nothing: the plain listing, with the form saying what was wrong.
        content = _render_content(request, form, ListingFilters(category=category), {}, context)[0]
        page = page_cache.render_shared("catalog/product_list.html", {**context, "content": content}, request)
        return HttpResponse(page_cache.fill(page, request), status=400)

    # Keys and every address the shared page shows come from the validated parameters in one
    # spelling, never from the raw address: a made-up parameter, a second spelling of a search
    # or a different order adds no entry, and nobody's query string reaches another's page.
    chosen = listing_address(form.cleaned_data)
    filters = replace(form.filters(category=category), query=chosen.get("q", ""))
    params = {**chosen, "category": category.slug if category else "", "search": show_search}
    page_key = listing_cache_key("html-page-holes", **viewpoint, params={**params, "path": request.path})
    page = cache.get(page_key)
    if page is None:
        shown = page_cache.asking_for(request, chosen)
        key = listing_cache_key("html", **viewpoint, params=params)
        content = cache.get(key)
        # Only what is cached already or found worth keeping is kept; see listing_worth_keeping.
        keep = content is not None
        if content is None:
            content, keep = _render_content(shown, ListingForm(chosen), filters, chosen, context)
            if keep:
                cache.set(key, content, LISTING_CACHE_SECONDS)
        page = page_cache.render_shared("catalog/product_list.html", {**context, "content": content}, shown)
        if keep:
            cache.set(page_key, page, LISTING_CACHE_SECONDS)
    return HttpResponse(page_cache.fill(page, request))


def _render_content(
    request: HttpRequest, form: ListingForm, filters: ListingFilters, chosen: dict[str, str], context: dict[str, Any]
) -> tuple[str, bool]:
    """The listing body (categories, filters, cards, pages), and whether it is worth caching.

    Shared through the cache: it may show only what its key holds, so the form and the page
    links come from the validated parameters (``chosen``), never from the raw query string."""
    products = storefront_products(country=request.shopper.country, filters=filters)
    page = Paginator(products, PAGE_SIZE).get_page(chosen.get("page"))
    query_without_page = urlencode([(name, value) for name, value in chosen.items() if name != "page"])
    content = page_cache.render_for_nobody(
        "catalog/_listing_content.html",
        {
            **context,
            "form": form,
            "query_without_page": query_without_page,
            "categories": categories_tree(),
            "page": page,
            "products": page.object_list,
        },
        request,
    )
    return content, listing_worth_keeping(page, chosen)


def product_list(request: HttpRequest) -> HttpResponse:
    return _listing(request, category=None, title=_("All products"))


def category_detail(request: HttpRequest, slug: str) -> HttpResponse:
    category = category_by_slug(slug=slug)
    if category is None:
        raise Http404(_("No such category."))
    return _listing(request, category=category, title=category.name)


def search(request: HttpRequest) -> HttpResponse:
    return _listing(request, category=None, title=_("Search"), show_search=True)


def product_detail(request: HttpRequest, pk: int, slug: str | None = None) -> HttpResponse:
    """The product page; a product the shopper's country forbids answers 404 with the reason."""
    product = product_for_page(pk=pk)
    if product is None:
        raise Http404(_("No such product."))
    if slug != product.slug:
        return redirect("catalog:product", pk=product.pk, slug=product.slug, permanent=True)
    shopper = request.shopper
    hidden = product_hidden_in(product, countries=[shopper.country], language=shopper.language)
    if hidden:
        reasons = [violation.message for violation in hidden[shopper.country]]
        return render(
            request,
            "catalog/product_unavailable.html",
            {"product": product, "reasons": reasons, "country": shopper.country},
            status=404,
        )
    context = {
        "product": product,
        "variants": product.active_variants,
        "images": list(product.images.all()),
        "required": required_certifications(product, shopper.country, language=shopper.language),
        "certifications": certifications_to_show(product),
        "ingredients": list(product.ingredients.all()),
        "settlement_currency": settings.REGION.settlement_currency,
        # The add-to-cart form posts to the orders app, which enforces this limit itself.
        "max_quantity": settings.ORDERS_MAX_QUANTITY_PER_LINE,
    }
    return render(request, "catalog/product_detail.html", context)
