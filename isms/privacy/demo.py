"""Demo privacy records for `isms demo`: each slice adds its own (demo_<slice>.py)."""

import importlib
import importlib.util

from django.db import transaction

SLICES = ("codes", "inventory", "notices", "publishing", "transfers", "requests", "leaks")


@transaction.atomic
def load_demo() -> None:
    for name in SLICES:
        if importlib.util.find_spec(f"{__package__}.demo_{name}") is None:
            continue
        importlib.import_module(f"{__package__}.demo_{name}").load_demo()
