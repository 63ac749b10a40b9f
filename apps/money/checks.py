"""System checks for the FX settings, so a typo shows at start-up rather than at 16:30 UTC."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register

from apps.money.providers import check_provider_names


@register()
def fx_settings_check(app_configs: Any = None, **kwargs: Any) -> list[Error | Warning]:
    messages: list[Error | Warning] = [
        Error(problem, id="money.E001") for problem in check_provider_names(list(settings.FX_PROVIDERS))
    ]
    if settings.FX_STALE_AFTER_DAYS < 0:
        messages.append(Error("FX_STALE_AFTER_DAYS must be 0 or more days.", id="money.E002"))
    providers = list(settings.FX_PROVIDERS)
    files = {"ecb_file": ("FX_RATES_FILE", settings.FX_RATES_FILE), "pegged": ("FX_PEGS_FILE", settings.FX_PEGS_FILE)}
    for name, (setting, path) in files.items():
        if name in providers and not Path(path).is_file():
            messages.append(
                Warning(f"{setting}={path} does not exist; the FX update will fail until it does.", id="money.W001")
            )
    return messages
