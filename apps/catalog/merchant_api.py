"""Merchant API (``/api/v1/merchant/``): merchant staff manage their own catalog.

Products (with their translations, facts, variants and certificates), variants with
their stock per warehouse, certificates and warehouses. Signed-in merchant staff act
for the merchants they work for, operators for every merchant; shoppers and anonymous
callers are refused (403). Another merchant's row is not in the querysets at all
(``apps.catalog.selectors.merchant_*``), so asking for it answers 404, exactly as if it
did not exist. Serializers check the shape of what comes in; the services check the rest
with the same messages the admin shows, and own the transaction, so a refused request
writes nothing. Session authentication: unsafe methods need the CSRF token.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import get_language, gettext, gettext_lazy, to_locale
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from modeltranslation.utils import build_localized_fieldname
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings

from apps.accounts.models import Merchant, Role
from apps.accounts.selectors import merchants_for_user, user_role
from apps.catalog import services
from apps.catalog.models import (
    DEFAULT_HANDLING_DAYS,
    Category,
    Certification,
    Product,
    Variant,
    Warehouse,
    region_today,
)
from apps.catalog.selectors import (
    merchant_certifications,
    merchant_products,
    merchant_stock,
    merchant_variants,
    merchant_warehouses,
)
from apps.compliance.models import CertificationType, ProductAttribute
from apps.errors import ApplicationError, ErrorResponse
from apps.money.formatting import language_names

# --- who may call it ----------------------------------------------------------------------


class MerchantStaffOnly(BasePermission):
    """Merchant staff and operators; what each may touch is decided by the querysets."""

    message = gettext_lazy("Only merchant staff and operators may use the merchant API.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return user_role(request.user) in (Role.MERCHANT_STAFF, Role.OPERATOR)


# --- errors in one shape --------------------------------------------------------------------


def _dotted(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested errors as flat ``{"variants.1.sku": [...]}``, the shape services use too."""
    if isinstance(errors, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in errors.items():
            if key in (api_settings.NON_FIELD_ERRORS_KEY, NON_FIELD_ERRORS):
                name = prefix or NON_FIELD_ERRORS
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            for field, messages in _dotted(value, name).items():
                flat.setdefault(field, []).extend(messages)
        return flat
    if isinstance(errors, list) and not all(isinstance(item, str) for item in errors):
        flat = {}
        for index, item in enumerate(errors):
            if item:
                flat |= _dotted(item, f"{prefix}.{index}" if prefix else str(index))
        return flat
    messages = errors if isinstance(errors, list) else [errors]
    return {prefix or NON_FIELD_ERRORS: [str(message) for message in messages]}


def _valid(serializer: serializers.Serializer) -> dict[str, Any]:
    if not serializer.is_valid():
        raise ApplicationError(gettext("Some fields are not valid."), code="invalid", fields=_dotted(serializer.errors))
    return serializer.validated_data


@contextmanager
def _api_field_names() -> Iterator[None]:
    """Model errors name translated columns (``name_en``); the API calls them ``names.en``."""
    renames = {
        build_localized_fieldname(field, language): f"{plural}.{language}"
        for field, plural in (("name", "names"), ("description", "descriptions"))
        for language in settings.REGION.languages
    }
    try:
        yield
    except ApplicationError as exc:
        exc.fields = {renames.get(name, name): messages for name, messages in exc.fields.items()}
        raise


# --- what comes in --------------------------------------------------------------------------


class StrictInput(serializers.Serializer):
    """Refuses fields it does not know, so a typo or a field that cannot change is not silently ignored."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                accepted = ", ".join(self.fields)
                raise serializers.ValidationError(
                    {
                        str(name): [gettext("Not accepted here; accepted fields: %(fields)s.") % {"fields": accepted}]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)


class TranslationsField(serializers.DictField):
    """Text per language code; only the languages this region offers."""

    def to_internal_value(self, data: Any) -> dict[str, str]:
        texts = super().to_internal_value(data)
        offered = settings.REGION.languages
        unknown = sorted(str(language) for language in texts if language not in offered)
        if unknown:
            raise serializers.ValidationError(
                {
                    language: [
                        # Translators: %(valid)s lists language codes with their names: "en (English), ar (Arabic)".
                        gettext("This region does not offer %(language)s; valid values: %(valid)s.")
                        % {
                            "language": language,
                            "valid": language_names(
                                offered, to_locale(get_language() or settings.REGION.default_language)
                            ),
                        }
                    ]
                    for language in unknown
                }
            )
        return texts


class SlugRelation(serializers.SlugRelatedField):
    """DRF's slug relation, where a value with a NUL byte names no row, as any unknown slug does.

    PostgreSQL refuses NUL in text, and DRF turns only ``TypeError``/``ValueError`` from the
    lookup into "does not exist": the ``DataError`` was a 500.
    """

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.STR)
class MerchantChoice(SlugRelation):
    """A merchant, by slug, among those the caller acts for; someone else's reads as unknown."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="slug", required=False, **kwargs)

    def get_queryset(self) -> QuerySet[Merchant]:
        return merchants_for_user(self.context["request"].user)


def _merchant_or_only_one(serializer: serializers.Serializer, data: dict[str, Any]) -> dict[str, Any]:
    if "merchant" not in data:
        mine = list(merchants_for_user(serializer.context["request"].user)[:2])
        if len(mine) != 1:
            raise serializers.ValidationError(
                {"merchant": [gettext("Say which merchant this is for (its slug): you act for several.")]}
            )
        data["merchant"] = mine[0]
    return data


class VariantIn(StrictInput):
    sku = serializers.CharField(max_length=40, help_text="Capital letters, digits and single dashes: TSHIRT-RED-XL")
    price_minor = serializers.IntegerField(
        min_value=0, help_text="Minor units (cents) of the region's settlement currency"
    )
    attributes = serializers.DictField(
        child=serializers.CharField(max_length=60), required=False, help_text='e.g. {"size": "XL"}'
    )
    position = serializers.IntegerField(min_value=0, max_value=32767, required=False)
    is_active = serializers.BooleanField(required=False)


class VariantChangeIn(VariantIn):
    sku = serializers.CharField(max_length=40, required=False)
    price_minor = serializers.IntegerField(min_value=0, required=False)


class ProductChangeIn(StrictInput):
    slug = serializers.SlugField(max_length=120, required=False)
    names = TranslationsField(
        child=serializers.CharField(max_length=200, allow_blank=True),
        required=False,
        help_text="Name per language code; the region's default language may not be empty",
    )
    descriptions = TranslationsField(child=serializers.CharField(allow_blank=True), required=False)
    category = SlugRelation(
        slug_field="slug", queryset=Category.objects.filter(is_active=True), required=False, allow_null=True
    )
    attributes = serializers.ListField(
        child=serializers.ChoiceField(choices=ProductAttribute.choices),
        required=False,
        help_text="The facts country rules test that are true of this product",
    )
    is_active = serializers.BooleanField(required=False, help_text="false takes the product off sale (archive)")


class ProductIn(ProductChangeIn):
    merchant = MerchantChoice(help_text="Required when you act for several merchants")
    slug = serializers.SlugField(max_length=120)
    names = TranslationsField(child=serializers.CharField(max_length=200, allow_blank=True))
    variants = VariantIn(many=True, required=False)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        return _merchant_or_only_one(self, data)


class CertificationIn(StrictInput):
    type = serializers.ChoiceField(choices=CertificationType.choices)
    issuer = serializers.CharField(max_length=120)
    number = serializers.CharField(max_length=60)
    valid_from = serializers.DateField(required=False, allow_null=True)
    valid_until = serializers.DateField(help_text="An already expired certificate is refused")


class StockIn(StrictInput):
    quantity = serializers.IntegerField(min_value=0, max_value=2_147_483_647)


class WarehouseIn(StrictInput):
    merchant = MerchantChoice(help_text="Required when you act for several merchants")
    code = serializers.SlugField(max_length=40)
    name = serializers.CharField(max_length=120)
    country = serializers.CharField(max_length=2, help_text="ISO 3166 code, e.g. US")
    handling_days = serializers.IntegerField(
        required=False,
        default=DEFAULT_HANDLING_DAYS,
        help_text="Working days the warehouse needs to pack an order, 0 to 30; counted in every delivery date",
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        return _merchant_or_only_one(self, data)


# --- what goes out --------------------------------------------------------------------------


class StockOut(serializers.Serializer):
    warehouse = serializers.CharField(source="warehouse.code")
    quantity = serializers.IntegerField()


class VariantOut(serializers.Serializer):
    id = serializers.IntegerField()
    product = serializers.IntegerField(source="product_id")
    sku = serializers.CharField()
    attributes = serializers.DictField(child=serializers.CharField())
    price_minor = serializers.IntegerField()
    currency = serializers.CharField()
    position = serializers.IntegerField()
    is_active = serializers.BooleanField()
    stock = StockOut(many=True, source="stocks.all")


class CertificationOut(serializers.Serializer):
    id = serializers.IntegerField()
    product = serializers.IntegerField(source="product_id")
    type = serializers.CharField()
    issuer = serializers.CharField()
    number = serializers.CharField()
    valid_from = serializers.DateField(allow_null=True)
    valid_until = serializers.DateField()
    counts_today = serializers.SerializerMethodField()

    def get_counts_today(self, certification: Certification) -> bool:
        return certification.is_valid_on(region_today())


def _translations(instance: Product, field: str) -> dict[str, str]:
    return {
        language: getattr(instance, build_localized_fieldname(field, language)) or ""
        for language in settings.REGION.languages
    }


class ProductOut(serializers.Serializer):
    id = serializers.IntegerField()
    merchant = serializers.CharField(source="merchant.slug")
    slug = serializers.SlugField()
    names = serializers.SerializerMethodField()
    descriptions = serializers.SerializerMethodField()
    category = serializers.CharField(source="category.slug", allow_null=True)
    attributes = serializers.SerializerMethodField()
    is_active = serializers.BooleanField()
    variants = VariantOut(many=True)
    certifications = CertificationOut(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_names(self, product: Product) -> dict[str, str]:
        return _translations(product, "name")

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_descriptions(self, product: Product) -> dict[str, str]:
        return _translations(product, "description")

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=ProductAttribute.choices)))
    def get_attributes(self, product: Product) -> list[str]:
        return [attribute for attribute in ProductAttribute.values if getattr(product, attribute)]


class WarehouseOut(serializers.Serializer):
    id = serializers.IntegerField()
    merchant = serializers.CharField(source="merchant.slug")
    code = serializers.SlugField()
    name = serializers.CharField()
    country = serializers.CharField()
    handling_days = serializers.IntegerField()
    is_active = serializers.BooleanField()


def _answers(ok: Any, ok_status: int = 200, *, refused: tuple[int, ...] = (403, 404)) -> dict[int, Any]:
    described = {
        400: OpenApiResponse(ErrorResponse, description="Bad input: `fields` names each bad field"),
        403: OpenApiResponse(
            ErrorResponse, description="Not signed in as merchant staff or operator, or no CSRF token"
        ),
        404: OpenApiResponse(ErrorResponse, description="Not found among your merchants' rows"),
        409: OpenApiResponse(ErrorResponse, description="In use by orders or live rooms: take it off sale instead"),
    }
    return {ok_status: ok, **{code: described[code] for code in refused}}


# --- views ----------------------------------------------------------------------------------


class MerchantPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class MerchantViewSet(viewsets.GenericViewSet):
    permission_classes = [MerchantStaffOnly]
    lookup_value_regex = r"[0-9]+"

    def valid_input(self, serializer_class: type[serializers.Serializer]) -> dict[str, Any]:
        return _valid(serializer_class(data=self.request.data, context=self.get_serializer_context()))


@extend_schema_view(
    list=extend_schema(
        summary="Your merchants' products, on sale or not, newest first",
        parameters=[OpenApiParameter("merchant", str, description="Only this merchant's (slug)")],
        responses=_answers(ProductOut(many=True), refused=(403,)),
    ),
    create=extend_schema(
        summary="Create a product, with its variants, in one step",
        request=ProductIn,
        responses=_answers(ProductOut, 201, refused=(400, 403)),
    ),
    retrieve=extend_schema(summary="One of your products", responses=_answers(ProductOut)),
    partial_update=extend_schema(
        summary="Change a product (only the fields sent; names per language)",
        request=ProductChangeIn,
        responses=_answers(ProductOut, refused=(400, 403, 404)),
    ),
    destroy=extend_schema(
        summary="Delete a product that was never ordered or pinned",
        responses=_answers(None, 204, refused=(403, 404, 409)),
    ),
)
class ProductViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, MerchantViewSet):
    serializer_class = ProductOut
    pagination_class = MerchantPagination

    def get_queryset(self) -> QuerySet[Product]:
        products = merchant_products(user=self.request.user)
        merchant = self.request.query_params.get("merchant") if self.action == "list" else None
        if merchant:
            # A NUL byte names no merchant, as any unknown slug (PostgreSQL would refuse the query).
            products = products.none() if "\x00" in merchant else products.filter(merchant__slug=merchant)
        return products

    def _shown(self, product: Product) -> Any:
        return ProductOut(merchant_products(user=self.request.user).get(pk=product.pk)).data

    def create(self, request: Request) -> Response:
        data = self.valid_input(ProductIn)
        with _api_field_names():
            product = services.product_create(
                region=settings.REGION,
                merchant=data["merchant"],
                slug=data["slug"],
                names=data["names"],
                descriptions=data.get("descriptions"),
                category=data.get("category"),
                attributes=data.get("attributes", ()),
                is_active=data.get("is_active", True),
                variants=[services.VariantInput(**variant) for variant in data.get("variants", [])],
            )
        return Response(self._shown(product), status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        product = self.get_object()
        data = self.valid_input(ProductChangeIn)
        with _api_field_names():
            product = services.product_update(
                region=settings.REGION,
                product=product,
                slug=data.get("slug"),
                names=data.get("names"),
                descriptions=data.get("descriptions"),
                category=data.get("category", services.UNCHANGED),
                attributes=data.get("attributes"),
                is_active=data.get("is_active"),
            )
        return Response(self._shown(product))

    def destroy(self, request: Request, pk: str) -> Response:
        services.product_delete(product=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(methods=["GET"], summary="The product's variants", responses=_answers(VariantOut(many=True)))
    @extend_schema(
        methods=["POST"],
        summary="Add a variant to the product",
        request=VariantIn,
        responses=_answers(VariantOut, 201, refused=(400, 403, 404)),
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def variants(self, request: Request, pk: str) -> Response:
        product = self.get_object()
        if request.method == "GET":
            return Response(VariantOut(merchant_variants(user=request.user).filter(product=product), many=True).data)
        data = self.valid_input(VariantIn)
        variant = services.variant_create(region=settings.REGION, product=product, **data)
        return Response(VariantOut(variant).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"], summary="The product's certificates", responses=_answers(CertificationOut(many=True))
    )
    @extend_schema(
        methods=["POST"],
        summary="Attach a certificate (an expired one is refused)",
        request=CertificationIn,
        responses=_answers(CertificationOut, 201, refused=(400, 403, 404)),
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def certifications(self, request: Request, pk: str) -> Response:
        product = self.get_object()
        if request.method == "GET":
            rows = merchant_certifications(user=request.user).filter(product=product)
            return Response(CertificationOut(rows, many=True).data)
        certification = services.certification_add(product=product, **self.valid_input(CertificationIn))
        return Response(CertificationOut(certification).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    retrieve=extend_schema(summary="One of your variants, with its stock", responses=_answers(VariantOut)),
    partial_update=extend_schema(
        summary="Change a variant (SKU, attributes, price, position, on sale)",
        request=VariantChangeIn,
        responses=_answers(VariantOut, refused=(400, 403, 404)),
    ),
    destroy=extend_schema(
        summary="Delete a variant that was never ordered",
        responses=_answers(None, 204, refused=(403, 404, 409)),
    ),
)
class VariantViewSet(mixins.RetrieveModelMixin, MerchantViewSet):
    serializer_class = VariantOut

    def get_queryset(self) -> QuerySet[Variant]:
        return merchant_variants(user=self.request.user)

    def partial_update(self, request: Request, pk: str) -> Response:
        variant = self.get_object()
        variant = services.variant_update(variant=variant, **self.valid_input(VariantChangeIn))
        return Response(VariantOut(self.get_queryset().get(pk=variant.pk)).data)

    def destroy(self, request: Request, pk: str) -> Response:
        services.variant_delete(variant=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="The variant's stock per warehouse", responses=_answers(StockOut(many=True)))
    @action(detail=True, methods=["get"])
    def stock(self, request: Request, pk: str) -> Response:
        variant = self.get_object()
        return Response(StockOut(merchant_stock(user=request.user).filter(variant=variant), many=True).data)

    @extend_schema(
        methods=["PUT"],
        summary="Set the count in one warehouse (a stock take)",
        request=StockIn,
        responses=_answers(StockOut, refused=(400, 403, 404)),
    )
    @extend_schema(
        methods=["DELETE"],
        summary="Remove the variant's stock row in one warehouse",
        responses=_answers(None, 204, refused=(403, 404, 409)),
    )
    @action(
        detail=True, methods=["put", "delete"], url_path=r"stock/(?P<warehouse>[-a-zA-Z0-9_]+)", url_name="stock-row"
    )
    def stock_row(self, request: Request, pk: str, warehouse: str) -> Response:
        variant = self.get_object()
        if request.method == "DELETE":
            row = get_object_or_404(merchant_stock(user=request.user), variant=variant, warehouse__code=warehouse)
            services.stock_delete(stock=row)
            return Response(status=status.HTTP_204_NO_CONTENT)
        place = get_object_or_404(
            merchant_warehouses(user=request.user), merchant_id=variant.merchant_id, code=warehouse
        )
        row = services.stock_set(variant=variant, warehouse=place, **self.valid_input(StockIn))
        return Response(StockOut(row).data)


@extend_schema_view(
    retrieve=extend_schema(summary="One of your certificates", responses=_answers(CertificationOut)),
    destroy=extend_schema(summary="Remove a certificate", responses=_answers(None, 204)),
)
class CertificationViewSet(mixins.RetrieveModelMixin, mixins.DestroyModelMixin, MerchantViewSet):
    serializer_class = CertificationOut

    def get_queryset(self) -> QuerySet[Certification]:
        return merchant_certifications(user=self.request.user)

    def perform_destroy(self, instance: Certification) -> None:
        services.certification_delete(certification=instance)


@extend_schema_view(
    list=extend_schema(
        summary="Your merchants' warehouses", responses=_answers(WarehouseOut(many=True), refused=(403,))
    ),
    create=extend_schema(
        summary="Add a warehouse", request=WarehouseIn, responses=_answers(WarehouseOut, 201, refused=(400, 403))
    ),
)
class WarehouseViewSet(mixins.ListModelMixin, MerchantViewSet):
    serializer_class = WarehouseOut

    def get_queryset(self) -> QuerySet[Warehouse]:
        return merchant_warehouses(user=self.request.user)

    def create(self, request: Request) -> Response:
        data = self.valid_input(WarehouseIn)
        warehouse = services.warehouse_create(
            merchant=data["merchant"],
            code=data["code"],
            name=data["name"],
            country=data["country"],
            handling_days=data["handling_days"],
        )
        return Response(WarehouseOut(warehouse).data, status=status.HTTP_201_CREATED)
