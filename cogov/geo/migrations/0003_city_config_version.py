from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('geo', '0002_verbose_names'),
    ]

    operations = [
        migrations.AddField(
            model_name='city',
            name='config_version',
            field=models.PositiveIntegerField(db_default=0, default=0, editable=False, verbose_name='配置版本'),
        ),
    ]
