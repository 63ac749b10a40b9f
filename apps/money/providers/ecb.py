"""The European Central Bank's euro foreign exchange reference rates.

The ECB publishes, around 16:00 CET on TARGET working days, ``1 EUR = x`` for some thirty
currencies in a small XML file (``eurofxref-daily.xml``; the 90-day and full-history
files have the same shape with one ``<Cube time=...>`` per day). :class:`EcbFileProvider`
reads such a file from disk - the offline default, so a machine without network still
gets rates - and :class:`EcbHttpProvider` fetches it from ``FX_RATES_URL``.
"""

from __future__ import annotations

import datetime as dt
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from decimal import Decimal, InvalidOperation
from pathlib import Path

from apps.errors import ApplicationError
from apps.money.providers import ProviderError, Rate

SOURCE = "ecb"
PIVOT = "EUR"
NAMESPACES = {
    "gesmes": "http://www.gesmes.org/xml/2002-08-01",
    "ecb": "http://www.ecb.int/vocabulary/2002-08-01/eurofxref",
}
# The full history since 1999 is about 8 MB; anything far larger is not a rates file.
MAX_BYTES = 16 * 1024 * 1024


def parse_ecb_xml(data: bytes, *, origin: str = "ECB rates") -> list[Rate]:
    """Every ``1 EUR = rate currency`` in an ECB reference-rate document, for every day in it."""
    # The ECB's files never carry a DTD; refusing one rules out entity-expansion tricks
    # before the parser sees them (the files are small and come from a configured place).
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data:
        raise ProviderError(f"{origin}: a DTD is not expected in an ECB rates file.", code="bad_rates_file")
    try:
        root = ET.fromstring(data)  # noqa: S314 - no DTD allowed (checked above); trusted, size-capped input
    except ET.ParseError as exc:
        raise ProviderError(f"{origin}: not well-formed XML ({exc}).", code="bad_rates_file") from None
    rates: list[Rate] = []
    days = root.findall("ecb:Cube/ecb:Cube[@time]", NAMESPACES)
    if not days:
        raise ProviderError(f"{origin}: no <Cube time=...> element; is this an ECB rates file?", code="bad_rates_file")
    for day in days:
        try:
            rate_date = dt.date.fromisoformat(day.get("time", ""))
        except ValueError:
            raise ProviderError(f"{origin}: bad date {day.get('time')!r}.", code="bad_rates_file") from None
        for cube in day.findall("ecb:Cube[@currency]", NAMESPACES):
            currency, raw = cube.get("currency", ""), cube.get("rate", "")
            try:
                rates.append(Rate(PIVOT, currency, Decimal(raw), rate_date, SOURCE))
            except InvalidOperation:
                raise ProviderError(
                    f"{origin}: {currency} on {rate_date} has rate {raw!r}, not a number.", code="bad_rates_file"
                ) from None
            except ApplicationError as exc:
                raise ProviderError(
                    f"{origin}: {currency} on {rate_date}: {exc.message}", code="bad_rates_file"
                ) from None
    if not rates:
        raise ProviderError(f"{origin}: the file lists no rates.", code="bad_rates_file")
    return rates


class EcbFileProvider:
    """Reads an ECB rates file from disk (``FX_RATES_FILE``)."""

    source = SOURCE

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def fetch(self) -> list[Rate]:
        try:
            with self.path.open("rb") as handle:
                data = handle.read(MAX_BYTES + 1)
        except OSError as exc:
            raise ProviderError(
                f"Cannot read FX rates file {self.path}: {exc.strerror}.", code="rates_unavailable"
            ) from None
        if len(data) > MAX_BYTES:
            raise ProviderError(f"{self.path} is larger than {MAX_BYTES} bytes.", code="bad_rates_file")
        return parse_ecb_xml(data, origin=str(self.path))


class EcbHttpProvider:
    """Fetches the ECB rates file over HTTP(S) (``FX_RATES_URL``)."""

    source = SOURCE

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        if urllib.parse.urlsplit(url).scheme not in {"http", "https"}:
            raise ProviderError(f"FX_RATES_URL must be an http(s) URL, not {url!r}.", code="rates_unavailable")
        self.url = url
        self.timeout = timeout

    def fetch(self) -> list[Rate]:
        request = urllib.request.Request(self.url, headers={"User-Agent": "LiveMall FX update"})  # noqa: S310 - scheme checked
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - scheme checked
                data = response.read(MAX_BYTES + 1)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ProviderError(f"Cannot fetch FX rates from {self.url}: {reason}.", code="rates_unavailable") from None
        if len(data) > MAX_BYTES:
            raise ProviderError(f"{self.url} answered more than {MAX_BYTES} bytes.", code="bad_rates_file")
        return parse_ecb_xml(data, origin=self.url)
