"""Amounts in minor units, currencies, daily FX rates and their providers, Babel formatting."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MoneyConfig(AppConfig):
    name = "apps.money"
    label = "money"
    verbose_name = _("Currencies and exchange rates")

    def ready(self) -> None:
        from apps.money import checks  # noqa: F401 - registers the FX settings check
