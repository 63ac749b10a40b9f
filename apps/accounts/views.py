from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from apps.accounts import services
from apps.accounts.forms import PreferencesForm, SignUpForm
from apps.accounts.selectors import TIME_ZONE_SESSION_KEY, is_time_zone
from apps.errors import ApplicationError


def _safe_next(request: HttpRequest, target: str) -> str:
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return "/"


@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    """Keep the language/currency/time-zone choice: session always (language and currency in a
    cookie too), profile when signed in. GET shows the page with all three."""
    if request.method == "GET":
        shopper = request.shopper
        form = PreferencesForm(
            initial={
                "language": shopper.language,
                "currency": shopper.currency,
                "time_zone": shopper.time_zone,
                "next": _safe_next(request, request.GET.get("next", "")),
            }
        )
        return render(request, "accounts/preferences.html", {"form": form})
    form = PreferencesForm(request.POST)
    target = _safe_next(request, request.POST.get("next", ""))
    # The page's own form shows what is wrong next to the field; the header's, on every page,
    # goes back where it came from with a message.
    from_page = "time_zone" in request.POST
    if form.is_valid() and request.user.is_authenticated:
        try:
            services.shopper_preferences_update(
                user=request.user,
                region=settings.REGION,
                language=form.cleaned_data["language"] or None,
                currency=form.cleaned_data["currency"] or None,
                time_zone=form.cleaned_data["time_zone"] or None,
            )
        except ApplicationError as exc:
            for field, errors in exc.fields.items():
                form.add_error(field if field in form.fields else None, errors)
    if form.errors:
        if from_page:
            return render(request, "accounts/preferences.html", {"form": form}, status=400)
        messages.error(request, _("That choice is not available in this region."))
        return HttpResponseRedirect(target)
    language = form.cleaned_data["language"] or None
    currency = form.cleaned_data["currency"] or None
    time_zone = form.cleaned_data["time_zone"] or None
    response = HttpResponseRedirect(target)
    for key, value in ((settings.LANGUAGE_COOKIE_NAME, language), (settings.CURRENCY_COOKIE_NAME, currency)):
        if value:
            request.session[key] = value
            response.set_cookie(key, value, max_age=settings.PREFERENCE_COOKIE_AGE, samesite="Lax")
    if time_zone:
        request.session[TIME_ZONE_SESSION_KEY] = time_zone
    return response


def signup(request: HttpRequest) -> HttpResponse:
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        shopper = request.shopper
        chosen_time_zone = request.session.get(TIME_ZONE_SESSION_KEY, "")
        try:
            validate_password(form.cleaned_data["password"])
            user = services.user_create(
                region=settings.REGION,
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                display_name=form.cleaned_data["display_name"],
                country=shopper.country,
                language=shopper.language,
                currency=shopper.currency,
                # Only a zone the shopper chose: one from their country stays empty, to follow it.
                time_zone=chosen_time_zone if is_time_zone(chosen_time_zone) else "",
            )
        except ValidationError as exc:
            form.add_error("password", exc)
        except ApplicationError as exc:
            for field, errors in exc.fields.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("home")
    return render(request, "accounts/signup.html", {"form": form})


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


logout = auth_views.LogoutView.as_view()
