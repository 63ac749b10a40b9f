"""Celery tasks: thin wrappers taking ids and calling services."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation

from apps.money.formatting import format_day, format_money
from apps.orders import services
from apps.orders.models import Order

logger = logging.getLogger(__name__)


@shared_task(name="orders.reservations_expire")
def reservations_expire() -> int:
    return services.reservations_expire()


@shared_task(name="orders.flash_sales_reconcile")
def flash_sales_reconcile() -> dict:
    return {str(k): v for k, v in services.flash_sales_reconcile().items()}


@shared_task(name="orders.cash_on_delivery_collect_missed")
def cash_on_delivery_collect_missed() -> int:
    return services.cash_on_delivery_collect_missed()


def _locale(order: Order) -> str:
    language = order.language.replace("-", "_")
    return ("zh_Hans" if language.lower() == "zh_hans" else language) + f"_{order.country}"


def _send(order_id: int, template: str, subject: str) -> bool:
    order = Order.objects.prefetch_related("lines", "shipments").filter(pk=order_id).first()
    if order is None:
        return False
    locale = _locale(order)
    with translation.override(order.language):
        context = {
            "order": order,
            "total": format_money(order.total_minor, order.currency, locale),
            "eta": format_day(order.eta, locale),
        }
        body = render_to_string(f"orders/email/{template}.txt", context)
        send_mail(str(subject) % {"reference": order.reference}, body, settings.DEFAULT_FROM_EMAIL, [order.email])
    return True


@shared_task(name="orders.send_order_confirmation", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_order_confirmation(order_id: int) -> bool:
    from django.utils.translation import gettext_lazy as _

    return _send(order_id, "confirmation", _("Your LiveMall order %(reference)s"))


@shared_task(name="orders.send_order_shipped", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def send_order_shipped(order_id: int) -> bool:
    from django.utils.translation import gettext_lazy as _

    return _send(order_id, "shipped", _("Your LiveMall order %(reference)s is on its way"))
