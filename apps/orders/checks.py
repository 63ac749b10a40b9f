"""System checks of the data orders prices with, run by `manage.py check` (the deploy's migrate step
runs it first and stops on an error)."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, register

from apps.orders import rules


# Every region's currency is checked, not only the served one's: the file is shared by all, and a
# gap must stop the deploy before a checkout meets it.
@register()
def shipping_prices_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return rules.shipping_data_messages()
