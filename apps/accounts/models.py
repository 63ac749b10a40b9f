from __future__ import annotations

from django.conf import settings
from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class UserQuerySet(models.QuerySet):
    """Writes that skip ``save()`` still make the cached users stale (see ``apps.accounts.user_cache``)."""

    def update(self, **kwargs: object) -> int:
        from apps.accounts import user_cache

        pks = list(self.values_list("pk", flat=True))
        rows = super().update(**kwargs)
        user_cache.forget_now_and_after_commit(pks)
        return rows

    update.alters_data = True

    def bulk_update(self, objs, fields, batch_size=None) -> int:
        from apps.accounts import user_cache

        objs = list(objs)
        rows = super().bulk_update(objs, fields, batch_size=batch_size)
        user_cache.forget_now_and_after_commit(obj.pk for obj in objs)
        return rows

    bulk_update.alters_data = True


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: object) -> User:
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class Role(models.TextChoices):
    SHOPPER = "shopper", _("Shopper")
    MERCHANT_STAFF = "merchant_staff", _("Merchant staff")
    OPERATOR = "operator", _("Operator")


class User(AbstractUser):
    """A person who signs in with their e-mail address.

    The profile fields hold the shopper's own choices; empty means "not chosen yet",
    and the region's defaults apply (see ``apps.accounts.selectors.shopper_context``).
    """

    username = None
    email = models.EmailField(_("e-mail address"), unique=True)
    display_name = models.CharField(_("display name"), max_length=60, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    language = models.CharField(_("preferred language"), max_length=10, blank=True)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    def __str__(self) -> str:
        return self.email

    @property
    def public_name(self) -> str:
        """What other viewers see: never the e-mail address."""
        return self.display_name or self.email.split("@", 1)[0][:3] + "…"

    @property
    def own_name(self) -> str:
        """What the account's holder sees of themselves (the page header): their display name, else
        their e-mail's name part whole ("layla.hassan"), not the masked ``public_name`` ("lay…"),
        which tells them nothing of which account they are in."""
        return self.display_name or self.email.split("@", 1)[0]


class Merchant(models.Model):
    """A tenant: a shop that owns products and runs live rooms."""

    name = models.CharField(_("name"), max_length=120)
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    country = models.CharField(_("country"), max_length=2)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MerchantMembership(models.Model):
    """A user working for a merchant; owners also manage the staff list."""

    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        STAFF = "staff", _("Staff")

    merchant = models.ForeignKey(Merchant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.STAFF)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["merchant", "user"], name="one_membership_per_merchant")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.merchant} ({self.role})"
