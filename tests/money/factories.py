"""Rates files in the ECB's format and providers built from them, for the money tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from apps.money.providers.ecb import EcbFileProvider
from apps.money.providers.pegged import PeggedProvider, load_pegs
from apps.money.selectors import utc_today

SHIPPED_DATA = Path(__file__).resolve().parents[2] / "apps" / "money" / "data"
SHIPPED_DATE = dt.date(2026, 11, 20)

# The figures of the shipped apps/money/data/eurofxref-daily.xml that the tests rely on.
RATES = {"USD": "1.1587", "JPY": "181.52", "GBP": "0.88105", "THB": "37.582", "IDR": "19384.50", "SGD": "1.5092"}


def ecb_xml(days: dict[dt.date, dict[str, str]]) -> bytes:
    cubes = "".join(
        f"\t\t<Cube time='{day.isoformat()}'>\n"
        + "".join(f"\t\t\t<Cube currency='{code}' rate='{rate}'/>\n" for code, rate in rates.items())
        + "\t\t</Cube>\n"
        for day, rates in days.items()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" '
        'xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">\n'
        "\t<gesmes:subject>Reference rates</gesmes:subject>\n"
        "\t<gesmes:Sender>\n\t\t<gesmes:name>European Central Bank</gesmes:name>\n\t</gesmes:Sender>\n"
        f"\t<Cube>\n{cubes}\t</Cube>\n</gesmes:Envelope>\n"
    ).encode()


def write_ecb_file(path: Path, days: dict[dt.date, dict[str, str]]) -> Path:
    path.write_bytes(ecb_xml(days))
    return path


def shipped_provider() -> PeggedProvider:
    """What FX_PROVIDERS=ecb_file,pegged builds from the shipped data."""
    return PeggedProvider(
        anchor=EcbFileProvider(SHIPPED_DATA / "eurofxref-daily.xml"), pegs=load_pegs(SHIPPED_DATA / "pegs.toml")
    )


def file_provider(path: Path) -> PeggedProvider:
    return PeggedProvider(anchor=EcbFileProvider(path), pegs=load_pegs(SHIPPED_DATA / "pegs.toml"))


def todays_provider(path: Path) -> PeggedProvider:
    """The shipped rates dated today (UTC), written to ``path``: fresh on whatever day the suite
    runs, for tests that check out in a converted currency (checkout refuses stale rates)."""
    shipped = (SHIPPED_DATA / "eurofxref-daily.xml").read_text()
    dated = shipped.replace(f"time='{SHIPPED_DATE.isoformat()}'", f"time='{utc_today().isoformat()}'")
    assert dated != shipped, "the shipped rates file's date moved: update SHIPPED_DATE"
    path.write_text(dated)
    return file_provider(path)
