from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from apps.accounts import services
from apps.accounts.forms import PreferencesForm, SignUpForm
from apps.accounts.selectors import COUNTRY_COOKIE_NAME, TIME_ZONE_SESSION_KEY, is_time_zone, shopper_context
from apps.errors import ApplicationError


def _safe_next(request: HttpRequest, target: str) -> str:
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return "/"


PREFERENCES = ("country", "language", "currency", "time_zone")


@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest) -> HttpResponse:
    """Keep the country/language/currency/time-zone choice: session always (country, language and
    currency in a cookie too), profile when signed in. GET shows the page with all four.

    Only what the shopper changed is kept: a value sent as it was shown (the page sends every
    field) is not a choice, so it goes on following the country, e.g. the time zone after a move
    from Ireland to Germany.
    """
    shopper = request.shopper
    if request.method == "GET":
        form = PreferencesForm(
            initial={
                "country": shopper.country,
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
    changed: dict[str, str] = {}
    if form.is_valid():
        changed = {
            name: form.cleaned_data[name]
            for name in PREFERENCES
            if form.cleaned_data[name] and form.cleaned_data[name] != getattr(shopper, name)
        }
    if changed and request.user.is_authenticated:
        try:
            services.shopper_preferences_update(user=request.user, region=settings.REGION, **changed)
        except ApplicationError as exc:
            for field, errors in exc.fields.items():
                form.add_error(field if field in form.fields else None, errors)
    if form.errors:
        if from_page:
            return render(request, "accounts/preferences.html", {"form": form}, status=400)
        messages.error(request, _("That choice is not available in this region."))
        return HttpResponseRedirect(target)
    response = HttpResponseRedirect(target)
    for key, name in (
        (COUNTRY_COOKIE_NAME, "country"),
        (settings.LANGUAGE_COOKIE_NAME, "language"),
        (settings.CURRENCY_COOKIE_NAME, "currency"),
    ):
        if name in changed:
            request.session[key] = changed[name]
            response.set_cookie(key, changed[name], max_age=settings.PREFERENCE_COOKIE_AGE, samesite="Lax")
    if "time_zone" in changed:
        request.session[TIME_ZONE_SESSION_KEY] = changed["time_zone"]
    if from_page:
        # Said in the language the next page speaks, which may be the one just chosen.
        with translation.override(shopper_context(request, settings.REGION).language):
            messages.success(request, _("Your preferences are saved."))
    return response


def _guest_choice(request: HttpRequest, key: str, offered: tuple[str, ...]) -> str:
    """What a guest chose for ``key`` with the preferences form (session, else cookie), or ``""``.

    Read as :func:`apps.accounts.selectors.shopper_context` reads it. A value resolved from the
    browser or the country is not a choice: stored in a profile, it would stop following them.
    Even a currency prices are not shown in right now (apps.money.middleware) is kept.
    """
    for value in (request.session.get(key, ""), request.COOKIES.get(key, "")):
        if value in offered:
            return value
    return ""


def signup(request: HttpRequest) -> HttpResponse:
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        region = settings.REGION
        # As resolved, before apps.money.middleware puts the settlement currency in: no price here.
        shopper = getattr(request, "shopper_chosen", None) or request.shopper
        chosen_time_zone = request.session.get(TIME_ZONE_SESSION_KEY, "")
        try:
            validate_password(form.cleaned_data["password"])
            user = services.user_create(
                region=region,
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                display_name=form.cleaned_data["display_name"],
                country=shopper.country,
                # Only what the shopper chose; the rest stays empty, to go on following the country.
                language=_guest_choice(request, settings.LANGUAGE_COOKIE_NAME, region.languages),
                currency=_guest_choice(request, settings.CURRENCY_COOKIE_NAME, region.currencies),
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
