from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LiveConfig(AppConfig):
    name = "apps.live"
    label = "live"
    verbose_name = _("Live shows")

    def ready(self) -> None:
        from apps.live import receivers  # noqa: F401  (connects the signal receivers)
