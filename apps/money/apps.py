"""Amounts in minor units, currencies, daily FX rates and their providers, Babel formatting."""

from django.apps import AppConfig


class MoneyConfig(AppConfig):
    name = "apps.money"
    label = "money"

    def ready(self) -> None:
        from apps.money import checks  # noqa: F401 - registers the FX settings check
