"""Demo paper transfers for `isms demo` (clause 7.6), through the service, as the people who
hand the papers over: the teachers' appraisal file sealed from 人事室 to the principal and
confirmed the same day; a list of senior students for 新北市政府教育局 sent unsealed in a
confidential-document pouch, its receipt recorded from the bureau's signed slip; and the
library's overdue-borrowers list handed to a teacher a week ago, still not confirmed
(逾期未確認)."""

import datetime as dt

from django.utils import timezone

from isms.core.models import User

from . import transfers
from .models import PaperTransfer


def load_demo() -> None:
    if PaperTransfer.objects.exists():
        return
    people = {u.username: u for u in User.objects.filter(username__in=USERNAMES)}
    if set(people) != set(USERNAMES):
        return
    now = timezone.now()
    local = timezone.localtime(now)
    day = local.replace(hour=10, minute=0, second=0, microsecond=0)
    # 1. Sealed, to the principal, confirmed an hour later.
    appraisal = transfers.transfer_save(
        PaperTransfer(
            what="114 學年度教師成績考核資料（含考核評語）",
            copies=1,
            sealed=True,
            recipient=people["principal"],
            handed_at=day - dt.timedelta(days=12),
            notes="送校長室核章後退回人事室",
        ),
        actor=people["personnel"],
    )
    transfers.transfer_confirm(
        appraisal, actor=people["principal"], now=day - dt.timedelta(days=12, hours=-1)
    )
    # 2. Unsealed, in a pouch, to the bureau; its receipt from the signed slip.
    bureau = transfers.transfer_save(
        PaperTransfer(
            what="高三學生升學輔導調查名冊（含姓名、班級、聯絡電話）",
            copies=1,
            sealed=False,
            protection="裝入機密公文袋並以公文交換由專人遞送",
            external_recipient="新北市政府教育局中等教育科",
            handed_at=day - dt.timedelta(days=5, hours=1),
        ),
        actor=people["teacher"],
    )
    transfers.transfer_confirm(
        bureau,
        actor=people["teacher"],
        received_at=day - dt.timedelta(days=4, hours=2),
        receipt_note="教育局收發室簽收單（收文號 1150041872）",
        now=day - dt.timedelta(days=4),
    )
    # 3. Handed a week ago, never confirmed: flagged 逾期未確認 and reminded.
    transfers.transfer_save(
        PaperTransfer(
            what="圖書館借閱逾期學生名單（含班級、姓名、聯絡電話）",
            copies=2,
            sealed=True,
            recipient=people["teacher"],
            handed_at=day - dt.timedelta(days=7, hours=-4),
        ),
        actor=people["supervisor"],
    )


USERNAMES = ("personnel", "principal", "teacher", "supervisor")
