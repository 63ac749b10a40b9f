"""The checkout pass (apps.orders.checkout_pass): what lets the door take flash-sale units for a cart."""

from __future__ import annotations

import re

import pytest

from apps.orders import checkout_pass


def test_a_pass_admits_its_session_and_lines_only():
    token = checkout_pass.issue("session-a", {7: 1, 3: 2})
    assert checkout_pass.admits(token, "session-a", {3: 2, 7: 1})
    assert not checkout_pass.admits(token, "session-b", {3: 2, 7: 1})
    assert not checkout_pass.admits(token, "session-a", {3: 2})
    assert not checkout_pass.admits(token, "session-a", {3: 2, 7: 2})
    # The session key is a credential: it is signed, never sent in the pass.
    assert "session-a" not in token


@pytest.mark.parametrize(
    "token",
    [
        "",
        "3:2,7:1",
        "3:2,7:1:1abc:forged",
        "9999999999:é",
        "9999999999:" + "0" * 64,
        "²:x",  # a digit to isdigit(), not to int()
        "9999999999:\ud800",  # a lone surrogate, which a JSON string may hold
        None,
        7,
        ["3:2"],
    ],
)
def test_anything_but_a_pass_the_site_signed_admits_nothing(token):
    assert not checkout_pass.admits(token, "session-a", {3: 2, 7: 1})


def test_a_pass_is_worth_nothing_once_its_hour_is_over(monkeypatch):
    monkeypatch.setattr(checkout_pass, "PASS_SECONDS", -1)
    token = checkout_pass.issue("session-a", {3: 1})
    assert not checkout_pass.admits(token, "session-a", {3: 1})
    # Nor does moving its time on help: the time is signed.
    expires, _, signature = token.partition(":")
    assert not checkout_pass.admits(f"{int(expires) + 7200}:{signature}", "session-a", {3: 1})


def test_a_pass_signed_with_another_secret_admits_nothing(settings):
    token = checkout_pass.issue("session-a", {3: 1})
    settings.SECRET_KEY = "another-site-" * 4
    assert not checkout_pass.admits(token, "session-a", {3: 1})


def test_no_pass_for_an_empty_cart_or_no_session():
    assert checkout_pass.issue("session-a", {}) == ""
    assert checkout_pass.issue("", {3: 1}) == ""


@pytest.mark.django_db
def test_the_cart_api_gives_a_pass_for_the_lines_a_checkout_names(client, stocked):
    shirt, cap = stocked("pass-shirt", 5), stocked("pass-cap", 5)
    assert client.get("/api/v1/cart").json()["checkout_pass"] == ""
    client.post("/api/v1/cart/lines", {"variant": shirt.pk, "quantity": 2}, content_type="application/json")
    answer = client.post("/api/v1/cart/lines", {"variant": cap.pk, "quantity": 1}, content_type="application/json")
    assert answer.status_code == 201
    session_key = client.cookies["sessionid"].value
    token = answer.json()["checkout_pass"]
    assert checkout_pass.admits(token, session_key, {shirt.pk: 2, cap.pk: 1})
    assert checkout_pass.admits(
        client.get("/api/v1/cart").json()["checkout_pass"], session_key, {shirt.pk: 2, cap.pk: 1}
    )
    # The cart changed: the old pass no longer names its lines; the new answer's does.
    answer = client.delete(f"/api/v1/cart/lines/{cap.pk}")
    assert not checkout_pass.admits(token, session_key, {shirt.pk: 2})
    assert checkout_pass.admits(answer.json()["checkout_pass"], session_key, {shirt.pk: 2})


@pytest.mark.django_db
def test_the_checkout_page_carries_a_pass_for_the_lines_it_shows(client, stocked):
    shirt = stocked("pass-page", 5)
    client.post("/api/v1/cart/lines", {"variant": shirt.pk, "quantity": 3}, content_type="application/json")
    page = client.get("/checkout/")
    assert page.status_code == 200
    token = re.search(r'name="checkout_pass" value="([^"]+)"', page.content.decode()).group(1)
    assert checkout_pass.admits(token, client.cookies["sessionid"].value, {shirt.pk: 3})
