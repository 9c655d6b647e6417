# Slot reserved in the migration chain; filled by the change that owns it.
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("tendering", "0005_opening")]

    operations: list = []
