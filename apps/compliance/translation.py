from modeltranslation.translator import TranslationOptions, register

from apps.compliance.models import ProductRule


@register(ProductRule)
class ProductRuleTranslation(TranslationOptions):
    # Which language must be filled depends on the region, not on the schema, so it is
    # checked at run time (see ``ProductRule.clean``) rather than in the migrations.
    fields = ("message",)
    required_languages = {"default": ()}
