from modeltranslation.translator import TranslationOptions, register

from apps.live.models import LiveRoom


@register(LiveRoom)
class LiveRoomTranslation(TranslationOptions):
    fields = ("title", "description")
    required_languages = {"default": ()}
