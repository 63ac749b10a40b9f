from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class PreferencesForm(forms.Form):
    """Language and/or currency chosen from the header; only the region's own are valid."""

    language = forms.ChoiceField(required=False, label=_("Language"))
    currency = forms.ChoiceField(required=False, label=_("Currency"))
    next = forms.CharField(required=False)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        region = settings.REGION
        self.fields["language"].choices = [("", "")] + [(c, c) for c in region.languages]
        self.fields["currency"].choices = [("", "")] + [(c, c) for c in region.currencies]


class SignUpForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"))
    display_name = forms.CharField(label=_("Display name"), max_length=60, required=False)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput, min_length=8)
