from django.urls import path

from apps.live import views

app_name = "live"

urlpatterns = [
    path("live/<slug:slug>/", views.room_detail, name="room"),
    path("live/<slug:slug>/cart", views.pinned_to_cart, name="pinned-to-cart"),
]
