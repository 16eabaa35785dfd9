"""The official code lists (法務部「個人資料保護法之特定目的及個人資料之類別」, as amended
2012-10-01), loaded from isms/privacy/data/*.csv. A code already there keeps its state in
use and takes the file's name; nothing is deleted. Later changes to the lists go through
`isms privacy-codes import` or the import page (docs/privacy-codes.md)."""

import csv
from pathlib import Path

from django.db import migrations

DATA = Path(__file__).resolve().parent.parent / "data"
LISTS = (
    ("PurposeCode", "purposes.csv", ("name",)),
    ("CategoryCode", "categories.csv", ("group", "name", "description")),
)


def rows(filename):
    with open(DATA / filename, encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            code = (row.get("code") or "").strip()
            if code:
                yield code, {k: (v or "").strip() for k, v in row.items() if k != "code"}


def load(apps, schema_editor):
    for model_name, filename, fields in LISTS:
        model = apps.get_model("privacy", model_name)
        kept = {obj.code: obj for obj in model.objects.all()}
        new, changed = [], []
        for code, values in rows(filename):
            obj = kept.get(code)
            if obj is None:
                new.append(model(code=code, **{f: values.get(f, "") for f in fields}))
                continue
            if any(getattr(obj, f) != values.get(f, "") for f in fields):
                for f in fields:
                    setattr(obj, f, values.get(f, ""))
                changed.append(obj)
        model.objects.bulk_create(new)
        if changed:
            model.objects.bulk_update(changed, list(fields))


class Migration(migrations.Migration):
    dependencies = [("privacy", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
