"""The project's URLs plus one page and one API path with a bug in them, to see the 500s."""

from django.urls import path

from livemall.urls import handler404, handler500, urlpatterns  # noqa: F401 (the handlers are read from here)


def _broken(request):
    raise RuntimeError("a bug")


urlpatterns = [*urlpatterns, path("broken/", _broken), path("api/v1/broken/", _broken)]
