"""Times as people read them, for every app's templates."""

from django import template
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def ago(moment):
    """"5 minutes ago" in the reader's language, the exact time (in the user's
    zone) on hover. Our own phrases: Django's catalogues lack some languages'
    (Greek had "31 minutes")."""
    from django.template.defaultfilters import date as date_filter
    from django.utils import timezone
    from django.utils.translation import gettext as _
    from django.utils.translation import ngettext

    if not moment:
        return "—"
    seconds = (timezone.now() - moment).total_seconds()
    if seconds < 60:
        text = _("just now")
    elif seconds < 3600:
        n = int(seconds // 60)
        text = ngettext("%(n)d minute ago", "%(n)d minutes ago", n) % {"n": n}
    elif seconds < 86400:
        n = int(seconds // 3600)
        text = ngettext("%(n)d hour ago", "%(n)d hours ago", n) % {"n": n}
    elif seconds < 30 * 86400:
        n = int(seconds // 86400)
        text = ngettext("%(n)d day ago", "%(n)d days ago", n) % {"n": n}
    else:
        text = date_filter(moment, "SHORT_DATE_FORMAT")
    return format_html('<span title="{}">{}</span>', date_filter(moment, "DATETIME_FORMAT"), text)
