"""The asset duties (2.2, 2.2.3, 3.6, 4): each slice registers its own."""

from . import duties_commissioning, duties_inventory, duties_movements  # noqa: F401
