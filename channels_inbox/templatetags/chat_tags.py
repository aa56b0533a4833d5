"""The agent navbar's "Chats" badge."""

from typing import Any

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def chat_badge(context: dict[str, Any]) -> int:
    """Offers waiting for the signed-in agent plus their chats with unread visitor lines."""
    from ..chat.agent_selectors import waiting_count

    user = getattr(context.get("request"), "user", None)
    if user is None or not user.is_authenticated or not user.is_agent:
        return 0
    return waiting_count(user)
