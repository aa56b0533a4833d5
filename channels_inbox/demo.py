"""Demo data of the channels for seed_demo: an inactive mailbox (the admin shows what one holds without
polling); chat routes (pricing pages → Billing L1, Russian → Support L1), the demo agents' chat capacity,
and one ended, rated chat, so the ticket page and the queue show a chat ticket. Idempotent."""

from django.contrib.auth import get_user_model
from django.utils import timezone

from helpdesk.models import AgentProfile, Group
from tickets.models import TicketType

from .chat import services
from .models import ChatAgentPresence, ChatRoute, ChatSession, Mailbox

DEMO_MAILBOX = "Support inbox (demo)"


def seed_mailbox_demo() -> Mailbox:
    """The demo mailbox, created once (an admin's later edits stay)."""
    box, _created = Mailbox.objects.get_or_create(name=DEMO_MAILBOX, defaults={
        "host": "imap.example.com", "port": 993, "security": Mailbox.Security.SSL,
        "username": "support@example.com", "password": "change-me", "email_address": "support@example.com",
        "ticket_type": TicketType.objects.filter(name="question").first(), "active": False,
    })
    return box


ROUTES = [  # (name, position, url_prefix, language, group)
    ("Pricing pages → Billing L1", 10, "/pricing", "", "Billing L1"),
    ("Russian → Support L1", 20, "", "ru", "Support L1"),
]
CAPACITY = {"anna": 4, "sam": 3, "marco": 2, "eleni": 2}
LINES = [  # (who, text)
    ("agent", "Здравствуйте, Иван! Какая модель принтера?"),
    ("visitor", "LaserJet M404, пишет «замятие бумаги», но бумаги внутри нет."),
    ("agent", "Откройте заднюю крышку и проверьте ролик подачи: там часто застревает обрывок."),
    ("visitor", "Нашёл кусочек, печатает. Спасибо!"),
]


def seed_chat_demo(*, with_chat: bool) -> None:
    """Routes and capacity; the demo chat once, when asked (seed_demo's first run: its events are history)."""
    for name, position, url_prefix, language, group_name in ROUTES:
        group = Group.objects.filter(name=group_name).first()
        if group is not None and not ChatRoute.objects.filter(name=name).exists():
            ChatRoute.objects.create(name=name, position=position, url_prefix=url_prefix, language=language,
                                     group=group)
    for username, capacity in CAPACITY.items():
        AgentProfile.objects.filter(user__username=username).update(max_concurrent_chats=capacity)
    if with_chat and not ChatSession.objects.exists():
        _ended_chat()


def _ended_chat() -> None:
    users = get_user_model().objects
    anna, ivan = users.filter(username="anna").first(), users.filter(email="ivan@example.net").first()
    if anna is None or ivan is None:
        return
    # Anna counts as connected for the offer only (nobody's socket is open while seeding).
    presence, created = ChatAgentPresence.objects.get_or_create(user=anna)
    sockets = presence.sockets
    ChatAgentPresence.objects.filter(pk=presence.pk).update(sockets=1, seen_at=timezone.now())
    try:
        session = services.start_chat(user=ivan, message="Принтер пишет «замятие бумаги»",
                                      page_url="https://shop.example/help/printers", page_title="Printers: help",
                                      language="ru")
        services.accept_offer(session=session.pk, agent=anna)
    finally:
        if created:
            ChatAgentPresence.objects.filter(pk=presence.pk).delete()
        else:
            ChatAgentPresence.objects.filter(pk=presence.pk).update(sockets=sockets)
    for n, (who, text) in enumerate(LINES, 1):
        author = anna if who == "agent" else ivan
        services.post_message(session=session.pk, author=author, role=who, body=text, client_id=f"demo-{n}")
    services.rate_chat(session=session.pk, score=5, comment="Быстро и по делу")
    services.end_chat(session=session.pk, by=anna)
