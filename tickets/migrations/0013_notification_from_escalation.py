# Notification moves here from escalation (the state, then its table is
# renamed in place), and stores a kind and parameters instead of a text
# worded once in the writer's language: old texts become "message" ones.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models.functions import JSONObject

DELIVERY_FAILED = "The email to %(to)s on ticket #%(number)s could not be delivered."


def texts_to_params(apps, schema_editor):
    Notification = apps.get_model("tickets", "Notification")
    Notification.objects.update(kind="message", params=JSONObject(text=models.F("text")))


def params_to_texts(apps, schema_editor):
    Notification = apps.get_model("tickets", "Notification")
    for note in Notification.objects.only("id", "kind", "params").iterator():
        params = note.params or {}
        text = DELIVERY_FAILED % {"to": params.get("to", ""), "number": params.get("number", "")} \
            if note.kind == "delivery_failed" else str(params.get("text", ""))
        Notification.objects.filter(pk=note.pk).update(text=text[:500])


class Migration(migrations.Migration):

    dependencies = [
        ('tickets', '0012_teams_in_helpdesk'),
        ('escalation', '0007_teams_moved_to_helpdesk'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Notification',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('text', models.CharField(max_length=500, verbose_name='text')),
                        ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='created')),
                        ('read_at', models.DateTimeField(blank=True, null=True, verbose_name='read')),
                        ('ticket', models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to='tickets.ticket')),
                        ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='notifications', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': 'notification',
                        'verbose_name_plural': 'notifications',
                        'ordering': ['-id'],
                        'indexes': [models.Index(fields=['user', 'read_at'], name='notification_unread')],
                        'db_table': 'escalation_notification',
                    },
                ),
            ],
        ),
        migrations.AlterModelTable(name='notification', table=None),
        migrations.AddField(
            model_name='notification',
            name='kind',
            field=models.CharField(choices=[('message', 'message'), ('delivery_failed', 'delivery failed')], default='message', max_length=20, verbose_name='kind'),
        ),
        migrations.AddField(
            model_name='notification',
            name='params',
            field=models.JSONField(blank=True, default=dict, verbose_name='parameters'),
        ),
        migrations.RunPython(texts_to_params, params_to_texts),
        # Reversed, the text column comes back on the existing rows, then params_to_texts fills it.
        migrations.AlterField(
            model_name='notification',
            name='text',
            field=models.CharField(default='', max_length=500, verbose_name='text'),
        ),
        migrations.RemoveField(model_name='notification', name='text'),
    ]
