"""The rules of the legal-awareness talks (法令宣導, clause 8).

Clause 8 asks everyone to know the basics of three bodies of law and the school to tell
its teachers and students about them at its assemblies, at least once a semester: 8.1
intellectual property, 8.2 personal data and privacy, 8.3 the computer-crime chapter of
the Criminal Code. The security officer records each talk (when, at which assembly, for
whom, who spoke, the three topics ticked, the material as attachments); a talk that
leaves a topic out is refused naming it. A mistaken record is voided with a reason.

Every function validates first (``ValidationError`` field → zh-TW message citing the
clause, nothing saved), checks permission, takes the acting person and saves inside
``trail.as_actor``.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from isms.audit import trail
from isms.core import roc
from isms.core import services as core_services
from isms.core.access import has_role
from isms.core.roles import SECURITY_OFFICER

from .models import LegalTalk

DUTY = "awareness.legal_talk"
# (field, clause, topic) in the order of clause 8.
TOPICS = (
    ("covers_ip", "8.1", gettext_lazy("智慧財產權")),
    ("covers_privacy", "8.2", gettext_lazy("個人資料保護及隱私")),
    ("covers_computer_crime", "8.3", gettext_lazy("刑法妨害電腦使用罪章")),
)
# What a person enters on the form (or the API); the rest is the service's.
TALK_FIELDS = (
    "held_on",
    "occasion",
    "audience",
    "audience_count",
    "presenter",
    "covers_ip",
    "covers_privacy",
    "covers_computer_crime",
    "summary",
)
TEXT_FIELDS = ("occasion", "audience", "presenter", "summary")
KEPT_FIELDS = ("recorded_by_id", "created_at", "voided_at", "voided_by_id", "void_reason")
LIMITS = {
    name: LegalTalk._meta.get_field(name).max_length
    for name in ("occasion", "audience", "presenter")
}


def may_write(user) -> bool:
    """The security officer keeps the record of the talks (clause 8)."""
    return has_role(user, SECURITY_OFFICER)


def topic_label(field: str) -> str:
    for name, clause, topic in TOPICS:
        if name == field:
            return _("%(topic)s（%(clause)s）") % {"topic": topic, "clause": clause}
    raise KeyError(field)


def missing_topics(talk: LegalTalk) -> list[str]:
    """The fields of the topics the talk does not cover."""
    return [name for name, _clause, _topic in TOPICS if not getattr(talk, name)]


def topics_text(talk: LegalTalk) -> str:
    """The topics covered, in a line: 智慧財產權（8.1）、…"""
    return "、".join(topic_label(name) for name, _c, _t in TOPICS if getattr(talk, name))


def normalise(talk: LegalTalk) -> None:
    for name in TEXT_FIELDS:
        setattr(talk, name, (getattr(talk, name) or "").strip())
    for name, _clause, _topic in TOPICS:
        setattr(talk, name, bool(getattr(talk, name)))


def check_talk(talk: LegalTalk, *, today=None) -> dict:
    """Field errors of a talk as it would be saved (clause 8).

    1. 日期: given, not after today (Asia/Taipei), a day the ROC calendar can show.
    2. 集會場合, 對象, 宣導人: given, within the register's limits.
    3. All three topics of clause 8 ticked; each missing one named on its box, and all of
       them in one line above the form.
    """
    today = today or timezone.localdate()
    errors = {}
    if talk.held_on is None:
        errors["held_on"] = _("請填寫宣導日期（條文 8）。")
    elif talk.held_on > today:
        errors["held_on"] = _("宣導日期不可晚於今天；請於宣導後登錄（條文 8）。")
    elif talk.held_on < roc.MIN_DATE:
        errors["held_on"] = _("民國元年（1912 年）以前的日期無法以民國紀年表示。")
    required = {
        "occasion": _("請填寫宣導的集會場合，例如朝會、週會（條文 8「利用各集會場合」）。"),
        "audience": _("請填寫宣導對象，例如全校師生（條文 8）。"),
        "presenter": _("請填寫宣導人（條文 8）。"),
    }
    for name, message in required.items():
        if not getattr(talk, name):
            errors[name] = message
    for name, limit in LIMITS.items():
        value = getattr(talk, name) or ""
        if len(value) > limit and name not in errors:
            errors[name] = _("最多 %(limit)d 個字（目前 %(n)d 個字）。") % {
                "limit": limit,
                "n": len(value),
            }
    missing = missing_topics(talk)
    for name in missing:
        errors[name] = _("宣導須包含「%(topic)s」（條文 8 要求三項法令皆須宣導）。") % {
            "topic": topic_label(name)
        }
    if missing:
        errors["__all__"] = _(
            "本次宣導未包含：%(topics)s。條文 8 要求宣導 8.1、8.2、8.3 三項法令。"
        ) % {"topics": "、".join(topic_label(name) for name in missing)}
    return errors


@transaction.atomic
def talk_save(talk: LegalTalk, *, actor, today=None) -> LegalTalk:
    """Record a talk, or correct one not voided; who recorded it is kept."""
    if not may_write(actor):
        raise PermissionDenied
    if talk.pk is None:
        talk.recorded_by = actor
        talk.voided_at, talk.voided_by, talk.void_reason = None, None, ""
    else:
        stored = LegalTalk.objects.select_for_update().get(pk=talk.pk)
        if stored.voided_at is not None:
            raise ValidationError({"__all__": _("此宣導紀錄已作廢，不能修改。")})
        for name in KEPT_FIELDS:
            setattr(talk, name, getattr(stored, name))
    normalise(talk)
    errors = check_talk(talk, today=today)
    if errors:
        raise ValidationError(errors)
    with trail.as_actor(actor):
        talk.save()
    refresh_duty()
    return talk


@transaction.atomic
def talk_void(talk: LegalTalk, *, actor, reason: str) -> LegalTalk:
    """Void a mistaken record (never deleted); the semester duty is recomputed."""
    if not may_write(actor):
        raise PermissionDenied
    talk = LegalTalk.objects.select_for_update().get(pk=talk.pk)
    core_services.record_void(talk, actor=actor, reason=reason)
    refresh_duty()
    return talk


def refresh_duty() -> None:
    """Recompute the semester duty's state (derived data) at once."""
    from isms.compliance import engine

    engine.refresh(DUTY)
