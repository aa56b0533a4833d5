# Tier, Group and AgentProfile now live in helpdesk (its 0004): removed from
# this app's state only, their tables are kept.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('escalation', '0006_webhook_deliveries'),
        ('helpdesk', '0004_teams_from_escalation'),
        ('tickets', '0012_teams_in_helpdesk'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='AgentProfile'),
                migrations.DeleteModel(name='Group'),
                migrations.DeleteModel(name='Tier'),
            ],
        ),
    ]
