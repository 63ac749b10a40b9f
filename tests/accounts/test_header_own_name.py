"""The page header tells a signed-in shopper which account they are in: their display name, else their
e-mail's name part whole; the masked ``public_name`` is for what others see (chat), not for them."""

from __future__ import annotations

import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def _header_name(client: Client) -> str | None:
    found = re.search(r'<span data-testid="account-name">([^<]*)</span>', client.get("/products/").content.decode())
    return found.group(1) if found else None


def test_without_a_display_name_the_header_shows_the_e_mails_whole_name_part(make_user):
    user = make_user(email="layla.hassan@example.ae", display_name="")
    client = Client()
    client.force_login(user)
    assert _header_name(client) == "layla.hassan"
    # Others still see the masked name, never the address.
    assert user.public_name == "lay…"


def test_a_display_name_is_shown_as_it_is(make_user):
    client = Client()
    client.force_login(make_user(email="ann@example.test", display_name="Ann Shopper"))
    assert _header_name(client) == "Ann Shopper"
