"""Each hand-written statement (tickets/sql.py, escalation/sql.py) against the
ORM call it stands for, on the benchmark database: µs per call, in one
transaction that is rolled back. Decides where the ORM is as fast (BENCHMARKS.md).

    .venv/bin/python benchmarks/bench_statements.py --database-url postgres://…/helpdesk_bench
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_triggers import DEFAULT_DB, setup_django  # noqa: E402


def timed(function, repeat: int) -> float:
    """The median of 5 rounds of `repeat` calls, in µs per call."""
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            function()
        rounds.append((time.perf_counter() - start) / repeat * 1e6)
    return statistics.median(rounds)


def cases():
    from django.db.models import F

    from escalation import sql as escalation_sql
    from escalation.models import Trigger
    from helpdesk.models import SYSTEM_USERNAME, Group, Tier
    from tickets import sql as ticket_sql
    from tickets.models import AgentLoad, Message, Tag, Ticket

    ticket = Ticket.objects.order_by("-id").first()
    message = Message.objects.order_by("-id").first()
    load = AgentLoad.objects.order_by("agent_id").first()
    group = Group.objects.order_by("id").first()
    names = list(Tag.objects.order_by("id").values_list("name", flat=True)[:3])

    def orm_config():
        from django.contrib.auth import get_user_model
        from django.db.models import Count, Max, Q

        agg = Trigger.objects.aggregate(n=Count("id"), a=Count("id", filter=Q(active=True)), u=Max("updated_at"))
        get_user_model().objects.filter(username=SYSTEM_USERNAME).values_list("id", flat=True).first()
        return agg

    return [
        ("lock_ticket (with requester, type)", lambda: ticket_sql.lock_ticket(ticket.pk),
         lambda: Ticket.objects.select_for_update(of=("self",)).select_related("requester", "type").get(pk=ticket.pk)),
        ("save_ticket_fields (priority, updated_at)", lambda: ticket_sql.save_ticket_fields(ticket, ["priority", "updated_at"]),
         lambda: ticket.save(update_fields=["priority", "updated_at"])),
        ("bump_agent_load", lambda: ticket_sql.bump_agent_load(load.agent_id, 0),
         lambda: AgentLoad.objects.filter(agent_id=load.agent_id).update(open_tickets=F("open_tickets") + 0)),
        ("first_level_tier", ticket_sql.first_level_tier, lambda: Tier.objects.filter(level=1).order_by("id").first()),
        ("message_by_id", lambda: ticket_sql.message_by_id(message.pk), lambda: Message.objects.filter(pk=message.pk).first()),
        ("tags_named (3)", lambda: ticket_sql.tags_named(names), lambda: list(Tag.objects.filter(name__in=names))),
        ("ticket_tags", lambda: (ticket_sql.forget_tags(ticket), ticket_sql.ticket_tags(ticket)),
         lambda: list(Ticket.objects.get(pk=ticket.pk).tags.all())),
        ("trigger_config", lambda: escalation_sql.trigger_config(SYSTEM_USERNAME), orm_config),
        ("find_by_id_or_name (group, locked, with tier)",
         lambda: escalation_sql.find_by_id_or_name(Group, group.name, lock=True, related=("tier",)),
         lambda: Group.objects.select_for_update(of=("self",)).select_related("tier").filter(name__iexact=group.name)
         .order_by("id").first()),
        ("online_members", lambda: escalation_sql.online_members(group.pk),
         lambda: list(group.members.filter(is_active=True).select_related("agent_profile"))),
    ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    setup_django(args.database_url)
    from django.db import transaction

    with transaction.atomic():
        for name, named, orm in cases():
            named(), orm()  # warm: prepared, compiled
            print(json.dumps({"statement": name, "named_us": round(timed(named, args.repeat), 1),
                              "orm_us": round(timed(orm, args.repeat), 1)}))
        transaction.set_rollback(True)


if __name__ == "__main__":
    main()
