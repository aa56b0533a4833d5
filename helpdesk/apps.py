from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HelpdeskConfig(AppConfig):
    name = "helpdesk"
    verbose_name = _("Accounts")

    def ready(self):
        from django.contrib import admin
        from django.contrib.admin import options
        from django.db import models

        from . import signals
        from .jsonlimits import BoundedJSONField

        signals.connect()

        # Every JSON field in the admin (trigger conditions, custom fields, skills)
        # refuses JSON nested too deeply with an error beside the field, not a 500:
        # the admins registered already (admin's ready() ran first) and any later.
        override = {"form_class": BoundedJSONField}
        options.FORMFIELD_FOR_DBFIELD_DEFAULTS[models.JSONField] = override
        for model_admin in admin.site._registry.values():
            model_admin.formfield_overrides[models.JSONField] = {**model_admin.formfield_overrides.get(models.JSONField, {}), **override}
