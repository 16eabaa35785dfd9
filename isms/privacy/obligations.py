"""The privacy duties (clause 7; PDPA arts. 12, 13, 17): each slice registers its own."""

from . import (  # noqa: F401
    duties_inventory,
    duties_leaks,
    duties_publishing,
    duties_requests,
    duties_transfers,
)
