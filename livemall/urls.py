from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from livemall import health, views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Browsers ask for /favicon.ico whatever the page links: send them to the static icon. Not permanent, as its
    # hashed name changes with the file; lazy, as that name is only known once the static storage is ready.
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("favicon.svg")), name="favicon"),
    path("accounts/", include("apps.accounts.urls")),
    path("", include("apps.catalog.urls")),
    path("", include("apps.live.urls")),
    path("api/v1/", include("apps.catalog.api_urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/payments/", include("apps.payments.urls")),
    path("", include("apps.orders.urls")),
    path("api/v1/", include("apps.orders.api_urls")),
]

handler404 = "livemall.errors.page_not_found"
handler500 = "livemall.errors.server_error"
