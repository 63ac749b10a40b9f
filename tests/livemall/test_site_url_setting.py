"""SITE_URL, the address links in e-mails are built on: by default production's first host name
over https; anything that is not a site's address stops start-up with a message."""

from __future__ import annotations

import os

import pytest

from tests.livemall.test_settings import _manage, _production_env

SHOW = "from django.conf import settings; print(settings.SITE_URL)"


def test_production_links_its_first_host_name_by_default():
    result = _manage(_production_env(ALLOWED_HOSTS="eu-west.livemall.example,127.0.0.1"), "shell", "-c", SHOW)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "https://eu-west.livemall.example"


def test_a_given_address_is_kept_without_its_trailing_slash():
    result = _manage({**os.environ, "SITE_URL": "https://shop.example/"}, "shell", "-c", SHOW)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "https://shop.example"


@pytest.mark.parametrize("address", ["shop.example", "ftp://shop.example", "https://shop.example/?a=1", "https://"])
def test_an_address_that_is_not_a_site_is_refused(address):
    result = _manage({**os.environ, "SITE_URL": address}, "check")
    assert result.returncode != 0
    assert f"SITE_URL={address!r}; expected the site's address, like https://shop.example" in result.stderr
