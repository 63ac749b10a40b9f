from django.apps import AppConfig
from django.urls import register_converter
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "apps.orders"
    label = "orders"
    verbose_name = _("Orders")

    def ready(self) -> None:
        from apps.orders import checks, receivers  # noqa: F401  (registers the data checks, connects the receivers)
        from apps.orders.web import OrderReferenceConverter

        # Before any URLconf is read: the pages' and the API's order addresses use it.
        register_converter(OrderReferenceConverter, "order_reference")
