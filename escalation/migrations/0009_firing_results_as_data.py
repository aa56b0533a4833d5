from django.db import migrations, models


class Migration(migrations.Migration):
    """TriggerFiring.actions_done becomes `results` (what each action did, as
    data) in the same column: old rows keep their sentences, shown as they are."""

    dependencies = [
        ("escalation", "0008_notification_moved_to_tickets"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RenameField(model_name="triggerfiring", old_name="actions_done", new_name="results"),
                migrations.AlterField(
                    model_name="triggerfiring", name="results",
                    field=models.JSONField(db_column="actions_done", default=list, verbose_name="actions done"),
                ),
            ],
            database_operations=[],
        ),
    ]
