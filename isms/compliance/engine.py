"""The due engine: every obligation × subject, its last evidence, next due date and status.

``refresh()`` recomputes states from the records, a constant number of queries per
obligation whatever the number of subjects or records. ``run_due()`` is the worker's pass:
it takes the states whose stored next moment of interest has passed (an indexed query, no
scan), claims each with a conditional update so that several workers never act twice, and
queues reminders.
"""

import datetime as dt
import logging

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from isms.core import roc
from isms.core.models import SchoolProfile
from isms.core.services import site_url

from . import registry
from .models import ObligationSetting, ObligationState
from .rhythms import Rhythm, deadline_evaluator, evaluator

logger = logging.getLogger(__name__)
REMIND = {"due_soon", "overdue", "never_done"}
FIELDS = [
    "clause",
    "subject_label",
    "responsible_role",
    "status",
    "last_done_at",
    "next_due_at",
    "next_check_at",
    "period_end",
]
RETRY_BROKEN = dt.timedelta(hours=1)
FULL_REFRESH_SECONDS = 300


def term_starts() -> dict:
    return roc.profile_term_starts(SchoolProfile.load())


def effective(obligation, overrides=None) -> tuple[Rhythm, int]:
    """The rhythm and reminder window in force: the school's setting, else the policy's."""
    if overrides is None:
        overrides = {s.key: s for s in ObligationSetting.objects.filter(key=obligation.key)}
    setting = overrides.get(obligation.key)
    if setting is None:
        return obligation.rhythm, obligation.due_soon_days
    return Rhythm.parse(setting.rhythm), setting.due_soon_days


def status_function(obligation, rhythm, window, now, starts):
    """(last evidence, due moment) → Evaluation, built once per duty and pass."""
    if obligation.deadline is not None:
        return deadline_evaluator(now, obligation.reminders)
    periodic = evaluator(rhythm, now, window, starts)
    return lambda last, due=None: periodic(last)


def subject_type(obj) -> str:
    return obj._meta.label_lower


def refresh(key: str | None = None, now: dt.datetime | None = None) -> dict:
    """Recompute the states of one obligation (or all) from the records.

    1. Read the school's semester starts and the settings (2 queries).
    2. Per obligation: its subjects (1 query), the last evidence per subject (1 aggregate
       query), the stored states (1 query).
    3. Compute each subject's status in memory; write only the states that changed
       (bulk, in batches of 1000) and delete those whose subject is gone.
    4. A state that newly needs a reminder gets ``next_check_at = now`` so the worker's next
       pass sends it.
    """
    now = now or timezone.now()
    starts = term_starts()
    overrides = {s.key: s for s in ObligationSetting.objects.all()}
    counts = {"created": 0, "updated": 0, "deleted": 0, "subjects": 0}
    for obligation in registry.obligations():
        if key is not None and obligation.key != key:
            continue
        try:
            _refresh_one(obligation, now, starts, overrides, counts)
        except Exception:  # one broken obligation must not stop the others
            logger.exception("refreshing obligation %s failed", obligation.key)
    return counts


@transaction.atomic
def _refresh_one(obligation, now, starts, overrides, counts):
    rhythm, window = effective(obligation, overrides)
    status_of = status_function(obligation, rhythm, window, now, starts)
    subjects_qs = obligation.subjects()
    subjects = list(subjects_qs)
    last = obligation.evidence(subjects_qs)
    dues = obligation.deadline(subjects_qs) if obligation.deadline is not None else {}
    stored = {s.subject_id: s for s in ObligationState.objects.filter(key=obligation.key)}
    create, update = [], []
    seen = set()
    for subject in subjects:
        sid = str(subject.pk)
        seen.add(sid)
        ev = status_of(last.get(subject.pk), dues.get(subject.pk))
        values = {
            "clause": obligation.clause,
            "subject_label": str(subject)[:200],
            "responsible_role": obligation.responsible_role,
            "status": ev.status,
            "last_done_at": last.get(subject.pk),
            "next_due_at": ev.next_due_at,
            "next_check_at": ev.next_check_at,
            "period_end": ev.period_end,
        }
        state = stored.get(sid)
        if state is None:
            if ev.status in REMIND:
                values["next_check_at"] = now
            create.append(
                ObligationState(
                    key=obligation.key, subject_type=subject_type(subject), subject_id=sid, **values
                )
            )
            continue
        if ev.status in REMIND and ev.status != state.status:
            values["next_check_at"] = now
        elif state.next_check_at is not None and state.next_check_at <= now:
            # A look the worker has not taken yet (a reminder to send) is kept.
            values["next_check_at"] = state.next_check_at
        if any(getattr(state, f) != v for f, v in values.items()):
            for f, v in values.items():
                setattr(state, f, v)
            update.append(state)
    ObligationState.objects.bulk_create(create, batch_size=1000)
    ObligationState.objects.bulk_update(update, FIELDS, batch_size=1000)
    gone = [sid for sid in stored if sid not in seen]
    if gone:
        ObligationState.objects.filter(key=obligation.key, subject_id__in=gone).delete()
    counts["created"] += len(create)
    counts["updated"] += len(update)
    counts["deleted"] += len(gone)
    counts["subjects"] += len(subjects)


def recipients_for(obligation, state, role_cache):
    """Who is reminded of this state: the obligation's own choice, else the role holders."""
    if obligation.recipients is not None:
        return list(obligation.recipients(state))
    role = obligation.responsible_role
    if role not in role_cache:
        role_cache[role] = list(
            get_user_model().objects.filter(groups__name=role, is_active=True).distinct()
        )
    return role_cache[role]


def reminder_text(obligation, state) -> tuple[str, str]:
    status = ObligationState.Status(state.status).label
    due = roc.format_roc_datetime(state.next_due_at) if state.next_due_at else "—"
    subject = _("【校園資安管理平台】%(status)s：%(title)s（條文 %(clause)s）") % {
        "status": status,
        "title": obligation.title,
        "clause": obligation.clause,
    }
    link = ""
    if obligation.evidence_url is not None:
        link = site_url(obligation.evidence_url(state))
    body = _(
        "%(title)s\n條文：%(clause)s\n對象：%(subject)s\n狀態：%(status)s\n到期：%(due)s\n%(link)s"
    ) % {
        "title": obligation.title,
        "clause": obligation.clause,
        "subject": state.subject_label,
        "status": status,
        "due": due,
        "link": link,
    }
    return subject, body.strip()


def run_jobs(now) -> None:
    """The modules' periodic jobs (registry.register_job); one failing does not stop others."""
    for name, job in sorted(registry.JOBS.items()):
        _run_job(name, job, now)


def run_frequent_jobs(now) -> None:
    """The jobs with their own interval: each runs when its interval has passed since it
    last ran in any worker (a cache key per job, taken with ``add``)."""
    for name, every in sorted(registry.JOB_INTERVALS.items()):
        job = registry.JOBS.get(name)
        if job is not None and cache.add(f"isms:job:{name}", now.isoformat(), every):
            _run_job(name, job, now)


def _run_job(name, job, now) -> None:
    try:
        job(now)
    except Exception:
        logger.exception("job %s failed", name)


def run_due(now: dt.datetime | None = None, limit: int = 500) -> int:
    """The worker's pass: re-evaluate the states whose next look has come; queue reminders.

    1. Take the states with ``next_check_at <= now`` (indexed), oldest first.
    2. Claim each: ``UPDATE … SET next_check_at = now + 1 min WHERE id = … AND
       next_check_at = <the value read>`` — only the worker whose update counted goes on.
    3. Re-evaluate from the stored last evidence; save status, due date and next look.
    4. For a state that needs attention, queue one reminder per recipient, de-duplicated
       by obligation, subject, status and reminder cycle (never queued twice).
    5. A state that fails is looked at again in an hour; the pass carries on.
    """
    from isms.notifications import services as notifications

    now = now or timezone.now()
    # Evidence recorded outside the services that refresh their obligation is picked up
    # by a full refresh every few minutes, by whichever worker gets there first.
    run_frequent_jobs(now)
    if cache.add("isms:compliance:refreshed", now.isoformat(), FULL_REFRESH_SECONDS):
        run_jobs(now)
        refresh(now=now)
    starts = term_starts()
    overrides = {s.key: s for s in ObligationSetting.objects.all()}
    role_cache: dict = {}
    status_of: dict = {}  # obligation key → its evaluator, built once per pass
    handled = 0
    due = list(
        ObligationState.objects.filter(next_check_at__lte=now).order_by("next_check_at")[:limit]
    )
    for state in due:
        claimed = ObligationState.objects.filter(
            pk=state.pk, next_check_at=state.next_check_at
        ).update(next_check_at=now + dt.timedelta(minutes=1))
        if claimed != 1:
            continue
        obligation = registry.REGISTRY.get(state.key)
        try:
            if obligation is None:
                raise LookupError(f"no obligation {state.key}")
            if state.key not in status_of:
                rhythm, window = effective(obligation, overrides)
                status_of[state.key] = status_function(obligation, rhythm, window, now, starts)
            ev = status_of[state.key](state.last_done_at, state.next_due_at)
            ObligationState.objects.filter(pk=state.pk).update(
                status=ev.status,
                next_due_at=ev.next_due_at,
                next_check_at=ev.next_check_at,
                period_end=ev.period_end,
            )
            state.status, state.next_due_at, state.period_end = (
                ev.status,
                ev.next_due_at,
                ev.period_end,
            )
            if ev.status in REMIND:
                subject, body = reminder_text(obligation, state)
                cycle = ev.period_end.isoformat() if ev.period_end else "-"
                for user in recipients_for(obligation, state, role_cache):
                    notifications.notify(
                        recipient=user,
                        subject=subject,
                        body=body,
                        dedup_key=(
                            f"obl:{state.key}:{state.subject_id}:{ev.status}:{cycle}:{user.pk}"
                        )[:200],
                        urgent=ev.status == "overdue",
                    )
            handled += 1
        except Exception:
            logger.exception("evaluating obligation state %s failed", state.pk)
            ObligationState.objects.filter(pk=state.pk).update(next_check_at=now + RETRY_BROKEN)
    return handled
