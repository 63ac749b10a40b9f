"""The region file's per-country tax model (`[tax.countries.XX]`) and its states' names in other
languages (`local_names`): read into the typed Region, and a typo stops start-up with a message
naming the file and the field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from regions import REGIONS_DIR, RegionError, TaxModel, load_region, parse_region_file

MX_OVERRIDE = '[tax.countries.MX]\nmodel = "vat-inclusive"\nprices_include_tax = true\n'


@pytest.fixture
def region_dir(tmp_path):
    for path in Path(REGIONS_DIR).glob("*.toml"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def _edit(region_dir: Path, code: str, old: str, new: str) -> Path:
    path = region_dir / f"{code}.toml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    return path


def test_mexico_is_priced_with_tax_included_and_the_rest_of_the_americas_as_the_region():
    tax = load_region("us-east").tax
    assert tax.for_country("MX") == TaxModel(model="vat-inclusive", prices_include_tax=True)
    assert tax.for_country("mx") == tax.for_country("MX")
    for country in ("US", "CA", "BR", "ZZ", ""):
        assert tax.for_country(country) is tax
    assert (tax.model, tax.prices_include_tax) == ("sales-tax", False)


def test_regions_without_overrides_have_one_model():
    for code in ("eu-west", "me-south", "ap-southeast"):
        tax = load_region(code).tax
        assert tax.countries == ()
        assert tax.for_country("DE") is tax


@pytest.mark.parametrize(
    ("new", "message"),
    [
        (
            MX_OVERRIDE.replace("MX", "DE"),
            "us-east.toml: field 'tax.countries.DE' is not a country the region serves; valid values: US, CA, MX, BR",
        ),
        (
            MX_OVERRIDE.replace('"vat-inclusive"', '"iva"'),
            "us-east.toml: field 'tax.countries.MX.model' has unknown value 'iva'; "
            "valid values: vat-inclusive, sales-tax, gst",
        ),
        (
            MX_OVERRIDE.replace("prices_include_tax = true\n", ""),
            "us-east.toml: field 'tax.countries.MX.prices_include_tax' is missing",
        ),
        (
            MX_OVERRIDE.replace("true", '"yes"'),
            "us-east.toml: field 'tax.countries.MX.prices_include_tax' must be true or false, got 'yes'",
        ),
    ],
)
def test_a_bad_tax_override_names_the_file_and_the_field(region_dir, new, message):
    path = _edit(region_dir, "us-east", MX_OVERRIDE, new)
    with pytest.raises(RegionError) as raised:
        parse_region_file(path)
    assert str(raised.value) == message


def test_a_states_names_are_read_per_language():
    th = load_region("ap-southeast").country("TH")
    bangkok = th.subdivision("10")
    assert bangkok is not None and bangkok.code == "TH-10"
    assert (bangkok.name, bangkok.name_in("th"), bangkok.name_in("th-TH"), bangkok.name_in("en")) == (
        "Bangkok",
        "กรุงเทพมหานคร",
        "กรุงเทพมหานคร",
        "Bangkok",
    )


def test_a_states_name_in_a_language_the_region_does_not_offer_is_refused(region_dir):
    path = _edit(
        region_dir, "ap-southeast", 'local_names = { th = "กรุงเทพมหานคร" }', 'local_names = { fr = "Bangkok" }'
    )
    with pytest.raises(RegionError) as raised:
        parse_region_file(path)
    assert str(raised.value).startswith(
        "ap-southeast.toml: field 'countries.TH.subdivisions.TH-10.local_names' names language 'fr', "
        "which the region does not offer"
    )
