"""The vendors duties (5.1, 6.1, 6.2): each slice registers its own."""

from . import duties_agreements, duties_vendors  # noqa: F401
