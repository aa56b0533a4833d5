"""A password change or a deactivation revokes the user's API tokens, on any
path that saves the user (admin, password reset, services, shell)."""

from django.db.models.signals import post_save, pre_save

from .models import User
from .tokens import revoke_api_tokens

_REVOKE_REASON = "_helpdesk_revoke_tokens"


def _note_credentials_change(sender, instance: User, update_fields=None, raw=False, **kwargs) -> None:
    if raw or instance.pk is None or (update_fields is not None and not {"password", "is_active"} & set(update_fields)):
        return  # new user, or e.g. the last_login update of every login
    before = User.objects.filter(pk=instance.pk).values("password", "is_active").first()
    if before is None:
        return
    if before["password"] != instance.password:
        setattr(instance, _REVOKE_REASON, "password changed")
    elif before["is_active"] and not instance.is_active:
        setattr(instance, _REVOKE_REASON, "deactivated")


def _revoke_tokens(sender, instance: User, **kwargs) -> None:
    reason = instance.__dict__.pop(_REVOKE_REASON, None)
    if reason:
        revoke_api_tokens(user=instance, reason=reason)


def connect() -> None:
    pre_save.connect(_note_credentials_change, sender=User, dispatch_uid="helpdesk_token_credentials_change")
    post_save.connect(_revoke_tokens, sender=User, dispatch_uid="helpdesk_token_revoke")
