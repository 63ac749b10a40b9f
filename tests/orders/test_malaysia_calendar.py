"""Malaysia's delivery calendar by state (weekends, federal and state holidays) and the checkout's state list."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from django.utils import timezone

from apps.orders import rules
from apps.orders.models import Order
from regions import REGIONS_DIR, RegionError, load_region, parse_region_file
from tests.orders.conftest import api_checkout

MYT = dt.timezone(dt.timedelta(hours=8))


def _eta(state: str, ordered_on: dt.date, option: str = "express") -> dt.date:
    return rules.delivery_eta(
        region=load_region("ap-southeast"),
        option=rules.shipping_option(option),
        ordered_on=ordered_on,
        country="MY",
        subdivision=state,
        handling_days=1,
    )


# Express: one handling day and one carrier day, both the destination state's working days.
GOLDEN = [
    # Kedah rests Friday-Saturday: Wed 25 Nov 2026, Thu 26, (Fri 27, Sat 28), Sun 29.
    ("02", dt.date(2026, 11, 25), dt.date(2026, 11, 29)),
    # Kuala Lumpur: Thu 28 Jan 2027, Fri 29, (Sat, Sun, Mon 1 Feb Federal Territory Day), Tue 2.
    ("14", dt.date(2027, 1, 28), dt.date(2027, 2, 2)),
    # Selangor is not a federal territory: Fri 29, (Sat, Sun), Mon 1 Feb.
    ("10", dt.date(2027, 1, 28), dt.date(2027, 2, 1)),
    # Deepavali, Sun 8 Nov 2026, and its day in lieu, Mon 9: from Fri 6, Tue 10 and Wed 11 in KL...
    ("14", dt.date(2026, 11, 6), dt.date(2026, 11, 11)),
    # ... and with no state given (the federal list) ...
    ("", dt.date(2026, 11, 6), dt.date(2026, 11, 11)),
    # ... but not in Sarawak: Mon 9, Tue 10 ...
    ("13", dt.date(2026, 11, 6), dt.date(2026, 11, 10)),
    # ... and in Kelantan Sunday is a working day, so Deepavali on it moves nothing: Mon 9, Tue 10.
    ("03", dt.date(2026, 11, 6), dt.date(2026, 11, 10)),
    # Deepavali 2027 is Thursday 28 Oct: from Wed 27, Fri 29, Mon 1 Nov in Penang; Thu 28, Fri 29 in Sarawak.
    ("07", dt.date(2027, 10, 27), dt.date(2027, 11, 1)),
    ("13", dt.date(2027, 10, 27), dt.date(2027, 10, 29)),
    # The Sultan of Selangor's Birthday, Fri 11 Dec 2026: Mon 14, Tue 15 in Selangor; Fri 11, Mon 14 in KL.
    ("10", dt.date(2026, 12, 10), dt.date(2026, 12, 15)),
    ("14", dt.date(2026, 12, 10), dt.date(2026, 12, 14)),
    # Gawai Dayak, Tue 1 and Wed 2 Jun 2027, is Sarawak's: Thu 3, Fri 4; Kuala Lumpur works Tue 1, Wed 2.
    ("13", dt.date(2027, 5, 31), dt.date(2027, 6, 4)),
    ("14", dt.date(2027, 5, 31), dt.date(2027, 6, 2)),
    # Vesak on Sun 31 May 2026 moves to Tue 2 Jun (Mon 1 is the King's Birthday) where Sunday is a
    # rest day; in Kedah Sunday was already the holiday: from Fri 29 May, Tue 2, Wed 3 in Kedah...
    ("02", dt.date(2026, 5, 29), dt.date(2026, 6, 3)),
    # ... and Wed 3, Thu 4 in Kuala Lumpur.
    ("14", dt.date(2026, 5, 29), dt.date(2026, 6, 4)),
    # The whole code and lower case name the same state as the address's part.
    ("MY-14", dt.date(2027, 1, 28), dt.date(2027, 2, 2)),
    ("my-02", dt.date(2026, 11, 25), dt.date(2026, 11, 29)),
]


@pytest.mark.parametrize(("state", "ordered_on", "eta"), GOLDEN)
def test_golden_delivery_dates_by_state(state, ordered_on, eta):
    assert _eta(state, ordered_on) == eta


def test_a_state_holiday_is_a_working_day_elsewhere():
    region = load_region("ap-southeast")
    federal_territory_day = dt.date(2027, 2, 1)
    assert not region.is_working_day(federal_territory_day, country="MY", subdivision="14")
    assert not region.is_working_day(federal_territory_day, country="MY", subdivision="MY-16")
    assert region.is_working_day(federal_territory_day, country="MY", subdivision="10")
    assert region.is_working_day(federal_territory_day, country="MY")
    # A state the region does not list counts as none (the address check refuses it at checkout).
    assert region.is_working_day(federal_territory_day, country="MY", subdivision="99")


def test_deepavali_is_federal_except_in_sarawak():
    region = load_region("ap-southeast")
    deepavali = [h for h in region.holidays if "MY" in h.countries and h.name == "Deepavali"]
    assert [h.date for h in deepavali] == [dt.date(2026, 11, 8), dt.date(2027, 10, 28)]
    assert all(h.except_subdivisions == frozenset({"MY-13"}) for h in deepavali)
    assert not region.is_working_day(dt.date(2027, 10, 28), country="MY")
    assert region.is_working_day(dt.date(2027, 10, 28), country="MY", subdivision="13")
    # Singapore's own Diwali is not touched.
    assert not region.is_working_day(dt.date(2027, 10, 28), country="SG")


def test_every_malaysian_state_is_listed_by_name_and_its_holidays_are_covered():
    region = load_region("ap-southeast")
    my = region.country("MY")
    assert [s.code for s in my.subdivisions] == [f"MY-{n:02d}" for n in range(1, 17)]
    assert {s.code: s.name for s in my.subdivisions}["MY-14"] == "Wilayah Persekutuan Kuala Lumpur"
    assert all(s.name for s in my.subdivisions)
    for sub in my.subdivisions:
        assert all(region.holidays_through >= h.date >= dt.date(2026, 1, 1) for h in sub.holidays), sub.code


@pytest.fixture
def region_dir(tmp_path):
    for path in Path(REGIONS_DIR).glob("*.toml"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'countries = ["MY"], except_subdivisions = ["MY-13"] },',
            'countries = ["MY"], except_subdivisions = ["MY-99"] },',
            "field 'holidays[",
        ),
        (
            'countries = ["MY"], except_subdivisions = ["MY-13"] },',
            'countries = ["MY"], except_subdivisions = ["MY-99"] },',
            "except_subdivisions' has unknown value 'MY-99'; valid values: MY-01, MY-02",
        ),
        (
            '{ date = 2027-02-01, name = "Federal Territory Day" },',
            '{ date = 2027-02-01, name = "Federal Territory Day", countries = ["MY"] },',
            "field 'countries.MY.subdivisions.MY-14.holidays[",
        ),
        (
            '{ date = 2027-02-01, name = "Federal Territory Day" },',
            '{ date = 2027-02-01, name = "Federal Territory Day", countries = ["MY"] },',
            "countries' does not belong to a holiday that only MY-14 keeps",
        ),
        (
            '{ date = 2027-02-01, name = "Federal Territory Day" },',
            '{ date = "1 Feb", name = "Federal Territory Day" },',
            "date' must be a TOML date such as 2026-12-25, got '1 Feb'",
        ),
        (
            '{ date = 2027-12-24, name = "Christmas Eve" }',
            '{ date = 2028-01-03, name = "Christmas Eve" }',
            # A state's own holiday past the end counts as much as the country's.
            "field 'holidays_through' is 2027-12-31, before the last listed holiday (2028-01-03, Christmas Eve)",
        ),
    ],
)
def test_state_holiday_mistakes_name_file_and_field(region_dir, old, new, message):
    path = region_dir / "ap-southeast.toml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(RegionError) as excinfo:
        parse_region_file(path)
    assert str(excinfo.value).startswith("ap-southeast.toml: ")
    assert message in str(excinfo.value)


MY_ADDRESS = {"name": "Siti Aminah", "line1": "12 Jalan Tunku", "city": "Alor Setar", "postal_code": "05000"}


def test_the_address_check_knows_the_states_of_the_region_data():
    region = load_region("ap-southeast")
    address = {**MY_ADDRESS, "country": "MY"}
    # By code, in full or by its name (tests/orders/test_states_by_name.py).
    for state in ("02", "MY-02", "my-02", " 14 ", "Kedah"):
        assert rules.address_errors({**address, "state": state}, region=region) == {}, state
    # The delivery calendar follows the state: a Malaysian address without one is refused.
    for state in ("", "  "):
        assert rules.address_errors({**address, "state": state}, region=region) == {
            "state": ["This field is required."]
        }, state
    for state in ("99", "MY-99", "SG-02", "Kedahh", "KDH"):
        assert set(rules.address_errors({**address, "state": state}, region=region)) == {"state"}, state
    # A country with no states in its region data keeps taking the field as it is.
    sg = {"name": "Tan", "line1": "1 Orchard Rd", "city": "Singapore", "postal_code": "238823", "country": "SG"}
    assert rules.address_errors({**sg, "state": "anything"}, region=region) == {}


# --- the checkout page ----------------------------------------------------------------------


@pytest.fixture
def my_shopper(client, use_region, settings, monkeypatch):
    """A shopper in Malaysia (the edge's country header) reading English and paying in SGD, the
    settlement currency, so no exchange rates are involved; ``at(when)`` pins Django's clock (our code runs for real)."""
    use_region("ap-southeast")
    settings.TRUSTED_COUNTRY_HEADER = "CF-IPCountry"
    client.defaults["HTTP_CF_IPCOUNTRY"] = "MY"
    client.cookies[settings.CURRENCY_COOKIE_NAME] = "SGD"
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # Malaysia's default is Malay

    def at(when: dt.datetime):
        monkeypatch.setattr(timezone, "now", lambda: when.astimezone(dt.UTC))

    client.at = at
    return client


def _cart(client, stocked, slug: str) -> None:
    variant = stocked(slug, 5, price_minor=2500)
    assert client.post("/cart/add", {"variant": variant.pk, "quantity": 1}).status_code == 302


def _form(client, **fields) -> dict:
    page = client.get("/checkout/", {"state": fields.get("state", ""), "shipping_option": "express"})
    assert page.status_code == 200
    return {
        **MY_ADDRESS,
        "email": "siti@example.test",
        "shipping_option": "express",
        "payment": "test/test",
        "idempotency_key": page.context["idempotency_key"],
        "expected_total_minor": page.context["quote"].total_minor,
        **fields,
    }


@pytest.mark.django_db
def test_the_checkout_lists_malaysias_states_from_the_region_data(my_shopper, stocked):
    _cart(my_shopper, stocked, "my-list")
    page = my_shopper.get("/checkout/")
    html = page.content.decode()
    region = load_region("ap-southeast")
    expected = [(s.code.split("-")[1], s.name) for s in region.country("MY").subdivisions]
    assert page.context["subdivisions"] == expected
    assert '<select name="state" required data-testid="state">' in html
    assert '<option value="02">Kedah</option>' in html
    assert '<option value="14">Wilayah Persekutuan Kuala Lumpur</option>' in html
    # Chosen (a re-quote), the state stays selected.
    assert (
        '<option value="13" selected>Sarawak</option>' in my_shopper.get("/checkout/", {"state": "13"}).content.decode()
    )


@pytest.mark.django_db
def test_a_country_without_states_in_its_data_gets_no_state_field(client, use_region, stocked):
    use_region("ap-southeast")  # Singapore, the region's default country
    _cart(client, stocked, "my-sg")
    page = client.get("/checkout/")
    assert page.context["subdivisions"] == []
    assert 'name="state"' not in page.content.decode()


@pytest.mark.django_db
def test_the_form_refuses_a_bogus_state_and_writes_nothing(my_shopper, stocked):
    _cart(my_shopper, stocked, "my-bogus")
    for bogus in ("99", "MY-99", "Kedahh"):
        page = my_shopper.post("/checkout/", _form(my_shopper, state=bogus))
        assert page.status_code == 400, bogus
        assert page.context["errors"] == {"state": ["Choose a valid state or province."]}
        assert 'data-testid="state-error">Choose a valid state or province.<' in page.content.decode()
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_a_kedah_order_skips_friday_and_keeps_its_state(my_shopper, stocked, on_commit):
    my_shopper.at(dt.datetime(2026, 11, 25, 10, 0, tzinfo=MYT))  # Wednesday morning in Alor Setar
    _cart(my_shopper, stocked, "my-kedah")
    # The re-quote as the state is chosen: Thu 26, (Fri 27, Sat 28), Sun 29.
    assert my_shopper.get("/checkout/", {"state": "02", "shipping_option": "express"}).context["quote"].eta == (
        dt.date(2026, 11, 29)
    )
    response = on_commit(my_shopper.post, "/checkout/", _form(my_shopper, state="02"))
    assert response.status_code == 302, response.context and response.context["errors"]
    order = Order.objects.get()
    assert order.address["state"] == "02" and order.address["country"] == "MY"
    assert order.eta == dt.date(2026, 11, 29)


@pytest.mark.django_db
def test_a_kuala_lumpur_order_skips_federal_territory_day(my_shopper, stocked, on_commit):
    my_shopper.at(dt.datetime(2027, 1, 28, 10, 0, tzinfo=MYT))  # Thursday
    _cart(my_shopper, stocked, "my-kl")
    response = on_commit(my_shopper.post, "/checkout/", _form(my_shopper, state="14", city="Kuala Lumpur"))
    assert response.status_code == 302, response.context and response.context["errors"]
    order = Order.objects.get()
    assert order.address["state"] == "14"
    # Fri 29, (Sat 30, Sun 31, Mon 1 Feb Federal Territory Day), Tue 2.
    assert order.eta == dt.date(2027, 2, 2)


@pytest.mark.django_db
def test_the_api_refuses_the_same_bogus_state(my_shopper, stocked):
    address = {**MY_ADDRESS, "country": "MY", "state": "MY-99"}
    r = api_checkout(
        my_shopper,
        stocked,
        "my-api",
        address,
        key="my-api-000001",
        email="siti@example.test",
        shipping_option="express",
    )
    assert r.status_code == 400, r.json()
    assert r.json()["error"]["code"] == "invalid_address"
    assert r.json()["error"]["fields"] == {"state": ["Choose a valid state or province."]}
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_a_state_sent_in_full_is_stored_as_the_form_stores_it(my_shopper, stocked):
    """Kedah through the API as "MY-02" and through the form as "02" is one state, spelled one way."""
    address = {**MY_ADDRESS, "country": "MY", "state": "my-02"}
    r = api_checkout(
        my_shopper,
        stocked,
        "my-api-full",
        address,
        key="my-api-full-01",
        email="siti@example.test",
        shipping_option="express",
    )
    assert r.status_code == 201, r.json()
    assert Order.objects.get().address["state"] == "02"
