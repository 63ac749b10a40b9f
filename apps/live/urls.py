from django.urls import path

from apps.live import views

app_name = "live"

urlpatterns = [
    path("live/<slug:slug>/", views.room_detail, name="room"),
    path("live/<slug:slug>/cart", views.pinned_to_cart, name="pinned-to-cart"),
    path("live/<slug:slug>/replay/", views.room_replay, name="replay"),
    path("live/<slug:slug>/replay/chat.json", views.replay_chat, name="replay-chat"),
    path("live/<slug:slug>/replay/recording/<path:name>", views.recording_file, name="recording-file"),
    path("live/<slug:slug>/giveaways/<int:giveaway_id>/audit.json", views.giveaway_audit, name="giveaway-audit"),
]
