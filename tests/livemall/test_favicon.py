"""The site icon: every page links it, and /favicon.ico (which browsers ask for anyway) leads to it,
served by WhiteNoise from the collected, hashed static files as in production."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client


@pytest.mark.django_db
def test_every_page_links_the_icon(client):
    html = client.get("/").content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html


@pytest.mark.django_db
def test_favicon_ico_leads_to_the_collected_icon(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "static"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", "--noinput", verbosity=0, stdout=io.StringIO())
    client = Client()  # a new handler: WhiteNoise reads the collected files when its middleware starts

    answer = client.get("/favicon.ico")
    assert answer.status_code == 302  # not permanent: the hashed name changes with the icon
    target = answer["Location"]
    assert target.startswith("/static/favicon.") and target.endswith(".svg") and target != "/static/favicon.svg"
    assert f'<link rel="icon" href="{target}"' in client.get("/").content.decode()

    icon = client.get(target)
    assert icon.status_code == 200
    assert icon["Content-Type"] == "image/svg+xml"
    assert "immutable" in icon["Cache-Control"]
    svg = b"".join(icon.streaming_content).decode()
    assert svg.startswith("<svg") and "#e0245e" in svg  # the brand's accent (static/css/site.css)
