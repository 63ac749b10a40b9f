"""Whole pages shared through the cache, with holes for what is each visitor's own.

A listing page is the same for every shopper of one (country, language, currency, address)
but for a few small parts of its header: the account menu (name, console link, sign-out
form), the cart link with its count, the messages waiting for this visitor, and the CSRF
token of the preferences form.
The page is rendered once with a marker in each of those places and cached as the pieces
between them; every request, signed in or not, joins the pieces with its own parts, each
rendered from its small partial (``templates/_account_nav.html``, ``templates/_cart_link.html``,
``templates/_messages.html``, the same partials ``base.html`` includes on every other page). Rendering the header, footer
and forms around the listing for every request was half of the listing's time.

The shared render sees an anonymous user and no messages, so if something personal is ever
added to ``base.html`` outside a hole it shows as it would to a stranger, never as the first
visitor's. Markers are derived from ``SECRET_KEY``: a product name or a search query that
contains one cannot open a hole of its own.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages import get_messages
from django.http import HttpRequest, QueryDict
from django.middleware.csrf import get_token
from django.template.loader import get_template, render_to_string
from django.utils.functional import cached_property

# What a cache holds for one page: the pieces of its bytes between holes, and the name of
# each hole (len(pieces) == len(holes) + 1). Plain tuples, so that an entry written by one
# release unpickles in the next; change the caller's key when this layout changes.
SharedPage = tuple[tuple[bytes, ...], tuple[str, ...]]

HOLES = ("csrf_token", "account_nav", "cart_link", "messages")


@functools.lru_cache(maxsize=4)
def _markers(secret: str) -> dict[str, str]:
    # Letters and digits only, so escaping leaves them as they are wherever they land.
    return {
        hole: "LiveMallHole" + hmac.new(secret.encode(), f"page-hole:{hole}".encode(), hashlib.sha256).hexdigest()[:24]
        for hole in HOLES
    }


@functools.lru_cache(maxsize=4)
def _marker_pattern(secret: str) -> re.Pattern[str]:
    return re.compile("(" + "|".join(re.escape(marker) for marker in _markers(secret).values()) + ")")


def render_shared(template_name: str, context: Mapping[str, Any], request: HttpRequest) -> SharedPage:
    """Render ``template_name`` for nobody in particular, with a hole for each visitor's own part.

    The template shows ``{{ holes.account_nav }}`` and ``{{ holes.messages }}`` where those
    partials go; every ``{% csrf_token %}`` outside them becomes a hole by itself.
    """
    markers = _markers(settings.SECRET_KEY)
    html = render_for_nobody(template_name, {**context, "holes": markers}, request)
    by_marker = {marker: hole for hole, marker in markers.items()}
    parts = _marker_pattern(settings.SECRET_KEY).split(html)
    return tuple(part.encode() for part in parts[::2]), tuple(by_marker[marker] for marker in parts[1::2])


def asking_for(request: HttpRequest, query: Mapping[str, str]) -> HttpRequest:
    """``request`` as if its query string had been ``query`` and nothing else, for a shared render.

    A shared page repeats its own address (the search box, the preferences form's way back);
    that must be the address its cache key holds, never the raw query string of whichever
    visitor happened to render it first.
    """
    shown = copy.copy(request)
    query_string = urlencode(list(query.items()))
    shown.META = {**request.META, "QUERY_STRING": query_string}
    shown.GET = QueryDict(query_string)
    return shown


def render_for_nobody(template_name: str, context: Mapping[str, Any], request: HttpRequest) -> str:
    """Render something every visitor of a cache key will get (a whole page or a part of one).

    The request is there for what the key holds (the address, the shopper's language); whoever
    happens to be the one rendering lends it nothing of their own: no user, no messages, no
    CSRF token but the hole's.
    """
    markers = _markers(settings.SECRET_KEY)
    nobody = {
        "user": AnonymousUser(),
        "messages": (),
        "perms": {},
        "csrf_token": markers["csrf_token"],
        "cart_count": None,
    }
    return render_to_string(template_name, {**context, **nobody}, request=request)


def fill(page: SharedPage, request: HttpRequest) -> bytes:
    """The shared page with this request's own parts in its holes."""
    pieces, holes = page
    own = _OwnParts(request)
    out = [pieces[0]]
    for hole, piece in zip(holes, pieces[1:], strict=True):
        out.append(getattr(own, hole))
        out.append(piece)
    return b"".join(out)


class _OwnParts:
    """One visitor's parts of a page, each rendered at most once per request and only if the page has it.

    The partials get exactly what they show (no context processors), which keeps a signed-in
    visitor's page at about the cost of an anonymous one.
    """

    def __init__(self, request: HttpRequest) -> None:
        self.request = request

    @cached_property
    def _token(self) -> str:
        return get_token(self.request)

    @cached_property
    def csrf_token(self) -> bytes:
        return self._token.encode()

    @cached_property
    def account_nav(self) -> bytes:
        context = {"user": self.request.user, "csrf_token": self._token, "request": self.request}
        return get_template("_account_nav.html").render(context).encode()

    @cached_property
    def cart_link(self) -> bytes:
        # The count comes from the orders app's context processor (a floor above this one),
        # so this partial is rendered with the request's context processors; they are cheap
        # and lazy, and the count is read only here.
        return get_template("_cart_link.html").render({}, self.request).encode()

    @cached_property
    def messages(self) -> bytes:
        # Iterating them marks them shown: a message appears once, on this page.
        context = {"messages": get_messages(self.request), "request": self.request}
        return get_template("_messages.html").render(context).encode()
