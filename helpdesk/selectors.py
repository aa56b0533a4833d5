"""Reads for accounts and the teams."""

from .models import AgentProfile, User


def presence_of(user: User) -> str:
    """The agent's presence; an agent without a profile counts as online."""
    profile = AgentProfile.objects.filter(user=user).only("presence").first()
    return profile.presence if profile else AgentProfile.Presence.ONLINE
