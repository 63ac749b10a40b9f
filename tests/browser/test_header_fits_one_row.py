"""The site header in a real browser: one row at 1280 px in every language of every region (German's long
labels, Arabic right to left), and, narrower, whole items wrap to the next row with nothing cut or hidden."""

from __future__ import annotations

import io

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import translation
from django.utils.translation import gettext

from apps.accounts.models import User
from apps.catalog.models import Variant
from apps.orders import services as orders
from tests.live.conftest import session_key_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Everything a shopper can see and use in the header, in document order: the account name, its links and
# buttons, the search field and the selectors (the noscript button never renders).
HEADER_ITEMS = """() => Array.from(document.querySelectorAll(
    '.site-header a, .site-header select, .site-header input[type=search], .site-header button, .account bdi'
)).map((el) => {
    const box = el.getBoundingClientRect();
    return {label: (el.innerText || el.getAttribute('placeholder') || '').trim().split('\\n')[0],
            top: box.top, bottom: box.bottom, left: box.left, right: box.right};
})"""


def _header_items(page) -> list[dict]:
    return page.evaluate(HEADER_ITEMS)


def _staff_with_a_cart(region) -> User:
    """The longest header there is: a signed-in merchant staff member (Console link) with units in the cart."""
    call_command("seed_demo", verbosity=0, stdout=io.StringIO())
    staff = User.objects.get(email="staff@atelier-nova.example")
    variant = Variant.objects.filter(is_active=True).order_by("pk").first()
    orders.cart_line_add(
        cart=orders.cart_for(user=staff), variant_id=variant.pk, quantity=2, country=region.default_country
    )
    return staff


def _in_view_and_apart(page, width: int, where: str) -> None:
    """Every header item whole on screen, none over another, and no sideways scrolling."""
    items = _header_items(page)
    assert len(items) >= 9, where
    for item in items:
        assert item["right"] > item["left"] and item["bottom"] > item["top"], (where, item)
        assert item["left"] >= 0 and item["right"] <= width, (where, item)
    for n, one in enumerate(items):
        for other in items[n + 1 :]:
            apart = (
                one["right"] <= other["left"]
                or other["right"] <= one["left"]
                or one["bottom"] <= other["top"]
                or other["bottom"] <= one["top"]
            )
            assert apart, (where, one, other)
    assert page.evaluate("document.documentElement.scrollWidth") <= width, where


@pytest.mark.parametrize("code", ["eu-west", "me-south", "us-east", "ap-southeast"])
def test_the_header_is_one_row_at_1280_in_every_language(chromium, live_server, use_region, code, artifacts_dir):
    region = use_region(code)
    staff = _staff_with_a_cart(region)
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    for signed_in in (False, True):
        if signed_in:
            context.add_cookies([{"name": "sessionid", "value": session_key_for(staff), "url": live_server.url}])
        for language in region.languages:
            context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}])
            page.goto(live_server.url + "/")
            where = f"{code} {language} {'signed in' if signed_in else 'visitor'}"
            assert page.get_attribute("html", "lang") == language, where
            _in_view_and_apart(page, 1280, where)

            items = _header_items(page)
            first, last = items[0], items[-1]
            with translation.override(language):
                assert (first["label"], last["label"]) == (
                    "LiveMall",
                    gettext("Sign out" if signed_in else "Create account"),
                )
            # One row: the brand and the last account link side by side, and every item crosses one line.
            assert first["top"] < last["bottom"] and last["top"] < first["bottom"], where
            assert max(item["top"] for item in items) < min(item["bottom"] for item in items), where
            if page.get_attribute("html", "dir") == "rtl":
                assert last["right"] < first["left"], where
            else:
                assert first["right"] < last["left"], where
            if language in {"de", "ar"} and signed_in:
                page.screenshot(path=str(artifacts_dir / f"header-{code}-{language}-1280.png"))
    context.close()


@pytest.mark.parametrize(("code", "language"), [("eu-west", "de"), ("me-south", "ar")])
def test_the_header_wraps_whole_items_when_narrower(chromium, live_server, use_region, code, language, artifacts_dir):
    region = use_region(code)
    staff = _staff_with_a_cart(region)
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies(
        [
            {"name": "sessionid", "value": session_key_for(staff), "url": live_server.url},
            {"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url},
        ]
    )
    page = context.new_page()
    page.goto(live_server.url + "/")
    for width in (1100, 1024, 900, 768, 600, 390, 320):
        page.set_viewport_size({"width": width, "height": 800})
        _in_view_and_apart(page, width, f"{code} {language} at {width} px")
    page.screenshot(path=str(artifacts_dir / f"header-{code}-{language}-{width}.png"))
    context.close()
