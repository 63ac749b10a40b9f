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
from django.views.decorators.http import require_POST

from apps.accounts import services
from apps.accounts.forms import PreferencesForm, SignUpForm
from apps.errors import ApplicationError


def _safe_next(request: HttpRequest, target: str) -> str:
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return "/"


@require_POST
def preferences(request: HttpRequest) -> HttpResponse:
    """Keep the language/currency choice: session and cookie always, profile when signed in."""
    form = PreferencesForm(request.POST)
    target = _safe_next(request, request.POST.get("next", ""))
    if not form.is_valid():
        messages.error(request, _("That choice is not available in this region."))
        return HttpResponseRedirect(target)
    language = form.cleaned_data["language"] or None
    currency = form.cleaned_data["currency"] or None
    if request.user.is_authenticated:
        services.shopper_preferences_update(
            user=request.user, region=settings.REGION, language=language, currency=currency
        )
    response = HttpResponseRedirect(target)
    for key, value in ((settings.LANGUAGE_COOKIE_NAME, language), (settings.CURRENCY_COOKIE_NAME, currency)):
        if value:
            request.session[key] = value
            response.set_cookie(key, value, max_age=settings.PREFERENCE_COOKIE_AGE, samesite="Lax")
    return response


def signup(request: HttpRequest) -> HttpResponse:
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        shopper = request.shopper
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
