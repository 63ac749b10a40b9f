"""Rate providers: the ECB file format, the pegs, the HTTP fetch (against a local server), settings."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.money.providers import ProviderError, Rate, check_provider_names, primary_source, provider_from_settings
from apps.money.providers.ecb import EcbFileProvider, EcbHttpProvider, parse_ecb_xml
from apps.money.providers.pegged import PeggedProvider, load_pegs
from tests.money.factories import RATES, SHIPPED_DATA, SHIPPED_DATE, ecb_xml, write_ecb_file


def test_the_shipped_file_reads_as_ecb_rates_for_one_day():
    rates = EcbFileProvider(SHIPPED_DATA / "eurofxref-daily.xml").fetch()
    by_quote = {r.quote: r for r in rates}
    assert {r.base for r in rates} == {"EUR"}
    assert {r.rate_date for r in rates} == {SHIPPED_DATE}
    assert {r.source for r in rates} == {"ecb"}
    for code in ("USD", "GBP", "CHF", "CAD", "MXN", "BRL", "SGD", "THB", "IDR", "MYR", "PHP", "JPY"):
        assert code in by_quote
    for code, rate in RATES.items():
        assert by_quote[code].rate == Decimal(rate)
    # The ECB does not publish the Gulf currencies.
    assert not {"AED", "SAR"} & set(by_quote)


def test_history_files_give_one_set_per_day():
    data = ecb_xml({dt.date(2026, 11, 19): {"USD": "1.16"}, dt.date(2026, 11, 20): {"USD": "1.1587", "THB": "37.5"}})
    rates = parse_ecb_xml(data)
    assert [(r.rate_date.day, r.quote, r.rate) for r in rates] == [
        (19, "USD", Decimal("1.16")),
        (20, "USD", Decimal("1.1587")),
        (20, "THB", Decimal("37.5")),
    ]


@pytest.mark.parametrize(
    ("data", "hint"),
    [
        (b"<not xml", "well-formed"),
        (b"<Envelope/>", "Cube"),
        (ecb_xml({dt.date(2026, 11, 20): {"USD": "abc"}}), "not a number"),
        (ecb_xml({dt.date(2026, 11, 20): {"USD": "-1.1"}}), "positive"),
        (ecb_xml({dt.date(2026, 11, 20): {"USD": "0"}}), "positive"),
        (ecb_xml({dt.date(2026, 11, 20): {"XYZ": "1.1"}}), "ISO 4217"),
        (ecb_xml({dt.date(2026, 11, 20): {"USD": "1.12345678901"}}), "decimals"),
        (ecb_xml({dt.date(2026, 11, 20): {}}), "no rates"),
        (ecb_xml({dt.date(2026, 11, 20): {"USD": "1.1"}}).replace(b"2026-11-20", b"20/11/2026"), "bad date"),
        (
            b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
            "DTD",
        ),
    ],
)
def test_malformed_files_are_refused_with_a_reason(data, hint):
    with pytest.raises(ProviderError) as exc:
        parse_ecb_xml(data, origin="test.xml")
    assert hint in exc.value.message
    assert "test.xml" in exc.value.message


def test_a_missing_file_is_a_provider_error(tmp_path):
    with pytest.raises(ProviderError) as exc:
        EcbFileProvider(tmp_path / "nope.xml").fetch()
    assert exc.value.code == "rates_unavailable"


def test_pegs_are_exact_decimals():
    pegs = load_pegs(SHIPPED_DATA / "pegs.toml")
    assert pegs.anchor == "USD"
    assert pegs.per_anchor == {
        "AED": Decimal("3.6725"),
        "SAR": Decimal("3.75"),
        "QAR": Decimal("3.64"),
        "BHD": Decimal("0.376"),
        "OMR": Decimal("0.3845"),
    }


@pytest.mark.parametrize(
    "content",
    [
        'anchor = "USD"\n',
        'anchor = "XYZ"\n[per_anchor]\nAED = 3.6725\n',
        'anchor = "USD"\n[per_anchor]\nAED = -3.6725\n',
        'anchor = "USD"\n[per_anchor]\nAED = "lots"\n',
        'anchor = "USD"\n[per_anchor]\nZZZ = 1.5\n',
        "anchor = \n",
    ],
)
def test_bad_pegs_files_are_refused(tmp_path, content):
    path = tmp_path / "pegs.toml"
    path.write_text(content)
    with pytest.raises(ProviderError) as exc:
        load_pegs(path)
    assert str(path) in exc.value.message


def test_pegged_provider_adds_usd_pegs_for_each_day_with_a_usd_rate(tmp_path):
    path = write_ecb_file(
        tmp_path / "rates.xml",
        {dt.date(2026, 11, 19): {"THB": "37.5"}, dt.date(2026, 11, 20): {"USD": "1.1587", "THB": "37.582"}},
    )
    provider = PeggedProvider(anchor=EcbFileProvider(path), pegs=load_pegs(SHIPPED_DATA / "pegs.toml"))
    rates = provider.fetch()
    pegged = [r for r in rates if r.source == "peg"]
    assert provider.source == "ecb"
    assert {(r.base, r.quote, r.rate, r.rate_date) for r in pegged} == {
        ("USD", code, rate, dt.date(2026, 11, 20))
        for code, rate in load_pegs(SHIPPED_DATA / "pegs.toml").per_anchor.items()
    }
    assert len(rates) == 3 + 5


def test_a_currency_the_market_source_publishes_is_not_pegged_twice(tmp_path):
    path = write_ecb_file(tmp_path / "rates.xml", {dt.date(2026, 11, 20): {"USD": "1.1587", "AED": "4.2553"}})
    provider = PeggedProvider(anchor=EcbFileProvider(path), pegs=load_pegs(SHIPPED_DATA / "pegs.toml"))
    aed = [r for r in provider.fetch() if r.quote == "AED"]
    assert [(r.source, r.base) for r in aed] == [("ecb", "EUR")]


def test_rates_validate_themselves():
    with pytest.raises(ProviderError):
        Rate("EUR", "EUR", Decimal(1), dt.date(2026, 11, 20), "ecb")
    with pytest.raises(ProviderError):
        Rate("EUR", "USD", 1.1587, dt.date(2026, 11, 20), "ecb")


class _Server:
    """A local HTTP server standing in for www.ecb.europa.eu."""

    def __init__(self, status: int, body: bytes) -> None:
        outer = self
        self.requests = 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests += 1
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/stats/eurofxref/eurofxref-daily.xml"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_http_provider_fetches_the_daily_file():
    body = (SHIPPED_DATA / "eurofxref-daily.xml").read_bytes()
    with _Server(200, body) as server:
        rates = EcbHttpProvider(server.url, timeout=5).fetch()
    assert server.requests == 1
    assert {r.quote: r.rate for r in rates}["USD"] == Decimal("1.1587")


def test_http_provider_reports_a_server_error():
    with _Server(500, b"oops") as server, pytest.raises(ProviderError) as exc:
        EcbHttpProvider(server.url, timeout=5).fetch()
    assert exc.value.code == "rates_unavailable"
    assert server.url in exc.value.message


def test_http_provider_reports_an_unreachable_host():
    with _Server(200, b"") as server:
        url = server.url
    with pytest.raises(ProviderError) as exc:
        EcbHttpProvider(url, timeout=5).fetch()
    assert exc.value.code == "rates_unavailable"


def test_http_provider_refuses_other_schemes():
    with pytest.raises(ProviderError):
        EcbHttpProvider("file:///etc/passwd")


def test_settings_choose_the_providers(settings):
    provider = provider_from_settings()
    assert isinstance(provider, PeggedProvider)
    assert isinstance(provider.anchor, EcbFileProvider)
    assert primary_source() == "ecb"
    settings.FX_PROVIDERS = ["ecb_http"]
    assert isinstance(provider_from_settings(), EcbHttpProvider)


@pytest.mark.parametrize("names", [[], ["pegged"], ["ecb_file", "nope"], ["fixer"]])
def test_unknown_provider_names_are_reported(settings, names):
    assert check_provider_names(names)
    settings.FX_PROVIDERS = names
    with pytest.raises(ImproperlyConfigured):
        provider_from_settings()


def test_system_check_reports_bad_fx_settings(settings):
    from apps.money.checks import fx_settings_check

    assert fx_settings_check() == []
    settings.FX_PROVIDERS = ["ecb_file", "nope"]
    settings.FX_STALE_AFTER_DAYS = -1
    settings.FX_RATES_FILE = "/nonexistent/rates.xml"
    ids = sorted(m.id for m in fx_settings_check())
    assert ids == ["money.E001", "money.E002", "money.W001"]
