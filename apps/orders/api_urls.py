from django.urls import path

from apps.orders import api

app_name = "orders-api"

urlpatterns = [
    path("cart", api.CartApi.as_view(), name="cart"),
    path("cart/lines", api.CartLinesApi.as_view(), name="cart-lines"),
    path("cart/lines/<int:variant_id>", api.CartLineApi.as_view(), name="cart-line"),
    path("checkout/options", api.CheckoutOptionsApi.as_view(), name="checkout-options"),
    path("checkout", api.CheckoutApi.as_view(), name="checkout"),
    path("orders", api.OrderListApi.as_view(), name="orders"),
    path("orders/<order_reference:reference>", api.OrderDetailApi.as_view(), name="order"),
    path("orders/<order_reference:reference>/pay", api.OrderPayApi.as_view(), name="order-pay"),
    path("orders/<order_reference:reference>/steps/<slug:step>", api.OrderStepApi.as_view(), name="order-step"),
    path(
        "orders/<order_reference:reference>/refund-returned-outside",
        api.OrderRefundReturnedOutsideApi.as_view(),
        name="order-refund-returned-outside",
    ),
]
