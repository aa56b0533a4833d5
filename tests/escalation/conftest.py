import pytest

from escalation.models import Trigger
from helpdesk.models import AgentProfile, Group, Tier
from tests.factories import AgentFactory


@pytest.fixture
def tiers(db):
    return {level: Tier.objects.create(level=level, name=f"L{level}") for level in (1, 2, 3, 4)}


@pytest.fixture
def billing(tiers):
    group = Group.objects.create(name="Billing L1", tier=tiers[1])
    agents = [AgentFactory(username=f"billing{i}") for i in range(5)]
    for a in agents:
        AgentProfile.objects.create(user=a, presence="online", max_open_tickets=100)
    group.members.set(agents)
    group.agents = agents
    return group


@pytest.fixture
def make_trigger(db):
    def make(name="t", events=("ticket_created",), all=(), any=(), actions=(), position=0, stop=False):
        trigger = Trigger(name=name, events=list(events), conditions={"all": list(all), "any": list(any)},
                          actions=list(actions), position=position, stop_processing=stop)
        trigger.full_clean()
        trigger.save()
        return trigger

    return make
