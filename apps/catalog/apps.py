from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "apps.catalog"
    label = "catalog"
    verbose_name = _("Catalog")

    def ready(self) -> None:
        from apps.catalog import receivers  # noqa: F401  (connects the cache invalidation)
