"""A missing page or a failing server answers in the shopper's language, or in the API's error shape."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client


@pytest.mark.django_db
def test_a_missing_page_is_in_arabic_right_to_left_inside_the_site(client, use_region):
    use_region("me-south")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ar"
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert '<html lang="ar" dir="rtl">' in html
    assert "الصفحة غير موجودة" in html and "العودة إلى المتجر" in html
    assert 'data-testid="region">الشرق الأوسط' in html  # the site's own header around it


@pytest.mark.django_db
def test_a_missing_api_path_answers_in_the_api_error_shape(client):
    response = client.get("/api/v1/no-such-thing/", HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": {"code": "not_found", "message": "No hay nada en esta dirección.", "fields": {}}
    }


@pytest.mark.django_db
def test_a_server_error_is_a_plain_page_in_the_shoppers_language(settings, use_region):
    settings.ROOT_URLCONF = "tests.livemall.failing_urls"
    use_region("eu-west")
    browser = Client(raise_request_exception=False)
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    page = browser.get("/broken/")
    assert page.status_code == 500
    html = page.content.decode()
    assert '<html lang="fr" dir="ltr">' in html and "Un problème est survenu de notre côté" in html
    assert "RuntimeError" not in html and "a bug" not in html  # nothing of the failure leaks

    api = browser.get("/api/v1/broken/")
    assert api.status_code == 500
    assert api.json()["error"]["code"] == "server_error"
    assert "a bug" not in api.content.decode()
