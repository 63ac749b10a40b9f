from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from apps.accounts import selectors, services
from apps.errors import ApplicationError


class PreferencesForm(forms.Form):
    """Country, language, currency and/or time zone; only the region's own countries, languages
    and currencies are valid.

    The header sends language and currency; the preferences page sends all four. A field
    left out or empty leaves that choice as it is.
    """

    # The countries this region serves, by their names in the shopper's language; another
    # region's country is refused here (sending the shopper to that region is not this form's job).
    country = forms.ChoiceField(
        required=False,
        label=_("Deliver to"),
        help_text=_("Prices, taxes and what can be delivered depend on this country."),
        error_messages={"invalid_choice": _("We do not deliver to that country from this site.")},
    )
    language = forms.ChoiceField(required=False, label=_("Language"))
    currency = forms.ChoiceField(required=False, label=_("Currency"))
    # A select of the zones, but checked by the accounts service (one rule, signed in or not).
    time_zone = forms.CharField(required=False, max_length=64, label=_("Time zone"), widget=forms.Select)
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        region = settings.REGION
        language = get_language() or region.default_language
        names = dict(settings.LANGUAGES)
        self.fields["country"].choices = selectors.country_choices(region, language)
        # No blank choice: a shopper always has a language and a currency (the view passes the
        # current ones as initial). Still not required: a post may leave one out (see above).
        self.fields["language"].choices = [(c, names.get(c, c)) for c in region.languages]
        self.fields["currency"].choices = [(c, c) for c in region.currencies]
        own, others = selectors.time_zone_choices(region, language)
        # A zone kept from before (an alias such as "Asia/Calcutta" the list leaves out) is still
        # shown as the one chosen, so that saving the page for something else does not change it.
        current = self.data.get("time_zone") if self.is_bound else self.initial.get("time_zone")
        if selectors.is_time_zone(current) and all(current != zone for zone, _label in own + others):
            others = ((current, selectors.time_zone_label(current, language)), *others)
        self.fields["time_zone"].widget.choices = [
            (_("Time zones in %(region)s") % {"region": region.name_in(language)}, list(own)),
            (_("Other time zones"), list(others)),
        ]

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
