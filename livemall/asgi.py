"""HTTP and WebSocket in one ASGI app; each app adds its socket routes to ``routing``."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livemall.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from apps.orders.door import CheckoutDoor  # noqa: E402
from livemall.lifespan import lifespan  # noqa: E402
from livemall.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Sold-out flash-sale checkouts are answered at the door, before a Django thread.
        "http": CheckoutDoor(django_asgi_app),
        "lifespan": lifespan,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
