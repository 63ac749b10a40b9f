"""Only what the region's file lists is offered; keys decide which real providers are usable."""

from __future__ import annotations

import pytest

from apps.errors import ApplicationError
from apps.payments import registry
from apps.payments.selectors import payment_methods_offered
from regions import available_region_codes

REGION_CODES = available_region_codes()


def _listed(region) -> set[tuple[str, str]]:
    return {(p.provider, m) for p in region.payment_methods for m in p.methods}


def test_all_four_regions_are_covered():
    assert set(REGION_CODES) == {"us-east", "eu-west", "ap-southeast", "me-south"}


@pytest.mark.parametrize("code", REGION_CODES)
def test_with_keys_exactly_the_region_file_is_offered(code, use_region, settings):
    region = use_region(code)
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    settings.PAYPAL_CLIENT_ID = "id"
    settings.PAYPAL_CLIENT_SECRET = "secret"

    offered = payment_methods_offered()

    assert {(o.provider, o.method) for o in offered} == _listed(region)
    assert not any(o.is_test for o in offered)
    # In the region file's order.
    assert next(o.provider for o in offered) == region.payment_methods[0].provider


@pytest.mark.parametrize("code", REGION_CODES)
def test_without_keys_the_labelled_test_provider_stands_in(code, use_region):
    region = use_region(code)

    offered = payment_methods_offered()

    keyless = {
        (p.provider, m) for p in region.payment_methods if p.provider not in registry.NEEDS_KEYS for m in p.methods
    }
    assert {(o.provider, o.method) for o in offered} == keyless | {("test", "test")}
    assert next(o for o in offered if o.provider == "test").is_test


@pytest.mark.parametrize("code", REGION_CODES)
def test_offered_providers_accept_the_currency(code, use_region, settings):
    region = use_region(code)
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    settings.PAYPAL_CLIENT_ID = "id"
    settings.PAYPAL_CLIENT_SECRET = "secret"
    for currency in region.currencies:
        providers = {o.provider for o in payment_methods_offered(currency=currency)}
        assert "stripe" in providers
        assert ("paypal" in providers) == (
            currency in {"USD", "CAD", "MXN", "BRL", "EUR", "GBP", "CHF", "SGD", "THB", "MYR"}
        )


def test_cash_on_delivery_only_where_listed(use_region):
    use_region("me-south")
    assert "cash_on_delivery" in {o.provider for o in payment_methods_offered()}
    for code in ("us-east", "eu-west", "ap-southeast"):
        use_region(code)
        assert "cash_on_delivery" not in {o.provider for o in payment_methods_offered()}
        with pytest.raises(ApplicationError) as err:
            registry.offered_provider("cash_on_delivery", method="cash_on_delivery", currency="USD")
        assert err.value.code == "payment_method_not_offered"


def test_test_provider_hidden_once_a_keyed_provider_has_keys(settings):
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    assert "test" not in {o.provider for o in payment_methods_offered()}


def test_test_provider_can_be_switched_off(settings):
    settings.PAYMENT_TEST_PROVIDER = False
    assert "test" not in {o.provider for o in payment_methods_offered()}


def test_a_method_the_region_does_not_list_is_refused(use_region, settings):
    use_region("us-east")
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    with pytest.raises(ApplicationError) as err:
        registry.offered_provider("stripe", method="ideal", currency="USD")
    assert err.value.code == "payment_method_not_offered"
    assert registry.offered_provider("stripe", method="card", currency="USD").name == "stripe"
