"""Running numbers per ROC year for records people cite (``115-003``, ``A3-115-0007``)."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from isms.audit import trail

from . import roc


def year_prefix(template: str, now=None) -> str:
    """``template`` with the ROC year of today (Asia/Taipei): ``"A3-{year}-"``."""
    return template.format(year=roc.roc_year(timezone.localdate(now or timezone.now())))


def next_number(model, prefix: str, width: int, field: str = "number") -> str:
    """The next free ``prefix`` + zero-padded running number among ``model``'s records."""
    taken = model._default_manager.filter(**{f"{field}__startswith": prefix}).values_list(
        field, flat=True
    )
    last = max((int(n[len(prefix) :]) for n in taken if n[len(prefix) :].isdigit()), default=0)
    return f"{prefix}{last + 1:0{width}d}"


def insert_numbered(obj, *, template: str, width: int, actor, field: str = "number"):
    """Save a new record under the next free number; if another took it meanwhile (the
    unique constraint says so), take the following one."""
    for _attempt in range(5):
        setattr(obj, field, next_number(type(obj), year_prefix(template), width, field))
        try:
            with transaction.atomic(), trail.as_actor(actor):
                obj.save()
            return obj
        except IntegrityError:
            obj.pk = None
    raise IntegrityError(f"no free {type(obj)._meta.verbose_name} number")
