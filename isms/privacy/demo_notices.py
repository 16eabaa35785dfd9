"""Demo activity notices for `isms demo` (clause 7.3), through the service:

- the student affairs office's 校慶園遊會報名 (written by the security officer for them):
  stall holders' names are published, so the notice says so and the consent covers it;
- the IT section's 寒假資安營隊 (written by the system administrator, of that section):
  health records for the camp's safety, nothing published.
"""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from isms.audit import trail
from isms.core.models import Unit, User

from . import notices
from .models import ActivityNotice, CategoryCode, PurposeCode


def _codes(model, *codes):
    return list(model.objects.filter(code__in=codes, is_active=True).order_by("code"))


def _winter_camp(today: dt.date) -> tuple[dt.date, dt.date]:
    """Three days of the coming winter break (late January)."""
    year = today.year + 1 if today.month >= 2 else today.year
    return dt.date(year, 1, 21), dt.date(year, 1, 23)


@transaction.atomic
def load_demo() -> None:
    if ActivityNotice.objects.exists():
        return
    officer = User.objects.filter(username="officer").first()
    sysadmin = User.objects.filter(username="sysadmin").first()
    student = Unit.objects.filter(code="student").first()
    it = Unit.objects.filter(code="it").first()
    categories = _codes(CategoryCode, "C001", "C011", "C051")
    if officer is None or student is None or not categories:
        return
    today = timezone.localdate()
    fair = today + dt.timedelta(days=20)
    with trail.acting_as(officer):
        notices.save_notice(
            ActivityNotice(
                activity="115 學年度校慶園遊會攤位報名",
                unit=student,
                purpose="辦理校慶園遊會攤位報名、攤位分配、活動聯繫及投保活動平安保險",
                period="自報名日起至活動結束後一年",
                area=notices.default_area(),
                recipients="本校、協辦之家長會及承保之保險公司",
                method=(
                    "報名聯繫、攤位安排及投保；於校園公告欄及本校網站公布各攤位負責班級及學生姓名"
                ),
                publishes_names=True,
                consequence=notices.default_consequence(),
                contact="學生事務處訓育組（分機 231，電子郵件 activity@kpvs.ntpc.edu.tw）",
                held_from=fair,
                held_to=fair,
            ),
            actor=officer,
            categories=categories,
            purposes=_codes(PurposeCode, "109", "158"),
        )
    if sysadmin is None or it is None:
        return
    start, end = _winter_camp(today)
    with trail.acting_as(sysadmin):
        notices.save_notice(
            ActivityNotice(
                activity="寒假資安營隊報名",
                unit=it,
                purpose="辦理營隊報名、錄取通知、分組、活動期間之安全照護及投保",
                period="自報名日起至營隊結束後六個月",
                area=notices.default_area(),
                recipients="本校及承保之保險公司",
                method="以電子郵件或電話通知錄取；投保活動平安保險；不對外公布",
                publishes_names=False,
                consequence=(
                    "您可自由選擇是否提供；未提供緊急聯絡人或健康狀況者，本校無法安排"
                    "活動期間之照護，將無法錄取參加本營隊。"
                ),
                contact="圖書館資訊組 張先生（分機 602）",
                held_from=start,
                held_to=end,
            ),
            actor=sysadmin,
            categories=_codes(CategoryCode, "C001", "C011", "C051", "C111"),
            purposes=_codes(PurposeCode, "109"),
        )
