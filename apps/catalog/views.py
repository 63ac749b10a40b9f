"""Storefront pages: listings, search and the product page. Thin: selectors decide what shows."""

from __future__ import annotations

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from apps.catalog.forms import ListingForm
from apps.catalog.models import Category
from apps.catalog.selectors import (
    LISTING_CACHE_SECONDS,
    ListingFilters,
    categories_tree,
    category_by_slug,
    listing_cache_key,
    product_for_page,
    product_hidden_in,
    required_certifications,
    storefront_products,
)

PAGE_SIZE = 48


def _listing(request: HttpRequest, *, category: Category | None, title: str, show_search: bool = False) -> HttpResponse:
    form = ListingForm(request.GET)
    shopper = request.shopper
    context = {
        "title": title,
        "form": form,
        "category": category,
        "show_search": show_search,
        "query_without_page": _query_without_page(request),
    }
    if form.is_valid():
        # The page body is the same for every shopper of one (region, country, language,
        # currency): rendered once, then served from the cache until the catalog changes.
        params = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
        params.update(category=category.slug if category else "", search=show_search)
        first_visit = _whole_page_cacheable(request)
        if first_visit:
            page_key = listing_cache_key(
                "html-page",
                country=shopper.country,
                language=shopper.language,
                currency=shopper.currency,
                params={**params, "path": request.get_full_path()},
            )
            page = cache.get(page_key)
            if page is not None:
                return HttpResponse(page.replace(CSRF_PLACEHOLDER, get_token(request)))
        key = listing_cache_key(
            "html", country=shopper.country, language=shopper.language, currency=shopper.currency, params=params
        )
        content = cache.get(key)
        if content is None:
            content = _render_content(request, form.filters(category=category), form.cleaned_data.get("page"), context)
            cache.set(key, content, LISTING_CACHE_SECONDS)
        if first_visit:
            # The whole page, with a placeholder where each visitor's own CSRF token goes.
            page = render_to_string(
                "catalog/product_list.html",
                {**context, "content": content, "csrf_token": CSRF_PLACEHOLDER},
                request=request,
            )
            cache.set(page_key, page, LISTING_CACHE_SECONDS)
            return HttpResponse(page.replace(CSRF_PLACEHOLDER, get_token(request)))
        status = 200
    else:
        # A bad parameter narrows nothing: the plain listing, with the form saying what was wrong.
        content = _render_content(request, ListingFilters(category=category), 1, context)
        status = 400
    return render(request, "catalog/product_list.html", {**context, "content": content}, status=status)


# Stands for the visitor's CSRF token in a cached page (letters only: it survives escaping).
CSRF_PLACEHOLDER = "LiveMallCsrfTokenPlaceholderQvZkWmXe"


def _whole_page_cacheable(request: HttpRequest) -> bool:
    """Nothing on the page is the visitor's own: not signed in, no message waiting.

    For anyone else the page is the same for every visitor of one key (country, language and
    currency preferences are in it; a cart is not shown on listings) but for the CSRF token,
    which is put in per request. The crowd a live show sends to a listing is like this;
    rendering its header, footer and forms for every one of them was half the listing's time.
    """
    return not request.user.is_authenticated and not len(get_messages(request))


def _render_content(request: HttpRequest, filters: ListingFilters, page_number: int | None, context: dict) -> str:
    products = storefront_products(country=request.shopper.country, filters=filters)
    page = Paginator(products, PAGE_SIZE).get_page(page_number)
    return render_to_string(
        "catalog/_listing_content.html",
        {**context, "categories": categories_tree(), "page": page, "products": page.object_list},
        request=request,
    )


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


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
        "certifications": list(product.certifications.all()),
        "ingredients": list(product.ingredients.all()),
        "settlement_currency": settings.REGION.settlement_currency,
        # The add-to-cart form posts to the orders app, which enforces this limit itself.
        "max_quantity": settings.ORDERS_MAX_QUANTITY_PER_LINE,
    }
    return render(request, "catalog/product_detail.html", context)
