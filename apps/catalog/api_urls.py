from django.urls import path

from apps.catalog import api

app_name = "catalog-api"

urlpatterns = [
    path("products/", api.ProductListApi.as_view(), name="products"),
    path("products/<int:pk>/", api.ProductDetailApi.as_view(), name="product"),
    path("categories/", api.CategoryListApi.as_view(), name="categories"),
]
