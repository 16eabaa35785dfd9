"""Demo data-subject requests for `isms demo`, through the services as the security officer:

- a graduate's request to view her school records, identity checked at the counter,
  granted and answered within the 15 days;
- a student's correction of her registered address made by her father (法定代理人),
  extended by 30 days with the reason sent in writing (the records are being checked with
  the registry section), not yet decided;
- a graduate's request by e-mail for a copy of his transcript records, identity checked,
  two days before its deadline.
"""

import datetime as dt

from django.db import transaction
from django.utils import timezone

from isms.audit import trail
from isms.core.models import User

from . import requests
from .models import PersonalDataFile, SubjectRequest

Kind = SubjectRequest.Kind
Channel = SubjectRequest.Channel
Decision = SubjectRequest.Decision


def _files(*words):
    """The demo inventory's files whose names hold one of ``words`` (none without it)."""
    found = []
    for word in words:
        found += list(PersonalDataFile.objects.active().filter(name__contains=word)[:1])
    return found


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def _receive(officer, day, received, saved, files, **fields) -> SubjectRequest:
    """A request received on ``day`` at ``received`` (hour, minute), entered at ``saved``,
    handled by the officer."""
    return requests.save_request(
        SubjectRequest(received_at=_at(day, *received), handler=officer, **fields),
        actor=officer,
        files=files,
        now=_at(day, *saved),
    )


def _check(officer, request, day, checked, noted, method) -> None:
    """The identity checked on ``day`` at ``checked``, entered at ``noted``."""
    requests.check_identity(
        request, actor=officer, method=method, checked_at=_at(day, *checked), now=_at(day, *noted)
    )


@transaction.atomic
def load_demo() -> None:
    if SubjectRequest.objects.exists():
        return
    officer = User.objects.filter(username="officer").first()
    if officer is None:
        return
    today = timezone.localdate()
    with trail.acting_as(officer):
        # 1. Answered in time: received 40 days ago, answered on the 7th day.
        day = today - dt.timedelta(days=40)
        viewed = _receive(
            officer,
            day,
            (10, 20),
            (10, 30),
            _files("學籍", "成績"),
            kind=Kind.VIEW,
            channel=Channel.COUNTER,
            requester_name="林怡君",
            requester_contact="新北市板橋區文化路一段 188 號 5 樓",
            details="請求閱覽本人 110 至 112 學年度在校期間之學籍及成績資料。",
        )
        _check(
            officer,
            viewed,
            day,
            (10, 25),
            (10, 30),
            "國民身分證正本核對",
        )
        decided = day + dt.timedelta(days=6)
        requests.decide(
            viewed,
            actor=officer,
            decision=Decision.GRANTED,
            decided_at=_at(decided, 15),
            now=_at(decided, 15, 5),
        )
        replied = day + dt.timedelta(days=7)
        requests.reply(
            viewed,
            actor=officer,
            method="當面交付",
            text="已於註冊組提供學籍及成績資料供請求人閱覽，並由請求人簽收。",
            replied_at=_at(replied, 10),
            now=_at(replied, 10, 5),
        )

        # 2. Extended: a correction (30 days), extended on the 20th day by 30 days.
        day = today - dt.timedelta(days=35)
        corrected = _receive(
            officer,
            day,
            (14, 40),
            (15,),
            _files("學籍"),
            kind=Kind.CORRECT,
            channel=Channel.LETTER,
            requester_name="張雅婷",
            requester_contact="新北市新莊區中正路 520 號",
            by_agent=True,
            agent_name="張志明",
            details="請更正學籍資料中之戶籍地址及緊急聯絡人電話（附戶口名簿影本）。",
        )
        checked = day + dt.timedelta(days=2)
        _check(
            officer,
            corrected,
            checked,
            (9,),
            (9, 5),
            "法定代理人國民身分證正本及戶口名簿影本核對",
        )
        extended = day + dt.timedelta(days=20)
        requests.extend(
            corrected,
            actor=officer,
            reason="戶籍地址變更須向戶政機關查證，並與註冊組原始學籍紀錄核對，無法於 30 日內完成。",
            notified_on=extended,
            now=_at(extended, 16),
        )

        # 3. Open near its deadline: a copy (15 days) received 13 days ago.
        day = today - dt.timedelta(days=13)
        copied = _receive(
            officer,
            day,
            (8, 50),
            (9,),
            _files("成績", "獎懲"),
            kind=Kind.COPY,
            channel=Channel.EMAIL,
            requester_name="黃冠宇",
            requester_contact="kuanyu.huang@example.com",
            details="請求製給本人 111 學年度畢業時之成績單及獎懲紀錄複製本各一份。",
        )
        checked = day + dt.timedelta(days=1)
        _check(
            officer,
            copied,
            checked,
            (12, 10),
            (12, 15),
            "請求人親至教務處出示國民身分證正本核對",
        )
