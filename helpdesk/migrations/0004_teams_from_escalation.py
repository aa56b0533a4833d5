# The teams (Tier, Group, AgentProfile) move here from escalation: the state
# only, on the tables escalation created; 0005 then renames the tables.

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('helpdesk', '0003_signup_verification'),
        # The tables exist: a fresh database creates them in escalation's migrations.
        ('escalation', '0006_webhook_deliveries'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Tier',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('level', models.PositiveSmallIntegerField(unique=True, validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(4)], verbose_name='level')),
                        ('name', models.CharField(max_length=50, verbose_name='name')),
                        ('description', models.TextField(blank=True, verbose_name='description')),
                    ],
                    options={
                        'verbose_name': 'tier',
                        'verbose_name_plural': 'tiers',
                        'ordering': ['level'],
                        'db_table': 'escalation_tier',
                    },
                ),
                migrations.CreateModel(
                    name='Group',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=100, unique=True, verbose_name='name')),
                        ('description', models.TextField(blank=True, verbose_name='description')),
                        ('tier', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='groups', to='helpdesk.tier', verbose_name='tier')),
                        ('members', models.ManyToManyField(blank=True, limit_choices_to={'role__in': ['agent', 'admin']}, related_name='agent_groups', to=settings.AUTH_USER_MODEL, verbose_name='members')),
                        ('lead', models.ForeignKey(blank=True, limit_choices_to={'role__in': ['agent', 'admin']}, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='led_groups', to=settings.AUTH_USER_MODEL, verbose_name='lead')),
                        ('last_assigned', models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'group',
                        'verbose_name_plural': 'groups',
                        'ordering': ['tier__level', 'name'],
                        'db_table': 'escalation_group',
                    },
                ),
                migrations.CreateModel(
                    name='AgentProfile',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('skills', models.JSONField(blank=True, default=list, help_text='Tags such as a language (ru) or a product (printers).', verbose_name='skills')),
                        ('max_open_tickets', models.PositiveIntegerField(default=20, verbose_name='capacity: open tickets')),
                        ('max_concurrent_chats', models.PositiveIntegerField(default=3, verbose_name='capacity: concurrent chats')),
                        ('presence', models.CharField(choices=[('online', 'Online'), ('away', 'Away'), ('offline', 'Offline')], default='online', max_length=10, verbose_name='presence')),
                        ('presence_changed_at', models.DateTimeField(auto_now_add=True, verbose_name='presence changed')),
                        ('user', models.OneToOneField(limit_choices_to={'role__in': ['agent', 'admin']}, on_delete=django.db.models.deletion.CASCADE, related_name='agent_profile', to=settings.AUTH_USER_MODEL, verbose_name='agent')),
                    ],
                    options={
                        'verbose_name': 'agent profile',
                        'verbose_name_plural': 'agent profiles',
                        'db_table': 'escalation_agentprofile',
                    },
                ),
            ],
        ),
    ]
