"""The school's starting requirements and self-check items (editable afterwards)."""

from decimal import Decimal

from django.db import migrations

REQUIREMENTS = [
    ("", ["awareness", "management", "professional"], Decimal("3"), "全體教職員每年至少 3 小時資通安全通識教育訓練"),
    ("security_officer", ["management", "professional"], Decimal("12"), "資安業務承辦人每年至少 12 小時資通安全專業課程訓練或職能訓練"),
]
ITEMS = [
    ("下班或離開座位時，桌面未留置公務機密或含個人資料之文件（公文、學籍資料等）", "2.3.1"),
    ("電腦不使用時已鎖定螢幕或啟用螢幕保護並設有密碼", "2.3.2"),
    ("個人資料檔案使用完畢後，已立即退出應用程式", "7.5"),
    ("含個資之紙本文件未放置於公共區域明顯處，亦未回收再使用（做為回收紙）", "7.7"),
]


def add(apps, schema_editor):
    Requirement = apps.get_model("awareness", "TrainingRequirement")
    Item = apps.get_model("awareness", "SelfCheckItem")
    for role, kinds, hours, notes in REQUIREMENTS:
        Requirement.objects.get_or_create(role=role, defaults={"kinds": kinds, "hours": hours, "notes": notes})
    if not Item.objects.exists():
        for order, (text, clause) in enumerate(ITEMS, start=1):
            Item.objects.create(text=text, clause=clause, order=order)


class Migration(migrations.Migration):
    dependencies = [("awareness", "0001_initial")]

    operations = [migrations.RunPython(add, migrations.RunPython.noop)]
