"""Nothing sent is lost (issue 17): mails and trigger webhooks are outgoing deliveries written with the change;
Redis killed between commit and send (tasks lost with it, or never sent) delays them, and the sweep then
makes every delivery exactly once, to a real SMTP server and a real HTTP listener. Against a redis-server of
the test's own (the machine's Redis is shared: it is never stopped)."""

import redis

from helpdesk.celery import app
from tests.escalation.test_broker_outage import own_redis  # noqa: F401  (the fixture)
from tests.escalation.test_webhooks import Listener
from tests.fixtures import wait_for_mail
from tickets import deliveries, services
from tickets.models import OutgoingDelivery
from tickets.tasks import process_events


def _change(customer, agent, subject, capture):
    """A ticket (its trigger's webhook) and an agent's reply (the requester's mail), committed and processed."""
    with capture(execute=True):
        ticket = services.create_ticket(requester=customer, subject=subject, body="b")
        services.add_message(ticket=ticket, author=agent, body=f"answer to {subject}")
        process_events()
    return ticket


def test_redis_killed_between_commit_and_send_loses_and_doubles_nothing(
        own_redis, smtp, settings, customer, agent, make_trigger, django_capture_on_commit_callbacks):  # noqa: F811
    hook = Listener()
    settings.WEBHOOK_ALLOWED_NETWORKS, settings.WEBHOOK_ALLOWED_PORTS = ["127.0.0.1/32"], [hook.port]
    make_trigger(actions=[{"type": "webhook", "url": f"http://127.0.0.1:{hook.port}/hook"}])
    app.conf.task_always_eager = False  # the tasks go to the broker; no worker reads this one's queues
    outgoing = redis.Redis.from_url(own_redis.url)
    try:
        # Redis up at commit: the tasks are in its queue, then Redis dies with them (no persistence).
        before = _change(customer, agent, "before", django_capture_on_commit_callbacks)
        assert outgoing.llen(settings.HELPDESK_OUTGOING_QUEUE) == 2
        own_redis.stop()
        # Redis down at commit: the tasks cannot even be sent (logged, the changes commit).
        during = [_change(customer, agent, f"during {i}", django_capture_on_commit_callbacks) for i in range(3)]
        own_redis.start()
        assert outgoing.llen(settings.HELPDESK_OUTGOING_QUEUE) == 0  # every task is gone
        assert smtp.messages == [] and hook.received == []
        pending = OutgoingDelivery.objects.filter(status="pending")
        assert sorted(pending.values_list("kind", flat=True)) == ["mail"] * 4 + ["webhook"] * 4

        # Redis is back: the beat's sweep sends each delivery once; another sweep sends nothing more.
        assert deliveries.send_pending_deliveries() == 8
        assert deliveries.send_pending_deliveries() == 0
        mails = wait_for_mail(smtp, n=5, timeout=1.0)
    finally:
        app.conf.task_always_eager = True
        hook.stop()
    tickets = [before, *during]
    assert sorted(str(m["Subject"]) for m in mails) == sorted(f"[#{t.number}] {t.subject}" for t in tickets)
    import json

    assert sorted(json.loads(body)["ticket"]["number"] for _headers, body in hook.received) == \
        sorted(t.number for t in tickets)
    assert set(OutgoingDelivery.objects.values_list("status", "attempts")) == {("sent", 1)}
