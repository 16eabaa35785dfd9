"""The obligation registry: each app declares its duties in ``obligations.py``.

An app's ``obligations.py`` calls ``register(Obligation(...))`` at import; the compliance
app imports every installed app's ``obligations`` module at start-up (like admin.py), so
compliance never imports a module by name.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from .rhythms import Rhythm

REGISTRY: dict[str, "Obligation"] = {}


@dataclass(frozen=True)
class Obligation:
    """A recurring duty of the policy, for every subject it applies to.

    ``subjects()`` returns a queryset of the subjects (the school, each login, each system…).
    ``evidence(subjects)`` returns ``{subject pk: time of the last evidence}`` for those
    subjects with ONE aggregate query (e.g. ``.values("system").annotate(Max("done_at"))``),
    so the engine's query count does not grow with the number of subjects or records.
    """

    key: str
    clause: str
    title: str
    subjects: Callable
    evidence: Callable
    rhythm: Rhythm
    responsible_role: str
    due_soon_days: int = 7
    evidence_url: Callable | None = None  # subject → URL of the form that records evidence
    subject_url: Callable | None = None  # subject → URL of the subject
    description: str = ""
    # The longest reminder window a school may set.
    max_due_soon_days: int = 90
    # Who is reminded: by default everyone holding ``responsible_role``; a duty of each
    # person (their own password) names the subject's login instead.
    recipients: Callable | None = None
    # For the evidence binder: ``history(subjects, since, until)`` returns every piece of
    # evidence in [since, until] as (subject pk, moment) pairs with ONE query, and
    # ``subject_start`` names the attribute of a subject that says since when the duty
    # applied to it (a login's ``date_joined``): earlier periods are not counted missed.
    history: Callable | None = None
    subject_start: str = ""
    # A duty per event (rhythm ``Rhythm(period=EVENT)``): ``deadline(subjects)`` returns
    # {subject pk: due moment} with ONE query, ``evidence(subjects)`` when it was done;
    # reminders go out at each of ``reminders`` before the due moment and at it.
    deadline: Callable | None = None
    reminders: tuple = ()
    # The engine keeps a state for each of ``subjects()``; a duty whose subjects pile up
    # (every incident ever) gives the engine only those that still matter and names them
    # all here, for the evidence binder's look back over a range.
    all_subjects: Callable | None = None

    @property
    def app_label(self) -> str:
        return self.key.split(".", 1)[0]


# How long a done subject of an event duty keeps its state (and its line on the dashboard).
KEEP_DONE = dt.timedelta(days=30)


def pending_or_recent(subjects: Callable, done_field: str, keep=KEEP_DONE) -> Callable:
    """``subjects()`` narrowed to those not done yet or done within ``keep``: the engine's
    subjects of an event duty, whose ``all_subjects`` stay the whole ``subjects()``."""

    def read():
        recent = timezone.now() - keep
        return subjects().filter(
            Q(**{f"{done_field}__isnull": True}) | Q(**{f"{done_field}__gte": recent})
        )

    return read


def register(obligation: Obligation) -> Obligation:
    if (obligation.deadline is not None) != obligation.rhythm.is_event:
        raise ValueError(f"obligation {obligation.key}: a deadline goes with Rhythm(period=EVENT)")
    if obligation.key in REGISTRY and REGISTRY[obligation.key] != obligation:
        raise ValueError(f"obligation {obligation.key} registered twice")
    REGISTRY[obligation.key] = obligation
    return obligation


def unregister(key: str) -> None:
    REGISTRY.pop(key, None)


def autodiscover():
    autodiscover_modules("obligations")


def obligations() -> list[Obligation]:
    return sorted(REGISTRY.values(), key=lambda o: (clause_sort_key(o.clause), o.key))


def clause_sort_key(number: str) -> tuple:
    """2.4.1 before 2.10: clause numbers compare part by part, as numbers."""
    return tuple(int(p) if p.isdigit() else 0 for p in number.split("."))


# Records for the evidence binder ---------------------------------------------------------
RECORDS: dict[str, "Records"] = {}


@dataclass(frozen=True)
class Records:
    """A register as the evidence binder files it: under its clause, as CSV and XLSX.

    ``queryset()`` gives the rows (select_related what the columns read); ``columns`` are
    the register's export columns. With ``date_field`` only the records of the chosen
    range go in (a log: backups, reviews); without it the whole register as it stands at
    build time (a register: systems, assets, the contact table). ``obligations`` names
    the duties these records evidence, so the binder's index lists them under each duty.
    """

    key: str
    clause: str
    title: str
    queryset: Callable
    columns: tuple
    date_field: str = ""
    obligations: tuple[str, ...] = ()
    attachments: bool = True
    also_clauses: tuple[str, ...] = ()

    @classmethod
    def of(cls, register, **kwargs) -> "Records":
        """The binder's view of a ``Register``: its clause, export columns and rows."""
        model = register.model
        values = {
            "key": model._meta.label_lower,
            "clause": register.clause,
            "title": str(model._meta.verbose_name_plural),
            "queryset": register.base_queryset,
            "columns": tuple(register.export_columns()),
            "attachments": register.attachments,
        }
        values.update(kwargs)
        return cls(**values)

    @property
    def model(self):
        return self.queryset().model

    @property
    def clauses(self) -> tuple[str, ...]:
        return (self.clause, *self.also_clauses)


def register_records(records: Records) -> Records:
    if not records.clause:
        raise ValueError(f"records {records.key} name no clause")
    if records.key in RECORDS and RECORDS[records.key] != records:
        raise ValueError(f"records {records.key} registered twice")
    RECORDS[records.key] = records
    return records


def unregister_records(key: str) -> None:
    RECORDS.pop(key, None)


def records() -> list[Records]:
    return sorted(RECORDS.values(), key=lambda r: (clause_sort_key(r.clause), r.key))


# Periodic jobs of the modules ------------------------------------------------------------
# A module that must act on the passing of time (open the removal tasks of people whose
# leave date has come) registers ``job(now)`` here; the worker runs every job with its
# full refresh (every few minutes, one worker at a time). A job that must run more often
# (a sensor silent for N minutes) names its interval in seconds: ``every=60``; it then
# runs at most that often, whichever worker's pass comes first.
JOBS: dict[str, Callable] = {}
JOB_INTERVALS: dict[str, int] = {}


def register_job(name: str, job: Callable, every: int | None = None) -> None:
    if every is not None and every < 1:
        raise ValueError(f"job {name}: every must be at least one second")
    JOBS[name] = job
    if every is not None:
        JOB_INTERVALS[name] = every
    else:
        JOB_INTERVALS.pop(name, None)
