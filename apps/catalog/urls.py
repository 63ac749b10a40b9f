from django.urls import path

from apps.catalog import views

app_name = "catalog"

urlpatterns = [
    path("products/", views.product_list, name="products"),
    path("products/<int:pk>/", views.product_detail, name="product-short"),
    path("products/<int:pk>/<slug:slug>/", views.product_detail, name="product"),
    path("c/<slug:slug>/", views.category_detail, name="category"),
    path("search/", views.search, name="search"),
]
