"""``{{ order.payment_method|payment_method_label }}``: a payment method as shoppers read it."""

from __future__ import annotations

from django import template

from apps.payments.method_labels import method_label

register = template.Library()

# The templates' name for the one function pages, e-mails and the API take a method's label from.
register.filter("payment_method_label", method_label)
