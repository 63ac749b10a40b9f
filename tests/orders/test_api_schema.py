"""The OpenAPI schema documents the buying API's errors, all with the one error body the API answers."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

ERROR = "#/components/schemas/ErrorResponse"


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def _answers(schema, path: str, method: str) -> dict[str, str]:
    """Each documented status of the operation, with the component its JSON body refers to ("" for none)."""
    responses = schema["paths"][path][method]["responses"]
    return {
        status: answer.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "")
        for status, answer in responses.items()
    }


@pytest.mark.parametrize(
    ("path", "method", "statuses"),
    [
        ("/api/v1/checkout", "post", ("400", "409", "503")),
        ("/api/v1/cart/lines", "post", ("400", "503")),
        ("/api/v1/cart/lines/{variant_id}", "put", ("400", "503")),
        ("/api/v1/cart", "get", ("503",)),
        ("/api/v1/orders/{reference}", "get", ("404",)),
        ("/api/v1/orders/{reference}/pay", "post", ("400", "404", "409", "503")),
        ("/api/v1/orders/{reference}/steps/{step}", "post", ("400", "403", "404", "409", "503")),
    ],
)
def test_buying_errors_are_documented_with_the_shared_error_body(schema, path, method, statuses):
    answers = _answers(schema, path, method)
    assert {status: answers.get(status) for status in statuses} == dict.fromkeys(statuses, ERROR)
    for status in statuses:
        assert schema["paths"][path][method]["responses"][status]["description"]


def test_the_conflicts_and_outages_of_checkout_and_pay_name_their_codes(schema):
    checkout = schema["paths"]["/api/v1/checkout"]["post"]["responses"]
    for code in ("sold_out", "cart_changed", "total_changed", "checkout_attempt_ended"):
        assert code in checkout["409"]["description"]
    pay = schema["paths"]["/api/v1/orders/{reference}/pay"]["post"]["responses"]
    assert "already_paid" in pay["409"]["description"]
    assert "provider_unavailable" in pay["503"]["description"]


def test_removing_a_cart_line_is_documented_as_the_cart_it_answers(schema, client, stocked):
    assert _answers(schema, "/api/v1/cart/lines/{variant_id}", "delete") == {
        "200": "#/components/schemas/CartOut",
        "503": ERROR,
    }
    variant = stocked("schema-mug", 5)
    client.post("/api/v1/cart/lines", {"variant": variant.pk, "quantity": 1}, content_type="application/json")
    removed = client.delete(f"/api/v1/cart/lines/{variant.pk}")
    assert removed.status_code == 200 and removed.json()["lines"] == []


def test_the_catalog_documents_its_errors_with_the_same_component(schema):
    assert not [name for name in schema["components"]["schemas"] if name.startswith("MerchantApiError")]
    assert _answers(schema, "/api/v1/merchant/products/{id}/", "get")["404"] == ERROR


def test_the_documented_error_body_is_the_one_the_api_answers(schema, client):
    refused = client.post(
        "/api/v1/cart/lines", {"variant": 1, "quantity": 1, "price_minor": 1}, content_type="application/json"
    )
    assert refused.status_code == 400
    body = refused.json()
    components = schema["components"]["schemas"]
    assert set(body) == set(components["ErrorResponse"]["properties"]) == set(components["ErrorResponse"]["required"])
    error_body = components["ErrorBody"]
    assert set(body["error"]) == set(error_body["properties"]) == set(error_body["required"])
    assert body["error"]["code"] == "unexpected_fields" and body["error"]["fields"] == {
        "price_minor": ["Not accepted: prices and totals are computed by the server."]
    }
