from django.conf import settings
from django.db import migrations


def create_counter(apps, schema_editor):
    TicketCounter = apps.get_model("tickets", "TicketCounter")
    TicketCounter.objects.get_or_create(pk=1, defaults={"last_number": settings.HELPDESK_FIRST_TICKET_NUMBER})


def create_trigram_index(apps, schema_editor):
    # Subject search (icontains → UPPER(subject) LIKE '%…%') needs a trigram
    # index to stay fast at a million tickets. PostgreSQL only; the SQLite demo
    # scans, which is fine at demo sizes.
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS ticket_subject_trgm ON tickets_ticket USING gin (UPPER(subject) gin_trgm_ops)"
    )


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS ticket_subject_trgm")


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial")]

    operations = [
        migrations.RunPython(create_counter, migrations.RunPython.noop),
        migrations.RunPython(create_trigram_index, drop_trigram_index),
    ]
