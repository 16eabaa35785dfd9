"""The operations duties (2.4.1, 2.4.2, 2.5.1, 2.5.2): each slice registers its own."""

from . import duties_backups, duties_timesync, duties_worklog  # noqa: F401
