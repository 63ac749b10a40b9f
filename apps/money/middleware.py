"""Show prices in a currency that can be priced now, whatever the shopper chose.

A shopper's currency (profile, session, cookie, or their country's default) may have no
usable rate today: none loaded yet, or the newest older than ``FX_STALE_AFTER_DAYS``. Rather
than answer every page and cart with "prices unavailable", the request goes on in the
region's settlement currency, in which every price is set and no rate is needed, and says so.
The stored choice is left as it is, so it comes back by itself once fresh rates are loaded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from apps.money.selectors import currencies_priced_now

# On an answer in another currency than the one chosen (pages and API alike): the chosen one.
# The body's own currency fields say which one was used.
UNAVAILABLE_HEADER = "X-Currency-Unavailable"


@dataclass(frozen=True)
class CurrencyFallback:
    """Why this request shows ``shown`` instead of the shopper's ``chosen`` currency."""

    chosen: str
    shown: str


class PricedCurrency:
    """One request's currency: what the shopper chose, what can be priced, what they are shown.

    Worked out on first use, so a request that shows no price (a probe, a webhook, a redirect)
    reads no rates, and one whose database or cache is down fails only where it prices.
    """

    def __init__(self, chosen: Any) -> None:
        self.chosen = chosen

    @cached_property
    def offered(self) -> tuple[str, ...]:
        """The currencies the menu lists."""
        return currencies_priced_now(self.chosen.region)

    @cached_property
    def fallback(self) -> CurrencyFallback | None:
        """``None``, or why prices are shown in the settlement currency (the notice reads it)."""
        if self.chosen.currency in self.offered:
            return None
        return CurrencyFallback(chosen=self.chosen.currency, shown=self.chosen.region.settlement_currency)

    @cached_property
    def shopper(self) -> Any:
        fallback = self.fallback
        return self.chosen if fallback is None else dataclasses.replace(self.chosen, currency=fallback.shown)

    def choosing(self, chosen: Any) -> PricedCurrency:
        """The same request priced for other choices (the catalog API's ``?currency=``).

        The offered currencies are this request's: read once, the same for every answer it gives.
        Put the result in ``request.priced_currency`` if it is what the answer shows, so the
        header names the currency chosen there.
        """
        other = PricedCurrency(chosen)
        other.offered = self.offered
        return other


class PricedCurrencyMiddleware:
    """Make ``request.shopper`` one whose currency can be priced now (the settlement one if theirs cannot).

    Goes after ``apps.accounts.middleware.ShopperPreferencesMiddleware`` (which resolves the
    shopper) and before anything that prices. Sets ``request.priced_currency`` (a
    :class:`PricedCurrency`: the menu lists its ``offered``, the notice and the header read its
    ``fallback``; a view that prices for other choices puts its own there)
    and ``request.shopper_chosen`` (the shopper as resolved, for whatever stores their choices,
    such as sign-up). Accounts sits below money, so the shopper is replaced without knowing its
    class: it is a frozen dataclass with ``region`` and ``currency``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = getattr(request, "shopper", None)
        request.shopper_chosen = chosen
        if chosen is None:
            return self.get_response(request)
        priced = PricedCurrency(chosen)
        request.priced_currency = priced
        request.shopper = SimpleLazyObject(lambda: priced.shopper)
        response = self.get_response(request)
        # The view's, if it priced for other choices (PricedCurrency.choosing).
        shown = getattr(request, "priced_currency", priced)
        # Only if something asked for the currency: an answer without prices names none.
        fallback = shown.__dict__.get("fallback")
        if fallback is not None:
            response[UNAVAILABLE_HEADER] = fallback.chosen
        return response
