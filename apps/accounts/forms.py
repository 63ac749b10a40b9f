from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from apps.accounts import selectors, services
from apps.errors import ApplicationError


class PreferencesForm(forms.Form):
    """Language, currency and/or time zone; only the region's own languages and currencies are valid.

    The header sends language and currency; the preferences page sends all three. A field
    left out or empty leaves that choice as it is.
    """

    language = forms.ChoiceField(required=False, label=_("Language"))
    currency = forms.ChoiceField(required=False, label=_("Currency"))
    # A select of every zone, but checked by the accounts service (one rule, signed in or not).
    time_zone = forms.CharField(required=False, max_length=64, label=_("Time zone"), widget=forms.Select)
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        region = settings.REGION
        names = dict(settings.LANGUAGES)
        self.fields["language"].choices = [("", "")] + [(c, names.get(c, c)) for c in region.languages]
        self.fields["currency"].choices = [("", "")] + [(c, c) for c in region.currencies]
        self.fields["time_zone"].widget.choices = [(z, z.replace("_", " ")) for z in selectors.time_zones()]

    def clean_time_zone(self) -> str:
        time_zone = self.cleaned_data["time_zone"]
        if time_zone:
            try:
                services.shopper_preferences_check(region=settings.REGION, time_zone=time_zone)
            except ApplicationError as exc:
                raise forms.ValidationError(exc.fields["time_zone"]) from exc
        return time_zone


class SignUpForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"))
    display_name = forms.CharField(label=_("Display name"), max_length=60, required=False)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, min_length=8)
