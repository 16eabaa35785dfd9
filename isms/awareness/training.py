"""The rules of security training (資訊安全教育訓練, clause 5.2): sessions, attendance, the
sign-in sheet import, each person's hours per calendar year and the school's requirements.

- A session (教育訓練) has a title, a date (not before 民國元年, at most a year ahead: a
  planned session may be entered before it is held), hours between 0.5 and 40 and a kind
  (管理、通識、專業). Its hours or date cannot move so that an attendance would count more
  hours than the session, or so that people attended a session not yet held.
- Attendance (出席紀錄) is recorded only for a session held today or earlier and not voided,
  for active people (在職, not voided), once per person and session; the hours counted are
  the session's unless the person left early (more than 0, never more than the session's).
- A sign-in sheet (簽到表, CSV in UTF-8 or Big5, or XLSX) with the columns 姓名 and 單位
  and/or 電子郵件 is matched row by row to active people. A row whose name is unknown, or
  matches several people the unit or e-mail does not tell apart, is reported with its line
  and reason; nothing is applied until every such row is skipped explicitly, and the
  preview applied is the one seen (its digest).
- Hours count per calendar year (Asia/Taipei; a session's date decides the year), voided
  sessions left out. A requirement (教育訓練時數要求) says how many hours of which kinds a
  group needs a year: role "" applies to every active person with an active login, a role
  code to the holders of that role. A person meets it when the hours of those kinds reach it.
- Requirements: hours 0.5–200, kinds a non-empty subset of the training kinds, role "" or
  a known role code, one requirement per role.

Only the security officer (資安業務承辦人) writes; every function validates before it
writes (``ValidationError`` field → zh-TW message citing the clause; nothing saved),
checks permission and takes the acting person for the audit trail.
"""

import datetime as dt
import hashlib
import json
import unicodedata
from collections import defaultdict
from decimal import Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.audit import trail
from isms.core import roc, tabular
from isms.core.access import has_role
from isms.core.models import Person
from isms.core.roles import ROLES, SECURITY_OFFICER
from isms.core.services import record_void

from .models import Attendance, TrainingKind, TrainingRequirement, TrainingSession

CLAUSE = "5.2"
DUTY = "awareness.training_hours"
WRITERS = frozenset({SECURITY_OFFICER})
SESSION_HOURS = (Decimal("0.5"), Decimal("40"))
REQUIREMENT_HOURS = (Decimal("0.5"), Decimal("200"))
# A planned session may be entered at most this far ahead.
MAX_AHEAD = dt.timedelta(days=366)
KINDS = tuple(TrainingKind.values)
ZERO = Decimal("0")


def may_write(user) -> bool:
    """The security officer keeps sessions, attendance and requirements (5.2)."""
    return has_role(user, *WRITERS)


def _require_writer(actor) -> None:
    if not may_write(actor):
        raise PermissionDenied


def _refresh() -> None:
    """Recompute the hours duty at once (the worker would, within minutes)."""
    from isms.compliance import engine

    engine.refresh(DUTY)


def _decimal(value):
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _strip(obj, *names) -> None:
    for name in names:
        value = getattr(obj, name)
        setattr(obj, name, value.strip() if isinstance(value, str) else "")


def _too_long(obj, names, errors: dict) -> None:
    for name in names:
        limit = type(obj)._meta.get_field(name).max_length
        if limit and len(getattr(obj, name) or "") > limit and name not in errors:
            errors[name] = _("最多 %(limit)d 個字。") % {"limit": limit}


def active_people():
    """People who may attend: in service (在職) and not voided."""
    return Person.objects.active().filter(status=Person.Status.ACTIVE)


# Sessions (5.2) -----------------------------------------------------------------------------------
def session_errors(session: TrainingSession, today: dt.date | None = None) -> dict:
    today = today or timezone.localdate()
    errors = {}
    _strip(session, "title", "organizer", "location", "notes")
    if not session.title:
        errors["title"] = _("請填寫課程名稱（條文 5.2）。")
    held_on = session.held_on
    if not isinstance(held_on, dt.date):
        errors["held_on"] = _("請填寫日期（條文 5.2）。")
    elif held_on < roc.MIN_DATE:
        errors["held_on"] = _("日期不可早於民國元年。")
    elif held_on > today + MAX_AHEAD:
        errors["held_on"] = _("日期最多只能是一年內預定辦理的課程（條文 5.2）。")
    hours = _decimal(session.hours)
    low, high = SESSION_HOURS
    if hours is None:
        errors["hours"] = _("請填寫時數（條文 5.2）。")
    elif not low <= hours <= high or hours != hours.quantize(Decimal("0.1")):
        errors["hours"] = _("時數須介於 0.5 到 40 小時之間，以 0.1 小時為單位（條文 5.2）。")
    else:
        session.hours = hours
    if session.kind not in KINDS:
        errors["kind"] = _("請選擇類別：管理、通識或專業教育訓練（條文 5.2）。")
    _too_long(session, ("title", "organizer", "location"), errors)
    if session.pk is not None and not errors:
        counted = Attendance.objects.filter(session_id=session.pk)
        if counted.filter(hours__gt=session.hours).exists():
            errors["hours"] = _("已有出席者認列的時數多於此時數，請先修正出席紀錄（條文 5.2）。")
        if held_on > today and counted.exists():
            errors["held_on"] = _("已登錄出席的課程，日期不可改到今天之後（條文 5.2）。")
    return errors


@transaction.atomic
def save_session(session: TrainingSession, *, actor) -> TrainingSession:
    """Create or change a session after its checks."""
    _require_writer(actor)
    if session.pk is not None:
        stored = TrainingSession.objects.select_for_update().filter(pk=session.pk).first()
        if stored is not None and stored.voided_at is not None:
            raise ValidationError({"__all__": _("此教育訓練已作廢，不能修改。")})
    else:
        session.voided_at, session.voided_by, session.void_reason = None, None, ""
    if errors := session_errors(session):
        raise ValidationError(errors)
    with trail.as_actor(actor):
        session.save()
    _refresh()
    return session


@transaction.atomic
def void_session(session: TrainingSession, *, actor, reason: str) -> TrainingSession:
    """Void a session entered in error; its attendance stops counting."""
    _require_writer(actor)
    record_void(session, actor=actor, reason=reason)
    _refresh()
    return session


# Attendance (5.2) ---------------------------------------------------------------------------------
def _session_open(session: TrainingSession, today: dt.date) -> None:
    if session.voided_at is not None:
        raise ValidationError({"__all__": _("此教育訓練已作廢，不能登錄出席。")})
    if session.held_on > today:
        raise ValidationError(
            {"people": _("課程尚未辦理，辦理當天或之後才能登錄出席（條文 5.2）。")}
        )


def _hours_error(hours, session) -> str | None:
    if hours is None:
        return _("請填寫認列時數。")
    if hours <= ZERO:
        return _("認列時數須大於 0。")
    if hours > session.hours:
        return _("認列時數不可多於課程時數 %(hours)s 小時（條文 5.2）。") % {"hours": session.hours}
    if hours != hours.quantize(Decimal("0.1")):
        return _("認列時數以 0.1 小時為單位。")
    return None


@transaction.atomic
def record_attendance(session: TrainingSession, people, *, actor, hours=None, today=None):
    """Record that ``people`` (Person records or their ids) attended ``session``, each
    counting ``hours`` (the session's by default). All or nothing; one audit entry each."""
    _require_writer(actor)
    today = today or timezone.localdate()
    session = TrainingSession.objects.select_for_update().get(pk=session.pk)
    _session_open(session, today)
    ids = [p.pk if isinstance(p, Person) else int(p) for p in people]
    errors = {}
    if not ids:
        errors["people"] = _("請選擇出席人員。")
    elif len(set(ids)) != len(ids):
        errors["people"] = _("同一人員選了兩次。")
    counted = session.hours if hours in (None, "") else _decimal(hours)
    if error := _hours_error(counted, session):
        errors["hours"] = error
    if not errors:
        found = dict(active_people().filter(pk__in=ids).values_list("pk", "name"))
        missing = [pk for pk in ids if pk not in found]
        if missing:
            errors["people"] = _("只能登錄在職人員的出席。")
        else:
            already = list(
                Attendance.objects.filter(session=session, person_id__in=ids)
                .order_by("person__name")
                .values_list("person__name", flat=True)
            )
            if already:
                errors["people"] = _("已登錄過出席：%(names)s。") % {"names": "、".join(already)}
    if errors:
        raise ValidationError(errors)
    actor_user = actor if getattr(actor, "pk", None) else None
    rows = Attendance.objects.bulk_create(
        [
            Attendance(session=session, person_id=pk, hours=counted, recorded_by=actor_user)
            for pk in ids
        ]
    )
    trail.record_many(
        [
            ("create", row, {"person": [None, row.person_id], "hours": [None, str(counted)]})
            for row in rows
        ],
        actor=actor,
    )
    _refresh()
    return rows


@transaction.atomic
def change_attendance(attendance: Attendance, *, hours, actor) -> Attendance:
    """Correct the hours counted for one attendance (left early)."""
    _require_writer(actor)
    session = attendance.session
    if session.voided_at is not None:
        raise ValidationError({"__all__": _("此教育訓練已作廢，不能修改出席紀錄。")})
    counted = _decimal(hours)
    if error := _hours_error(counted, session):
        raise ValidationError({"hours": error})
    attendance.hours = counted
    with trail.as_actor(actor):
        attendance.save(update_fields=["hours"])
    _refresh()
    return attendance


@transaction.atomic
def remove_attendance(attendance: Attendance, *, actor) -> None:
    """Take back an attendance recorded in error (its certificates go with it)."""
    _require_writer(actor)
    if attendance.session.voided_at is not None:
        raise ValidationError({"__all__": _("此教育訓練已作廢，不能修改出席紀錄。")})
    with trail.as_actor(actor):
        attendance.delete()
    _refresh()


# The sign-in sheet (簽到表) ---------------------------------------------------------------------
SHEET_FIELDS = ("name", "unit", "email")
SHEET_LABELS = {
    "name": gettext_lazy("姓名"),
    "unit": gettext_lazy("單位"),
    "email": gettext_lazy("電子郵件"),
}
SHEET_GUESSES = {
    "name": ("姓名", "名字", "簽名", "簽到", "人員", "name", "fullname"),
    "unit": ("單位", "處室", "服務單位", "部門", "unit", "department", "office"),
    "email": ("電子郵件", "電子信箱", "email", "e-mail", "mail", "信箱"),
}
# The header row is looked for in the first lines (a sheet may have a title above it).
HEADER_SEARCH_LINES = 10
SHEET_TYPE_ERROR = gettext_lazy("只接受 CSV 或 XLSX 格式的簽到表（.%(ext)s）。")
# Why a row cannot be applied (stored as codes; the page shows the reason).
REASONS = {
    "no_name": gettext_lazy("沒有姓名。"),
    "unknown": gettext_lazy("找不到此姓名的在職人員。"),
    "ambiguous": gettext_lazy("有多位同名的在職人員，單位或電子郵件無法分辨。"),
    "email_mismatch": gettext_lazy("電子郵件與此姓名的人員不符。"),
    "twice": gettext_lazy("同一人員在簽到表出現兩次。"),
    "already": gettext_lazy("已登錄過出席。"),
}
# Rows the apply leaves out without being asked (not a problem: nothing to do).
BENIGN = frozenset({"already"})


def _key(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text or "").split()).lower()


def check_sheet(upload) -> str:
    """The file kind (csv or xlsx) of an uploaded sheet after the size and content checks."""
    return tabular.check_file(upload, SHEET_TYPE_ERROR)


def read_sheet(data: bytes, kind: str, encoding: str = "") -> tuple[list[dict], str]:
    """(rows as {line, name, unit, email}, the encoding used); FileError when unreadable."""
    if kind == "csv" and not encoding:
        encoding = tabular.detect_encoding(data) or "cp950"
    mapping = tabular.inspect(data, kind, encoding, fields=SHEET_FIELDS, guesses=SHEET_GUESSES)
    if mapping["columns"].get("name") is None:  # a title above the header: find the header
        names = set(SHEET_GUESSES["name"])
        for line, cells in tabular.table(data, kind, encoding, mapping["delimiter"]):
            if line > HEADER_SEARCH_LINES:
                break
            if any(tabular.compact(tabular.cell_text(c)) in names for c in cells):
                mapping = tabular.inspect(
                    data, kind, encoding, line, fields=SHEET_FIELDS, guesses=SHEET_GUESSES
                )
                break
    columns = mapping["columns"]
    if columns.get("name") is None:
        raise tabular.FileError(_("簽到表須有「姓名」欄（標題列）。"))
    rows = []
    for line, cells in tabular.data_rows(data, mapping, encoding):
        rows.append(
            {
                "line": line,
                **{f: tabular.cell_text(tabular.cell(cells, columns.get(f))) for f in SHEET_FIELDS},
            }
        )
    if not rows:
        raise tabular.FileError(_("簽到表沒有任何出席者。"))
    return rows, encoding


def _directory():
    """Active people by name key, with their unit name and e-mail (one query)."""
    people = defaultdict(list)
    for pk, name, unit, email in active_people().values_list("pk", "name", "unit__name", "email"):
        people[_key(name)].append({"id": pk, "name": name, "unit": unit or "", "email": email})
    return people


def _match(row: dict, people: dict) -> tuple[dict | None, str]:
    """(the person of a row, or None with the reason code)."""
    if not row["name"]:
        return None, "no_name"
    found = people.get(_key(row["name"]), [])
    if not found:
        return None, "unknown"
    if row["email"]:
        by_mail = [p for p in found if _key(p["email"]) == _key(row["email"])]
        if len(by_mail) == 1:
            return by_mail[0], ""
        if len(found) == 1 and found[0]["email"]:
            return None, "email_mismatch"
    if len(found) > 1 and row["unit"]:
        found = [p for p in found if _key(p["unit"]) == _key(row["unit"])] or found
    if len(found) > 1:
        return None, "ambiguous"
    return found[0], ""


def match_sheet(session: TrainingSession, rows: list[dict]) -> dict:
    """The preview: each row with its person or the reason it cannot be applied, in a
    constant number of queries; ``digest`` identifies it for the apply."""
    people = _directory()
    attended = set(Attendance.objects.filter(session=session).values_list("person_id", flat=True))
    seen = {}
    out = []
    for row in rows:
        person, reason = _match(row, people)
        entry = {**row, "person": None, "reason": reason}
        if person is not None:
            entry["person"] = {"id": person["id"], "name": person["name"], "unit": person["unit"]}
            if person["id"] in attended:
                entry["reason"] = "already"
            elif person["id"] in seen:
                entry["reason"] = "twice"
            else:
                seen[person["id"]] = row["line"]
        out.append(entry)
    preview = {
        "rows": out,
        "ready": sum(1 for e in out if not e["reason"]),
        "bad": [e["line"] for e in out if e["reason"] and e["reason"] not in BENIGN],
    }
    preview["digest"] = hashlib.sha256(
        json.dumps(out, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()
    return preview


def reason_text(code: str) -> str:
    return str(REASONS.get(code, code))


class Stale(ValidationError):
    """The sheet matched again differs from the preview seen; look at it again."""


@transaction.atomic
def apply_sheet(
    session: TrainingSession,
    *,
    data: bytes,
    kind: str,
    encoding: str,
    digest_seen: str,
    skip=(),
    actor,
    today=None,
) -> list[Attendance]:
    """Record the attendance of every matched row: all or nothing.

    Refused (ValidationError, nothing written) while a row that cannot be matched is not
    in ``skip`` (its line number), and as ``Stale`` when the preview is not the one seen.
    """
    _require_writer(actor)
    today = today or timezone.localdate()
    session = TrainingSession.objects.select_for_update().get(pk=session.pk)
    _session_open(session, today)
    rows, _used = read_sheet(data, kind, encoding)
    preview = match_sheet(session, rows)
    if preview["digest"] != digest_seen:
        raise Stale(_("出席紀錄或人員資料在預覽後有變動，已重新比對；請再檢視預覽後匯入。"))
    skipped = {int(line) for line in skip}
    unresolved = [line for line in preview["bad"] if line not in skipped]
    if unresolved:
        raise ValidationError(
            {
                "skip": _(
                    "第 %(lines)s 行無法對應到人員；請修正簽到表後重新上傳，或勾選略過這些行"
                    "（條文 5.2）。"
                )
                % {"lines": "、".join(str(line) for line in unresolved)}
            }
        )
    ids = [e["person"]["id"] for e in preview["rows"] if not e["reason"]]
    if not ids:
        raise ValidationError({"__all__": _("簽到表沒有可登錄的出席者。")})
    return record_attendance(session, ids, actor=actor, today=today)


# Requirements (5.2) -------------------------------------------------------------------------------
def requirement_errors(requirement: TrainingRequirement) -> dict:
    errors = {}
    _strip(requirement, "role", "notes")
    if requirement.role and requirement.role not in ROLES:
        errors["role"] = _("適用角色須為全體人員或系統中的角色。")
    elif (
        TrainingRequirement.objects.filter(role=requirement.role)
        .exclude(pk=requirement.pk or 0)
        .exists()
    ):
        errors["role"] = _("此角色已有時數要求，請修改原有的要求。")
    kinds = requirement.kinds
    if (
        not isinstance(kinds, list | tuple)
        or not kinds
        or any(k not in KINDS for k in kinds)
        or len(set(kinds)) != len(kinds)
    ):
        errors["kinds"] = _("請至少選擇一種認列類別（管理、通識、專業）。")
    else:
        requirement.kinds = [k for k in KINDS if k in kinds]
    hours = _decimal(requirement.hours)
    low, high = REQUIREMENT_HOURS
    if hours is None:
        errors["hours"] = _("請填寫每年時數（條文 5.2）。")
    elif not low <= hours <= high or hours != hours.quantize(Decimal("0.1")):
        errors["hours"] = _("每年時數須介於 0.5 到 200 小時之間，以 0.1 小時為單位。")
    else:
        requirement.hours = hours
    _too_long(requirement, ("notes",), errors)
    return errors


@transaction.atomic
def save_requirement(requirement: TrainingRequirement, *, actor) -> TrainingRequirement:
    _require_writer(actor)
    if errors := requirement_errors(requirement):
        raise ValidationError(errors)
    with trail.as_actor(actor):
        requirement.save()
    _refresh()
    return requirement


def role_label(code: str) -> str:
    return str(ROLES[code][0]) if code in ROLES else str(_("全體教職員"))


def kind_labels(kinds) -> str:
    labels = dict(TrainingKind.choices)
    return "、".join(str(labels[k]) for k in KINDS if k in (kinds or ()))


# Hours per person per year ----------------------------------------------------------------------
def year_range(year: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def counted_attendance(year: int):
    """Attendance that counts in ``year``: sessions of that calendar year, not voided."""
    first, last = year_range(year)
    return Attendance.objects.filter(
        session__voided_at__isnull=True, session__held_on__gte=first, session__held_on__lte=last
    )


def hours_by_person(year: int, people=None) -> dict:
    """{person id: {kind: hours}} of one year, in one aggregate query."""
    rows = counted_attendance(year)
    if people is not None:
        rows = rows.filter(person__in=people)
    out = defaultdict(dict)
    for pk, kind, total in (
        rows.values("person_id", "session__kind")
        .annotate(total=Sum("hours"))
        .values_list("person_id", "session__kind", "total")
    ):
        out[pk][kind] = total
    return out


def staff():
    """Active people with an active login: those the requirements speak of."""
    return active_people().filter(user__is_active=True)


def roles_by_person(people=None) -> dict:
    """{person id: role codes of their active login}, one query."""
    logins = get_user_model().objects.filter(person__isnull=False, is_active=True)
    if people is not None:
        logins = logins.filter(person__in=people)
    out = defaultdict(set)
    for pk, role in logins.values_list("person_id", "groups__name"):
        out[pk]
        if role:
            out[pk].add(role)
    return out


def requirements() -> list[TrainingRequirement]:
    return list(TrainingRequirement.objects.order_by("role", "id"))


def applies(requirement: TrainingRequirement, roles) -> bool:
    return requirement.role == "" or requirement.role in roles


def standing(hours: dict, roles, reqs) -> list[dict]:
    """Each requirement that applies: the hours counted for it, met or short by how much."""
    out = []
    for req in reqs:
        if not applies(req, roles):
            continue
        counted = sum((hours.get(k, ZERO) for k in req.kinds), ZERO)
        short = max(req.hours - counted, ZERO)
        out.append({"requirement": req, "counted": counted, "short": short, "met": not short})
    return out


def hours_report(year: int, *, unit=None, short_only=False) -> dict:
    """The year's hours of every active staff member with a login: by kind, each
    requirement met or short, and per unit how many fall short — in constant queries."""
    people = staff().select_related("unit").order_by("unit__name", "name", "pk")
    if unit is not None:
        people = people.filter(unit=unit)
    people = list(people)
    ids = [p.pk for p in people]
    hours = hours_by_person(year, ids)
    roles = roles_by_person(ids)
    reqs = requirements()
    rows = []
    units = {}
    for person in people:
        by_kind = hours.get(person.pk, {})
        lines = standing(by_kind, roles.get(person.pk, set()), reqs)
        short = [line for line in lines if not line["met"]]
        key = person.unit_id or 0
        summary = units.setdefault(
            key, {"unit": person.unit, "people": 0, "short": 0, "hours": ZERO}
        )
        summary["people"] += 1
        summary["short"] += bool(short)
        total = sum(by_kind.values(), ZERO)
        summary["hours"] += total
        if short_only and not short:
            continue
        rows.append(
            {
                "person": person,
                "by_kind": [by_kind.get(k, ZERO) for k in KINDS],
                "total": total,
                "standing": lines,
                "met": not short,
            }
        )
    return {
        "year": year,
        "rows": rows,
        "units": sorted(units.values(), key=lambda u: (u["unit"] is None, str(u["unit"] or ""))),
        "requirements": reqs,
        "short_count": sum(u["short"] for u in units.values()),
        "people_count": len(people),
    }


def person_hours(person, year: int) -> dict:
    """One person's year: the sessions attended, hours by kind and each requirement."""
    attended = list(
        counted_attendance(year)
        .filter(person=person)
        .select_related("session")
        .order_by("session__held_on", "id")
    )
    by_kind = defaultdict(lambda: ZERO)
    for a in attended:
        by_kind[a.session.kind] += a.hours
    roles = roles_by_person([person.pk]).get(person.pk, set())
    lines = standing(by_kind, roles, requirements())
    return {
        "attended": attended,
        "by_kind": [(TrainingKind(k).label, by_kind.get(k, ZERO)) for k in KINDS],
        "total": sum(by_kind.values(), ZERO),
        "standing": lines,
        "met": all(line["met"] for line in lines),
    }


# The duty: the year's hours met by December 31 ------------------------------------------------
def duty_year(now: dt.datetime | None = None) -> int:
    """The year the duty looks at: the current calendar year (Asia/Taipei), except in
    January, when the year just ended is still shown (met, or overdue)."""
    today = timezone.localtime(now or timezone.now()).date()
    return today.year - 1 if today.month == 1 else today.year


def year_deadline(year: int) -> dt.datetime:
    """The last second of December 31 (Asia/Taipei)."""
    end = timezone.make_aware(dt.datetime.combine(dt.date(year + 1, 1, 1), dt.time.min))
    return end - dt.timedelta(seconds=1)


def duty_people():
    """The people a requirement applies to (every staff member with a login when there is a
    requirement for everyone; else the holders of the roles that have one)."""
    roles = set(TrainingRequirement.objects.values_list("role", flat=True))
    people = staff()
    if "" in roles:
        return people.order_by("pk")
    return (
        people.filter(user__groups__name__in=roles).distinct().order_by("pk")
        if roles
        else people.none()
    )


def met_moments(year: int, people=None) -> dict:
    """{person id: the moment (the start of the day of the session whose attendance crossed
    the last of their requirements)} for those who met every requirement in ``year``; a
    constant number of queries (attendance, logins, requirements)."""
    reqs = requirements()
    roles = roles_by_person(people)
    rows = counted_attendance(year)
    if people is not None:
        rows = rows.filter(person__in=people)
    running = defaultdict(lambda: defaultdict(lambda: ZERO))
    crossed = defaultdict(dict)  # person → requirement id → date
    for pk, kind, held_on, hours in rows.order_by("session__held_on", "session_id").values_list(
        "person_id", "session__kind", "session__held_on", "hours"
    ):
        running[pk][kind] += hours
        for req in reqs:
            if req.pk in crossed[pk] or not applies(req, roles.get(pk, set())):
                continue
            if sum((running[pk][k] for k in req.kinds), ZERO) >= req.hours:
                crossed[pk][req.pk] = held_on
    out = {}
    for pk, dates in crossed.items():
        needed = [r.pk for r in reqs if applies(r, roles.get(pk, set()))]
        if needed and all(r in dates for r in needed):
            day = max(dates[r] for r in needed)
            out[pk] = timezone.make_aware(dt.datetime.combine(day, dt.time.min))
    return out
