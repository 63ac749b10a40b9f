"""Translated fields. Which language must be filled depends on the region, not on the
schema, so the default language is required at run time (``clean``) rather than here:
one set of migrations serves every region."""

from modeltranslation.translator import TranslationOptions, register

from apps.catalog.models import Category, Product, ProductImage, ProductIngredient


@register(Category)
class CategoryTranslation(TranslationOptions):
    fields = ("name",)
    required_languages = {"default": ()}


@register(Product)
class ProductTranslation(TranslationOptions):
    fields = ("name", "description")
    required_languages = {"default": ()}


@register(ProductIngredient)
class ProductIngredientTranslation(TranslationOptions):
    fields = ("name",)
    required_languages = {"default": ()}


@register(ProductImage)
class ProductImageTranslation(TranslationOptions):
    fields = ("alt_text",)
    required_languages = {"default": ()}
