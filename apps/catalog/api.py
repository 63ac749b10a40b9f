"""Catalog API (``/api/v1/``): products and categories as a shopper in a given country sees them.

``country``, ``lang`` and ``currency`` default to what the request resolves (profile,
cookie, edge header, region defaults) and, when given, must be ones this region serves;
anything else answers 400 with the valid values. A currency the day's rates cannot price is
answered in the settlement currency with ``X-Currency-Unavailable``, as pages are. Responses
carry an ETag (``ConditionalGetMiddleware``), so an unchanged page answers 304.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.utils import translation
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.selectors import ShopperContext
from apps.catalog.models import Category, Product, Variant
from apps.catalog.selectors import (
    LISTING_CACHE_SECONDS,
    LISTING_SORTS,
    ListingFilters,
    categories_tree,
    category_by_slug,
    certifications_to_show,
    country_refusal,
    listing_address,
    listing_cache_key,
    listing_worth_keeping,
    product_for_page,
    required_certifications,
    storefront_products,
)
from apps.compliance.models import CertificationType
from apps.errors import ApplicationError
from apps.money.formatting import format_money, language_names
from apps.money.selectors import FxSnapshot, convert, rate_snapshot_current
from apps.money.types import Money, MoneyError


class ShopperParams(serializers.Serializer):
    """The viewpoint of a request: whose country rules, which language, which currency."""

    country = serializers.CharField(required=False, max_length=2)
    lang = serializers.CharField(required=False, max_length=10)
    currency = serializers.CharField(required=False, max_length=3)

    def validate_country(self, value: str) -> str:
        value = value.upper()
        valid = sorted(settings.REGION.country_codes)
        if value not in valid:
            raise serializers.ValidationError(
                # Translators: %(values)s lists the country codes a caller may send: "AE, BH, KW".
                gettext("Unknown country “%(value)s”; valid values: %(values)s.")
                % {"value": value, "values": ", ".join(valid)}
            )
        return value

    def validate_lang(self, value: str) -> str:
        valid = list(settings.REGION.languages)
        match = next((code for code in valid if code.lower() == value.lower()), None)
        if match is None:
            reader = translation.to_locale(translation.get_language() or settings.REGION.default_language)
            raise serializers.ValidationError(
                # Translators: %(values)s lists language codes with their names: "en (English), ar (Arabic)".
                gettext("Unknown language “%(value)s”; valid values: %(values)s.")
                % {"value": value, "values": language_names(valid, reader)}
            )
        return match

    def validate_currency(self, value: str) -> str:
        value = value.upper()
        valid = list(settings.REGION.currencies)
        if value not in valid:
            raise serializers.ValidationError(
                # Translators: %(values)s lists currency codes: "USD, CAD".
                gettext("Unknown currency “%(value)s”; valid values: %(values)s.")
                % {"value": value, "values": ", ".join(valid)}
            )
        return value


class ListingParams(ShopperParams):
    q = serializers.CharField(required=False, max_length=100, allow_blank=True)
    category = serializers.SlugField(required=False, max_length=80)
    sort = serializers.ChoiceField(required=False, choices=LISTING_SORTS)
    certification = serializers.ChoiceField(required=False, choices=CertificationType.values)
    merchant = serializers.SlugField(required=False, max_length=80)
    page = serializers.IntegerField(required=False, min_value=1)


def _viewpoint(request: Request, params: dict[str, Any]) -> ShopperContext:
    """The request's shopper with the parameters' choices, in a currency that can be priced now.

    ``?currency=`` is one more way of choosing, and is treated as the pages treat every choice
    (apps.money.middleware): one the rates cannot price today (stale or missing) is answered in
    the settlement currency, each price saying so in its ``currency``, with
    ``X-Currency-Unavailable`` naming the one asked for. Not a 400: the request is not wrong (an
    unknown currency is, and is refused), the rates are late, and a client whose address always
    carries its currency keeps working through the night its rates go stale.
    """
    http = request._request
    base: ShopperContext = http.shopper_chosen  # as resolved: the currency chosen, priceable or not
    chosen = dataclasses.replace(
        base,
        country=params.get("country", base.country),
        language=params.get("lang", base.language),
        currency=params.get("currency", base.currency),
    )
    http.priced_currency = http.priced_currency.choosing(chosen)
    return http.priced_currency.shopper


def _validated(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.query_params)
    if not serializer.is_valid():
        raise ApplicationError(
            gettext("Some query parameters are not valid."),
            code="invalid_parameters",
            fields=_messages(serializer.errors),
        )
    return serializer.validated_data


def _messages(errors: dict[str, Any]) -> dict[str, list[str]]:
    return {field: [str(message) for message in messages] for field, messages in errors.items()}


class PriceField:
    """A price as the shopper sees it: converted with one FX snapshot per request, formatted by Babel."""

    def __init__(self, shopper: ShopperContext) -> None:
        self.shopper = shopper
        try:
            self.snapshot: FxSnapshot | None = rate_snapshot_current()
        except MoneyError:
            self.snapshot = None

    def __call__(self, amount_minor: int | None, currency: str) -> dict[str, Any] | None:
        if amount_minor is None:
            return None
        money = Money(amount_minor, currency)
        shown, snapshot_id, stale = money, None, False
        if currency != self.shopper.currency and self.snapshot is not None:
            try:
                conversion = convert(money, self.shopper.currency, self.snapshot)
            except MoneyError:
                conversion = None
            if conversion is not None:
                shown, snapshot_id, stale = conversion.money, conversion.snapshot_id, conversion.stale
        return {
            "amount_minor": shown.amount_minor,
            "currency": shown.currency,
            "formatted": format_money(shown.amount_minor, shown.currency, self.shopper.locale),
            "fx_snapshot": snapshot_id,
            "stale_rate": stale,
            "base": {"amount_minor": amount_minor, "currency": currency},
        }


def _variant(variant: Variant, price: PriceField) -> dict[str, Any]:
    return {"sku": variant.sku, "attributes": variant.attributes, "price": price(variant.price_minor, variant.currency)}


def _product_card(product: Product, request: Request, price: PriceField) -> dict[str, Any]:
    return {
        "id": product.pk,
        "slug": product.slug,
        "name": product.name,
        "merchant": product.merchant.slug,
        "category": product.category.slug if product.category else None,
        "price_from": price(product.price_minor, product.currency),
        "certifications": sorted({c.type for c in product.valid_certifications}),
        "images": [request.build_absolute_uri(image.image.url) for image in product.images.all()],
        "url": request.build_absolute_uri(product.get_absolute_url()),
    }


class ProductListSerializer(serializers.Serializer):
    """Documented shape only; the views build plain dicts for speed."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = serializers.ListField(child=serializers.DictField())


class ProductPagination(PageNumberPagination):
    """Pages of one listing address (:func:`~apps.catalog.selectors.listing_address`).

    The page number and the links to the next and previous pages come from the validated
    address, never from the raw query string: the page is cached and shared, so it may show
    only what its key holds, and nobody's stray parameters.
    """

    page_size = 48
    page_size_query_param = "page_size"
    max_page_size = 96

    def __init__(self, address: dict[str, str] | None = None) -> None:
        self.address = address or {}

    def get_page_number(self, request: Request, paginator: Any) -> int:
        return int(self.address.get("page", 1))

    def get_next_link(self) -> str | None:
        return self._link(self.page.next_page_number()) if self.page.has_next() else None

    def get_previous_link(self) -> str | None:
        return self._link(self.page.previous_page_number()) if self.page.has_previous() else None

    def _link(self, number: int) -> str:
        address = {name: value for name, value in self.address.items() if name != "page"}
        if number > 1:
            address["page"] = str(number)
        query = urlencode(sorted(address.items()))
        return self.request.build_absolute_uri(self.request.path + (f"?{query}" if query else ""))


def _localised(request: Request, params: dict[str, Any]):
    shopper = _viewpoint(request, params)
    return shopper, translation.override(shopper.language)


class ProductListApi(APIView):
    @extend_schema(
        parameters=[ListingParams, OpenApiParameter("page_size", int)],
        responses=ProductListSerializer,
        operation_id="products_list",
        summary="Products a shopper in a country may see",
    )
    def get(self, request: Request) -> Response:
        params = _validated(ListingParams, request)
        category: Category | None = None
        if params.get("category"):
            category = category_by_slug(slug=params["category"])
            if category is None:
                raise ApplicationError(
                    gettext("No such category."),
                    code="not_found",
                    fields={"category": [gettext("No such category.")]},
                    status=404,
                )
        shopper, language = _localised(request, params)
        # The key and the page's links come from the validated parameters in one spelling (the
        # HTML listing's way), never from the raw address: a made-up parameter, a second spelling
        # of a search, a default said out loud or another order adds no entry. The page size is
        # read as DRF reads it (junk: the default; too large: the largest).
        page_size = ProductPagination().get_page_size(request)
        address = listing_address(
            {**params, "page_size": page_size if page_size != ProductPagination.page_size else None}
        )
        key = listing_cache_key(
            "api",
            country=shopper.country,
            language=shopper.language,
            currency=shopper.currency,
            # The links are absolute: the scheme and host they start with are part of the page.
            params={**address, "origin": request.build_absolute_uri("/")},
        )
        # The page is cached as the JSON bytes it is sent as: a hit costs no serialising.
        body = cache.get(key)
        if body is None:
            with language:
                filters = ListingFilters(
                    category=category,
                    query=address.get("q", ""),
                    merchant_slug=params.get("merchant", ""),
                    certification=params.get("certification", ""),
                    sort=params.get("sort", "newest"),
                )
                # A page past the last answers 404 here, and is not kept.
                paginator = ProductPagination(address)
                products = storefront_products(country=shopper.country, filters=filters)
                page = paginator.paginate_queryset(products, request)
                price = PriceField(shopper)
                results = [_product_card(product, request, price) for product in page]
                body = JSONRenderer().render(paginator.get_paginated_response(results).data)
            # Only what the crowd shares is kept: a typed search or shop that finds nothing is not.
            if listing_worth_keeping(paginator.page, address):
                cache.set(key, body, LISTING_CACHE_SECONDS)
        if isinstance(request.accepted_renderer, JSONRenderer):
            response: HttpResponse = HttpResponse(body, content_type="application/json")
        else:  # the browsable API renders the same data as a page
            response = Response(json.loads(body))
        response["Content-Language"] = shopper.language
        return response


class ProductDetailSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    variants = serializers.ListField(child=serializers.DictField())
    required_certifications = serializers.ListField(child=serializers.DictField())


class ProductDetailApi(APIView):
    @extend_schema(
        parameters=[ShopperParams],
        responses=ProductDetailSerializer,
        operation_id="products_detail",
        summary="One product",
    )
    def get(self, request: Request, pk: int) -> Response:
        params = _validated(ShopperParams, request)
        shopper, language = _localised(request, params)
        product = product_for_page(pk=pk)
        if product is None:
            raise ApplicationError(gettext("No such product."), code="not_found", status=404)
        with language:
            # In the product page's and the cart's words: the country by name, then each rule's message.
            refusal = country_refusal(product, shopper.country, language=shopper.language)
            if refusal is not None:
                raise ApplicationError(
                    refusal.sentence,
                    code="not_available_in_country",
                    fields={"country": list(refusal.reasons)},
                    status=404,
                )
            price = PriceField(shopper)
            data = {
                "id": product.pk,
                "slug": product.slug,
                "name": product.name,
                "description": product.description,
                "merchant": product.merchant.slug,
                "category": product.category.slug if product.category else None,
                "variants": [_variant(variant, price) for variant in product.active_variants],
                "images": [
                    {"url": request.build_absolute_uri(image.image.url), "alt": image.alt_text}
                    for image in product.images.all()
                ],
                "ingredients": [{"name": i.name, "e_number": i.e_number} for i in product.ingredients.all()],
                "certifications": [
                    {"type": c.type, "issuer": c.issuer, "number": c.number, "valid_until": c.valid_until.isoformat()}
                    for c in certifications_to_show(product)
                ],
                "required_certifications": [
                    {
                        "type": need.type,
                        "label": str(need.label),
                        "message": need.message,
                        "certified": need.certification is not None,
                    }
                    for need in required_certifications(product, shopper.country, language=shopper.language)
                ],
                "url": request.build_absolute_uri(product.get_absolute_url()),
            }
        response = Response(data)
        response["Content-Language"] = shopper.language
        return response


def _category(node: Category) -> dict[str, Any]:
    return {"slug": node.slug, "name": node.name, "children": [_category(child) for child in node.children_list]}


class CategorySerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    children = serializers.ListField(child=serializers.DictField())


class CategoryTreeSerializer(serializers.Serializer):
    results = CategorySerializer(many=True)


class CategoryListApi(APIView):
    @extend_schema(
        parameters=[ShopperParams],
        responses=CategoryTreeSerializer,
        operation_id="categories_list",
        summary="The category tree, names in the chosen language",
    )
    def get(self, request: Request) -> Response:
        params = _validated(ShopperParams, request)
        shopper, language = _localised(request, params)
        with language:
            data = {"results": [_category(node) for node in categories_tree()]}
        response = Response(data)
        response["Content-Language"] = shopper.language
        return response
