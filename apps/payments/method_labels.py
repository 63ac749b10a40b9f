"""What a shopper reads for each payment method code the region files list (``card``,
``cash_on_delivery`` …): the one table every page, e-mail and API answer takes it from.

A common noun is translated ("Card", "Cash on delivery"); a brand is written as its owner
writes it, in every language (iDEAL, Klarna, PayPal). A method added to a region file needs
a row here (tests/orders/test_labels_and_dates.py checks every region's methods have one).
"""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy, pgettext_lazy

METHOD_LABELS: Mapping[str, str | Promise] = {
    # Translators: a payment method, paying by debit or credit card.
    "card": pgettext_lazy("payment method", "Card"),
    # Translators: a payment method, paying the courier in cash when the parcel arrives.
    "cash_on_delivery": pgettext_lazy("payment method", "Cash on delivery"),
    # Translators: a payment method; "SEPA" stays as it is (the banks' scheme keeps its name in every language).
    "sepa_debit": pgettext_lazy("payment method", "SEPA Direct Debit"),
    "ideal": "iDEAL",
    "bancontact": "Bancontact",
    "klarna": "Klarna",
    "paypal": "PayPal",
    "paynow": "PayNow",
    "grabpay": "GrabPay",
    "alipay": "Alipay",
    "apple_pay": "Apple Pay",
    "google_pay": "Google Pay",
    # The stand-in provider of a deployment without payment keys (registry.TEST_METHOD).
    "test": gettext_lazy("Test payment (no money is taken)"),
}


def method_label(method: str) -> str:
    """The shopper-facing name of payment method ``method`` in the active language.

    A code with no row (a region file ahead of this table) is shown as it is rather than
    failing the page.
    """
    label = METHOD_LABELS.get(method)
    return str(label) if label is not None else method
