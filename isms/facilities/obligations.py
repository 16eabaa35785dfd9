"""The facilities duties (3.1–3.4, 7.9 and the access log): each slice registers its own."""

from . import duties_environment, duties_rooms, duties_visits  # noqa: F401
