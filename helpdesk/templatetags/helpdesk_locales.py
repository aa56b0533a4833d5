from django import template
from django.utils.translation import get_language_info

from helpdesk.locales import offered_languages

register = template.Library()


@register.simple_tag
def get_offered_languages() -> list[dict]:
    """The language switcher's choices: complete locales only (see helpdesk.locales)."""
    return [get_language_info(code) for code, _name in offered_languages()]
