from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0006_payment_status_event_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="refund",
            name="status_event_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
