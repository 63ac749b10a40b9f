from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.catalog import api, merchant_api

app_name = "catalog-api"

# The merchant console's API: /api/v1/merchant/products/, /products/<id>/variants/,
# /products/<id>/certifications/, /variants/<id>/, /variants/<id>/stock/<warehouse code>/ …
merchant = SimpleRouter()
merchant.register("merchant/products", merchant_api.ProductViewSet, basename="merchant-product")
merchant.register("merchant/variants", merchant_api.VariantViewSet, basename="merchant-variant")
merchant.register("merchant/certifications", merchant_api.CertificationViewSet, basename="merchant-certification")
merchant.register("merchant/warehouses", merchant_api.WarehouseViewSet, basename="merchant-warehouse")

urlpatterns = [
    path("products/", api.ProductListApi.as_view(), name="products"),
    path("products/<int:pk>/", api.ProductDetailApi.as_view(), name="product"),
    path("categories/", api.CategoryListApi.as_view(), name="categories"),
    *merchant.urls,
]
