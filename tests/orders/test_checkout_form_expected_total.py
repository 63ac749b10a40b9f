"""The checkout form (the page without JavaScript, or when the API could not be reached) places an
order only at the total the page showed: a total that changed since, or no total at all, is
refused with the totals as they are now, nothing written; the next submit, after reviewing, places it."""

from __future__ import annotations

import re

import pytest

from apps.catalog import services as catalog
from apps.orders.models import Order

pytestmark = pytest.mark.django_db

ADDRESS = {"name": "Ann", "line1": "1 Main St", "city": "Albany", "state": "NY", "postal_code": "12207"}


def _hidden(page, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page.content.decode())
    assert found, f"no {name} field on the page"
    return found.group(1)


def _form(page) -> dict[str, str]:
    return {
        **ADDRESS,
        "email": "ann@example.test",
        "shipping_option": "standard",
        "payment": "test/test",
        "idempotency_key": _hidden(page, "idempotency_key"),
        "expected_total_minor": _hidden(page, "expected_total_minor"),
    }


def _checkout_page(client, variant):
    assert client.post("/cart/add", {"variant": variant.pk, "quantity": 1}).status_code == 302
    page = client.get("/checkout/", {"state": "NY"})
    assert page.status_code == 200
    return page


def test_a_price_changed_after_the_page_loaded_is_shown_before_the_order_is_placed(client, stocked, on_commit):
    variant = stocked("form-price-mug", 5, price_minor=2500)
    page = _checkout_page(client, variant)
    shown = page.context["quote"].total_minor
    catalog.variant_price_set(variant=variant, price_minor=2900)

    review = on_commit(client.post, "/checkout/", _form(page))

    assert review.status_code == 409 and Order.objects.count() == 0
    assert [str(m) for m in review.context["messages"]] == ["The total has changed; please review your order."]
    new_total = review.context["quote"].total_minor
    assert new_total > shown and _hidden(review, "expected_total_minor") == str(new_total)
    placed = on_commit(client.post, "/checkout/", _form(review))
    assert placed.status_code == 302
    assert Order.objects.get().total_minor == new_total


@pytest.mark.parametrize("sent", [None, "", "not-a-number"])
def test_a_form_without_the_total_it_showed_places_nothing(client, stocked, on_commit, sent):
    variant = stocked("form-no-total", 5, price_minor=2500)
    page = _checkout_page(client, variant)
    form = _form(page)
    if sent is None:
        del form["expected_total_minor"]
    else:
        form["expected_total_minor"] = sent

    refused = on_commit(client.post, "/checkout/", form)

    assert refused.status_code == 409 and Order.objects.count() == 0
    assert [str(m) for m in refused.context["messages"]] == ["Check the total and place your order again."]
    assert _hidden(refused, "expected_total_minor") == str(page.context["quote"].total_minor)
    placed = on_commit(client.post, "/checkout/", _form(refused))
    assert placed.status_code == 302 and Order.objects.count() == 1


def test_a_form_with_fields_to_correct_and_no_total_is_told_the_fields_first(client, stocked):
    variant = stocked("form-fields-first", 5)
    page = _checkout_page(client, variant)
    form = {**_form(page), "postal_code": "nope"}
    del form["expected_total_minor"]

    refused = client.post("/checkout/", form)

    assert refused.status_code == 400 and "postal_code" in refused.context["errors"]
    assert [str(m) for m in refused.context["messages"]] == ["Check the delivery details."]
