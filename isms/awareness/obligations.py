"""The awareness duties (5.2, 8, 2.3, 7.5, 7.7): each slice registers its own."""

from . import duties_selfchecks, duties_talks, duties_training  # noqa: F401
