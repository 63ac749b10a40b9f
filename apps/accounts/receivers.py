"""A write to a user makes the cached copies of that user unusable (see ``user_cache``)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apps.accounts import user_cache
from apps.accounts.models import User


@receiver(post_save, sender=User, dispatch_uid="accounts-user-cache-save")
@receiver(post_delete, sender=User, dispatch_uid="accounts-user-cache-delete")
def forget_cached_user(sender: type[User], instance: User, **kwargs: Any) -> None:
    user_cache.forget_now_and_after_commit([instance.pk])
