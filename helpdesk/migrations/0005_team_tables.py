# The teams' tables take this app's names (with the group members' table);
# rows, keys and the foreign keys that point at them are kept.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('helpdesk', '0004_teams_from_escalation'),
        ('escalation', '0007_teams_moved_to_helpdesk'),
    ]

    operations = [
        migrations.AlterModelTable(name='tier', table=None),
        migrations.AlterModelTable(name='group', table=None),
        migrations.AlterModelTable(name='agentprofile', table=None),
    ]
