"""The cart count in every page's header."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import cached_property

from apps.orders import selectors
from apps.orders.receivers import SESSION_CART_KEY


class CartCount:
    """Units in the visitor's cart, read only if the page shows them (and then once).

    A page rendered for every visitor alike (a cached listing) must not show it: see
    ``templates/base.html``.
    """

    def __init__(self, request: HttpRequest) -> None:
        self.request = request

    @cached_property
    def units(self) -> int:
        user = getattr(self.request, "user", None)
        session = getattr(self.request, "session", None)
        cart_id = session.get(SESSION_CART_KEY) if session is not None else None
        return selectors.cart_units(user=user, cart_id=cart_id)


def cart(request: HttpRequest) -> dict[str, Any]:
    return {"cart_count": CartCount(request)}
