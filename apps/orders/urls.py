from django.urls import path

from apps.orders import views

app_name = "orders"

urlpatterns = [
    path("cart/", views.cart, name="cart"),
    path("cart/add", views.cart_add, name="cart-add"),
    path("cart/update", views.cart_update, name="cart-update"),
    path("checkout/", views.checkout, name="checkout"),
    path("orders/", views.my_orders, name="mine"),
    path("orders/<order_reference:reference>/", views.order_detail, name="detail"),
    path("orders/<order_reference:reference>/pay", views.order_pay, name="pay"),
]
