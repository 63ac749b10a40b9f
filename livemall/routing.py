from django.urls import path, re_path

from apps.live.consumers import LiveRoomConsumer
from livemall.consumers import NotFoundConsumer, PingConsumer

websocket_urlpatterns = [
    path("ws/ping/", PingConsumer.as_asgi()),
    path("ws/live/<slug:slug>/", LiveRoomConsumer.as_asgi()),
    re_path(r"", NotFoundConsumer.as_asgi()),  # last: every other address
]
