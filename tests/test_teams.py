"""The teams live in the core app (helpdesk): their admin pages and the
agents' presence."""

import pytest
from django.core.exceptions import ValidationError

from helpdesk.models import AgentProfile, Group, Tier
from helpdesk.selectors import presence_of
from helpdesk.services import set_presence

pytestmark = pytest.mark.django_db


def test_the_teams_admin_pages_moved_to_the_core_app(client, admin_user, agent):
    group = Group.objects.create(name="Billing L1", tier=Tier.objects.create(level=1, name="First line"))
    group.members.add(agent)
    profile = AgentProfile.objects.create(user=agent, skills=["ru"])
    client.force_login(admin_user)
    for url in ("/admin/helpdesk/tier/", "/admin/helpdesk/group/", "/admin/helpdesk/agentprofile/",
                f"/admin/helpdesk/group/{group.pk}/change/", f"/admin/helpdesk/agentprofile/{profile.pk}/change/"):
        assert client.get(url).status_code == 200, url
    assert "Billing L1" in client.get("/admin/helpdesk/group/").content.decode()
    for old in ("/admin/escalation/tier/", "/admin/escalation/group/", "/admin/escalation/agentprofile/"):
        assert client.get(old).status_code == 404, old


def test_presence_is_set_and_read_in_the_core_app(agent, customer):
    assert presence_of(agent) == "online"  # no profile yet
    assert set_presence(user=agent, presence="away").presence == "away"
    assert presence_of(agent) == "away"
    with pytest.raises(ValidationError):
        set_presence(user=agent, presence="asleep")
    with pytest.raises(ValidationError):
        set_presence(user=customer, presence="online")
    assert presence_of(agent) == "away" and not AgentProfile.objects.filter(user=customer).exists()
