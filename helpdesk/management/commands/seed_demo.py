"""Idempotent demo data: an admin, agents, customers in two organizations,
ticket types and a few dozen multilingual tickets with conversations."""

import random

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from helpdesk.models import Organization
from tickets import services
from tickets.models import Priority, Status, Ticket, TicketEvent, TicketType

User = get_user_model()

DEMO_PASSWORD = "demo-pass-2026"

AGENTS = [
    ("anna", "Anna", "Petrova", "ru"),
    ("marco", "Marco", "Rossi", "it"),
    ("eleni", "Eleni", "Papadopoulou", "el"),
    ("sam", "Sam", "Carter", "en"),
]
ORGS = [
    ("Acme Printing", "acme.example", True),
    ("Βήτα Logistics", "vita.example", False),
]
CUSTOMERS = [
    ("olga@acme.example", "Ольга", "Смирнова", "ru", 0),
    ("luca@acme.example", "Luca", "Bianchi", "it", 0),
    ("nikos@vita.example", "Νίκος", "Γεωργίου", "el", 1),
    ("jane@vita.example", "Jane", "Doe", "en", 1),
    ("ivan@example.net", "Иван", "Кузнецов", "ru", None),
]
TYPES = [
    ("problem", "Something does not work as it should.", Priority.NORMAL),
    ("repair", "A device needs a repair or a replacement.", Priority.NORMAL),
    ("payment", "Invoices, refunds, charges.", Priority.HIGH),
    ("question", "How do I…?", Priority.LOW),
]
# Custom fields of the demo's types (shown in the ticket's properties panel
# and on the portal form), labelled in the demo's languages.
FIELDS = {
    "payment": [
        {"name": "order_id", "label": "Order number", "kind": "text",
         "labels": {"ru": "Номер заказа", "it": "Numero d'ordine", "el": "Αριθμός παραγγελίας"}},
        {"name": "amount", "label": "Amount (EUR)", "kind": "number",
         "labels": {"ru": "Сумма (EUR)", "it": "Importo (EUR)", "el": "Ποσό (EUR)"}},
    ],
    "repair": [
        {"name": "device", "label": "Device", "kind": "choice", "choices": ["Printer", "Scanner", "Laptop"],
         "labels": {"ru": "Устройство", "it": "Dispositivo", "el": "Συσκευή"}},
        {"name": "serial_number", "label": "Serial number", "kind": "text",
         "labels": {"ru": "Серийный номер", "it": "Numero di serie", "el": "Σειριακός αριθμός"}},
    ],
}
# Values for the demo tickets of those types, by subject.
FIELD_VALUES = {
    "Fattura duplicata per novembre": {"order_id": "INV-2026-11-0381", "amount": 129.9},
    "Возврат средств за заказ 4411": {"order_id": "4411", "amount": 58.0},
    "Ο σαρωτής χρειάζεται επισκευή": {"device": "Scanner", "serial_number": "SC-77120"},
    "Toner che perde": {"device": "Printer", "serial_number": "HP-4L-99310"},
}
CONVERSATIONS = [
    ("ru", "problem", "Принтер не печатает после обновления",
     "Здравствуйте! После обновления драйвера принтер HP LaserJet перестал печатать. Горит оранжевый индикатор.",
     ["Добрый день! Попробуйте, пожалуйста, выключить принтер на 30 секунд и переустановить драйвер.",
      "Спасибо, помогло! 🙏"]),
    ("it", "payment", "Fattura duplicata per novembre",
     "Buongiorno, ho ricevuto due fatture per lo stesso mese. Potete verificare?",
     ["Buongiorno Luca, abbiamo annullato la fattura duplicata. Riceverà il rimborso entro 5 giorni."]),
    ("el", "repair", "Ο σαρωτής χρειάζεται επισκευή",
     "Καλησπέρα, ο σαρωτής στο γραφείο 2 κάνει θόρυβο και μπλοκάρει το χαρτί.",
     ["Γεια σας Νίκο, στέλνουμε τεχνικό την Πέμπτη."]),
    ("en", "question", "How do I add a second user to our account?",
     "Hi, we hired a new colleague. How can she log in to the portal and see our tickets?",
     []),
    ("en", "problem", "Login page shows an error 🔥",
     "Since this morning the login page says 'Something went wrong'. Screenshot attached in my head.",
     ["Thanks Jane, we are looking into it.", "Any news? It still fails."]),
    ("ru", "payment", "Возврат средств за заказ 4411",
     "Прошу вернуть деньги за заказ 4411, товар не пришёл.", []),
    ("it", "repair", "Toner che perde",
     "Il toner nuovo perde polvere dentro la stampante.", ["Le inviamo un toner sostitutivo."]),
    ("el", "question", "Ερώτηση για την εγγύηση",
     "Ισχύει η εγγύηση αν ο εκτυπωτής αγοράστηκε στο εξωτερικό;", []),
]
# Shared macros (canned replies): name, text, status on send, tags to add.
MACROS = [
    ("Ask for details",
     "Hello {requester_first_name},\n\nthank you for your message about “{ticket_subject}”. To help you quickly, "
     "could you tell us the device model, what you see on its display and since when it happens? "
     "A photo helps too.\n\nBest regards,\n{agent_first_name}",
     Status.PENDING, []),
    ("Solved: toner replaced",
     "Hello {requester_first_name},\n\nwe replaced the toner cartridge and the printer works again. If the problem "
     "comes back, simply reply to this message and ticket #{ticket_number} reopens.\n\nBest regards,\n"
     "{agent_first_name}",
     Status.SOLVED, ["toner"]),
    ("Thanks, we are on it",
     "Hello {requester_first_name},\n\nthanks for reporting this. We are looking into it and will get back to you "
     "shortly.\n\n{agent_first_name}",
     Status.OPEN, []),
]
STATUS_CYCLE = [Status.NEW, Status.OPEN, Status.PENDING, Status.OPEN, Status.SOLVED, Status.ON_HOLD, Status.OPEN]


class Command(BaseCommand):
    help = "Create (or refresh) demo users, organizations, ticket types and tickets. Idempotent."

    def handle(self, *args, **options):
        with transaction.atomic():
            admin = self._user("admin", "Ada", "Admin", User.Role.ADMIN, "en", email="admin@helpdesk.localhost")
            agents = [self._user(u, f, last, User.Role.AGENT, lang, email=f"{u}@helpdesk.localhost")
                      for u, f, last, lang in AGENTS]
            orgs = []
            for name, domain, shares in ORGS:
                # Auto-join: a demo customer who signs up and confirms an address at the domain joins.
                org, _ = Organization.objects.get_or_create(
                    name=name, defaults={"domain": domain, "shares_tickets": shares,
                                         "join_policy": Organization.JoinPolicy.AUTO})
                orgs.append(org)
            customers = [
                self._user(email, f, last, User.Role.CUSTOMER, lang, email=email, organization=orgs[o] if o is not None else None)
                for email, f, last, lang, o in CUSTOMERS
            ]
            types = {}
            for i, (name, description, prio) in enumerate(TYPES):
                types[name], _ = TicketType.objects.get_or_create(
                    name=name, defaults={"description": description, "default_priority": prio, "position": i})
                if name in FIELDS and not types[name].field_definitions:
                    types[name].field_definitions = FIELDS[name]
                    types[name].save(update_fields=["field_definitions"])
            self._escalation_demo()
            self._chat_demo(with_chat=False)
            self._macros(admin)
            self._mailbox_demo()
            articles = self._knowledge_base(admin, agents)
            types = {name: TicketType.objects.get(pk=t.pk) for name, t in types.items()}  # with routing defaults
            created = 0
            if not Ticket.objects.exists():
                created = self._tickets(agents, customers, types)
                self._route_new_tickets()
                self._chat_demo(with_chat=True)
                # The rest of the demo's history is not live traffic: no
                # notifications or trigger runs for it when the worker starts.
                TicketEvent.objects.filter(processed_at__isnull=True).update(processed_at=timezone.now())
        self.stdout.write(self.style.SUCCESS(f"Demo data ready ({created} tickets, {articles} articles created)."))
        self.stdout.write(f"Logins (password for all: {DEMO_PASSWORD}):")
        self.stdout.write(f"  admin    {admin.username:<22} → /admin/ and /agent/")
        for a in agents:
            self.stdout.write(f"  agent    {a.username:<22} → /agent/")
        for c in customers:
            self.stdout.write(f"  customer {c.email:<22} → /portal/")

    def _user(self, username, first, last, role, lang, email, organization=None):
        user, created = User.objects.get_or_create(
            username=username, defaults={"first_name": first, "last_name": last, "role": role, "language": lang,
                                         "email": email, "organization": organization,
                                         "email_verified_at": timezone.now()})
        if user.email_verified_at is None:  # seeded before addresses were confirmed
            user.email_verified_at = timezone.now()
            user.save(update_fields=["email_verified_at"])
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        return user

    def _macros(self, admin):
        from tickets.models import Macro

        for name, body, status, tags in MACROS:
            if not Macro.objects.filter(owner__isnull=True, name=name).exists():
                services.create_macro(actor=admin, name=name, body=body, shared=True, set_status=status, add_tags=tags)

    def _knowledge_base(self, admin, agents):
        """The demo's articles; Anna (an agent) edits the knowledge base too."""
        from knowledgebase.demo import seed

        anna = agents[0]
        if not anna.kb_editor:
            anna.kb_editor = True
            anna.save(update_fields=["kb_editor"])
        return seed(admin)

    def _escalation_demo(self):
        try:
            from escalation.demo import seed_escalation_demo
        except ImportError:
            return
        seed_escalation_demo()

    def _mailbox_demo(self):
        """One inactive IMAP mailbox, so that /admin/ shows the shape of one."""
        from channels_inbox.demo import seed_mailbox_demo

        seed_mailbox_demo()

    def _chat_demo(self, *, with_chat):
        """Chat routes and the agents' chat capacity; one ended chat with the demo's first tickets."""
        try:
            from channels_inbox.demo import seed_chat_demo
        except ImportError:
            return
        seed_chat_demo(with_chat=with_chat)

    def _route_new_tickets(self):
        """The tickets nobody has touched are routed by the demo's triggers as
        if they had just arrived (the engine alone: no mail to the demo's
        customers), so the demo shows who got what, and why."""
        try:
            from escalation.engine import run_triggers
        except ImportError:
            return
        from tickets.tasks import process_events

        ids = list(TicketEvent.objects.filter(processed_at__isnull=True, ticket__status=Status.NEW)
                   .values_list("id", flat=True))
        process_events(ids, handlers=[run_triggers])

    def _tickets(self, agents, customers, types):
        rng = random.Random(42)
        by_lang = {}
        for c in customers:
            by_lang.setdefault(c.language, []).append(c)
        count = 0
        for round_ in range(4):
            for i, (lang, type_name, subject, body, replies) in enumerate(CONVERSATIONS):
                requester = rng.choice(by_lang.get(lang) or customers)
                suffix = "" if round_ == 0 else f" ({round_ + 1})"
                ticket = services.create_ticket(requester=requester, subject=subject + suffix, body=body,
                                                type=types[type_name], language=lang,
                                                custom_fields=FIELD_VALUES.get(subject))
                count += 1
                agent = agents[(i + round_) % len(agents)]
                target = STATUS_CYCLE[(i + round_) % len(STATUS_CYCLE)]
                if target == Status.NEW:
                    continue
                services.assign_ticket(ticket=ticket, actor=agent, assignee=agent)
                if i % 3 == 0:
                    services.add_message(ticket=ticket, author=agent, internal=True,
                                         body="Checked the logs: the customer's account looks fine.")
                for j, text in enumerate(replies):
                    author = agent if j % 2 == 0 else requester
                    services.add_message(ticket=ticket, author=author, body=text)
                if rng.random() < 0.3:
                    services.add_tags(ticket=ticket, actor=agent, tags=[rng.choice(["vip", "printer", "billing", "bug"])])
                ticket.refresh_from_db()
                if ticket.status != target and ticket.can_transition_to(target):
                    services.change_status(ticket=ticket, actor=agent, status=target)
        return count
