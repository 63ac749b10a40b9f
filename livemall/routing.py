from django.urls import path

from apps.live.consumers import LiveRoomConsumer
from livemall.consumers import PingConsumer

websocket_urlpatterns = [
    path("ws/ping/", PingConsumer.as_asgi()),
    path("ws/live/<slug:slug>/", LiveRoomConsumer.as_asgi()),
]
