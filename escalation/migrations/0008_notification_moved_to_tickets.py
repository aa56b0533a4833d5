# Notification now lives in tickets (its 0013): removed from this app's state only.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('escalation', '0007_teams_moved_to_helpdesk'),
        ('tickets', '0013_notification_from_escalation'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='Notification')],
        ),
    ]
