"""``{{ order.payment_method|payment_method_label }}``: a payment method as shoppers read it."""

from __future__ import annotations

from django import template

from apps.payments.selectors import payment_method_label as label_of

register = template.Library()


@register.filter
def payment_method_label(method: str) -> str:
    """The method code's label ("Card", "Cash on delivery", "PayPal" …) in the active language."""
    return label_of(method=str(method or ""))
