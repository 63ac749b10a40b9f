"""The checkout pass: the site's word that this session's cart holds these lines.

The checkout's door (:mod:`apps.orders.door`) takes flash-sale units from the gate before
Django has seen the cart, on the strength of the lines the request names. A request naming
lines its cart does not hold is refused by the checkout, but the units it was admitted for
are held while Django gets to it: a flood of such requests, with made-up session cookies and
no carts, could keep a flash sale "sold out" for real buyers. So the door takes units only
for a request whose pass says its session's cart showed those lines. The pass comes with the
cart (the cart API's ``checkout_pass``, the checkout page's hidden field) and is signed with
the site's secret, salted with the session key, so it is worth nothing in another session or
for other lines; the session key itself never leaves the cookie.

A request without a valid pass is not refused: the door can still tell it "sold out", and
otherwise the checkout meets the gate itself, after reading the cart.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.core import signing

# How long a pass lets the door take units: a shopper who leaves the checkout page open
# longer still buys, through the checkout's own turn at the gate.
PASS_SECONDS = 60 * 60
_SALT = "livemall.orders.checkout_pass"


def _signer(session_key: str) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=f"{_SALT}:{session_key}")


def _lines_text(lines: Mapping[int, int]) -> str:
    return ",".join(f"{variant}:{quantity}" for variant, quantity in sorted(lines.items()))


def issue(session_key: str, lines: Mapping[int, int]) -> str:
    """The pass for ``lines`` ({variant: quantity}) in the session ``session_key``; "" for no lines."""
    if not session_key or not lines:
        return ""
    return _signer(session_key).sign(_lines_text(lines))


def admits(token: object, session_key: str, lines: Mapping[int, int]) -> bool:
    """True if ``token`` is a pass this site issued, within the hour, to this session for exactly these lines."""
    if not isinstance(token, str) or not token or not session_key or not lines:
        return False
    try:
        signed_lines = _signer(session_key).unsign(token, max_age=PASS_SECONDS)
    except signing.BadSignature:  # also an expired pass (SignatureExpired)
        return False
    return signed_lines == _lines_text(lines)
