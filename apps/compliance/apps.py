from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplianceConfig(AppConfig):
    name = "apps.compliance"
    label = "compliance"
    verbose_name = _("Compliance")

    def ready(self) -> None:
        from apps.compliance import receivers  # noqa: F401  (connects the cache invalidation)
