# Tickets, ticket types and macros point at the teams in their new app (the
# state only: the tables and their foreign keys stay as they are).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('tickets', '0011_search_vectors_and_saved_views'),
        ('helpdesk', '0004_teams_from_escalation'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='tickettype',
                    name='default_tier',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, help_text='New tickets of this type start here (L1 when empty).', related_name='+', to='helpdesk.tier', verbose_name='default tier'),
                ),
                migrations.AlterField(
                    model_name='tickettype',
                    name='default_group',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='helpdesk.group', verbose_name='default group'),
                ),
                migrations.AlterField(
                    model_name='ticket',
                    name='tier',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='tickets', to='helpdesk.tier', verbose_name='tier'),
                ),
                migrations.AlterField(
                    model_name='ticket',
                    name='group',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='tickets', to='helpdesk.group', verbose_name='group'),
                ),
                migrations.AlterField(
                    model_name='macro',
                    name='groups',
                    field=models.ManyToManyField(blank=True, help_text='Shared macros only: the members of these groups may use it; empty: every agent.', related_name='macros', to='helpdesk.group', verbose_name='limited to groups'),
                ),
                migrations.AlterField(
                    model_name='macro',
                    name='set_group',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='helpdesk.group', verbose_name='set group'),
                ),
            ],
        ),
    ]
