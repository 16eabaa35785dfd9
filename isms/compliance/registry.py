"""The obligation registry: each app declares its duties in ``obligations.py``.

An app's ``obligations.py`` calls ``register(Obligation(...))`` at import; the compliance
app imports every installed app's ``obligations`` module at start-up (like admin.py), so
compliance never imports a module by name.
"""

from collections.abc import Callable
from dataclasses import dataclass

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

    @property
    def app_label(self) -> str:
        return self.key.split(".", 1)[0]


def register(obligation: Obligation) -> Obligation:
    if obligation.key in REGISTRY and REGISTRY[obligation.key] != obligation:
        raise ValueError(f"obligation {obligation.key} registered twice")
    REGISTRY[obligation.key] = obligation
    return obligation


def unregister(key: str) -> None:
    REGISTRY.pop(key, None)


def autodiscover():
    autodiscover_modules("obligations")


def obligations() -> list[Obligation]:
    return sorted(REGISTRY.values(), key=lambda o: (o.clause, o.key))
