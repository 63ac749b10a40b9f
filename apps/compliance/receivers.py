"""Any change to the rule tables starts a new cache generation (see ``selectors.py``)."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from apps.compliance.models import CountryGroup, CountryGroupMember, ProductRule, RuleAdditive
from apps.compliance.selectors import rules_changed


def _on_change(sender, **kwargs) -> None:
    # Now, so this transaction reads its own change, and again after commit, so that a
    # reader who cached the old rules meanwhile does not keep them under the new number.
    rules_changed()
    transaction.on_commit(rules_changed)


for _model in (ProductRule, RuleAdditive, CountryGroup, CountryGroupMember):
    post_save.connect(_on_change, sender=_model, dispatch_uid=f"compliance-rules-{_model.__name__}-save")
    post_delete.connect(_on_change, sender=_model, dispatch_uid=f"compliance-rules-{_model.__name__}-delete")
