"""A person's due duties as a subscribed calendar (RFC 5545), behind a secret-key URL.

The page ``/compliance/calendar/`` turns the feed on, renews its key or turns it off. The
feed ``/compliance/calendar/<key>.ics`` is read by calendar programs, which cannot sign
in: the key in the URL is the only credential. As with API keys, only the key's SHA-256
and its first 8 characters are stored; the key is shown once, when made.

The feed holds "my tasks" (the duties of my roles, and my own password — not everyone
else's), every status that has a due date, so upcoming due dates show as well. Each duty
is an all-day event on its due date (Asia/Taipei). See docs/calendar-feed.md.
"""

import datetime as dt
import hashlib
import secrets

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from icalendar import Alarm, Calendar, Event, vDuration

from isms.audit import trail
from isms.core import roc
from isms.core.access import SIGNED_IN, can, user_roles
from isms.core.generic import ProtectedView
from isms.core.registers import nav_link

from . import engine, registry
from .models import CalendarFeed, ObligationSetting, ObligationState
from .views import NAV, ObligationStateRegister

PASSWORD_KEY = "core.password_age"
# Statuses that call for action: their events carry a reminder the day before.
ALARMED = frozenset({"due_soon", "overdue", "never_done"})
# All-day events start at local midnight: -15 h is 09:00 on the day before.
ALARM_BEFORE = dt.timedelta(hours=-15)
# Feed reads write ``last_used_at`` at most this often (a calendar polls every few minutes).
TOUCH_EVERY = dt.timedelta(minutes=5)
# A refused key is audited once a day per key: a forgotten subscription that keeps polling
# a revoked URL must not fill the trail; each different guessed key is still recorded.
DENIED_AUDIT_SECONDS = 24 * 3600
# The feed's size is bounded whatever the number of duties (the soonest are kept).
MAX_EVENTS = 2000
KEY_MAX_LENGTH = 100
PRODID = "-//Campus ISMS//校園資安管理平台//ZH-TW"
UID_DOMAIN = "campus-isms"
DENIED_MESSAGE = "行事曆訂閱金鑰無效"  # stored in the trail as is (not per reader's language)


# Services ------------------------------------------------------------------------------
def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def active_feed(user) -> CalendarFeed | None:
    """The person's feed in use, if they turned one on."""
    return CalendarFeed.objects.filter(user=user, revoked_at__isnull=True).first()


def _revoke_all(user, now) -> int:
    count = 0
    for feed in CalendarFeed.objects.filter(user=user, revoked_at__isnull=True):
        feed.revoked_at = now
        feed.save(update_fields=["revoked_at"])  # audited (UPDATE revoked_at)
        count += 1
    return count


@transaction.atomic
def feed_create(*, user, actor) -> tuple[CalendarFeed, str]:
    """Turn the feed on, or renew it: any key in use is revoked, a new one is made.

    The key itself is returned once and never stored (only its hash and prefix).
    """
    # One feed in use per person, even when two requests race: lock the person's row.
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    key = secrets.token_urlsafe(32)
    with trail.as_actor(actor):
        _revoke_all(user, timezone.now())
        feed = CalendarFeed.objects.create(user=user, prefix=key[:8], key_hash=hash_key(key))
    return feed, key


@transaction.atomic
def feed_revoke(*, user, actor) -> int:
    """Turn the feed off: the URL answers 404 from now on. Returns how many were revoked."""
    with trail.as_actor(actor):
        return _revoke_all(user, timezone.now())


def feed_for_key(key: str) -> CalendarFeed | None:
    """The feed a presented key opens, or None (unknown, revoked, or its owner left).

    A refusal is audited (at most once a day per key).
    """
    if not key or len(key) > KEY_MAX_LENGTH:
        feed, digest = None, hash_key(key[:KEY_MAX_LENGTH])
    else:
        digest = hash_key(key)
        feed = CalendarFeed.objects.select_related("user__person").filter(key_hash=digest).first()
    if feed is not None and feed.revoked_at is None and feed.user.is_active:
        return feed
    if cache.add(f"isms:calendar:denied:{digest}", 1, DENIED_AUDIT_SECONDS):
        trail.record(
            trail.Action.ACCESS_DENIED,
            model_label="compliance.calendarfeed",
            object_id=str(feed.pk) if feed else "",
            object_repr=str(feed)[:200] if feed else "",
            message=DENIED_MESSAGE,
        )
    return None


def touch(feed: CalendarFeed, now=None) -> None:
    """Note that the feed was read, at most every five minutes (a read stays a read)."""
    now = now or timezone.now()
    if feed.last_used_at is None or now - feed.last_used_at >= TOUCH_EVERY:
        # QuerySet.update: last_used_at is not news for the trail (see audit.signals).
        CalendarFeed.objects.filter(pk=feed.pk).update(last_used_at=now)
        feed.last_used_at = now


def my_states(user):
    """My tasks (as on the dashboard), every status, those with a due date, soonest first."""
    roles = user_roles(user)
    own = Q(key=PASSWORD_KEY, subject_id=str(user.pk))
    return (
        ObligationState.objects.filter(next_due_at__isnull=False)
        .filter((Q(responsible_role__in=list(roles)) & ~Q(key=PASSWORD_KEY)) | own)
        .order_by("next_due_at", "id")
    )


def state_link(state, obligation, sees_states: bool) -> str:
    """Where to act on a duty: the state page, or for one's password the change page.

    Someone whose roles may not open obligation pages gets the duty's evidence form.
    """
    if state.key == PASSWORD_KEY:
        return reverse("password_change")
    if sees_states:
        return reverse("compliance:obligationstate_detail", args=[state.pk])
    if obligation is not None and obligation.evidence_url is not None:
        try:
            return obligation.evidence_url(state)
        except Exception:  # a broken link must not break the feed
            pass
    return reverse("home")


def build_calendar(user, states, absolute, now=None) -> bytes:
    """The VCALENDAR of ``states``; ``absolute(path)`` makes a link absolute."""
    now = now or timezone.now()
    overrides = {s.key: s for s in ObligationSetting.objects.all()}
    sees_states = can(user, "view", ObligationStateRegister.access)
    states = list(states)
    per_key: dict[str, int] = {}
    for state in states:
        per_key[state.key] = per_key.get(state.key, 0) + 1

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", _("校園資安管理平台：我的待辦"))
    cal.add("x-wr-caldesc", _("我負責的資安義務與到期日"))
    cal.add("x-wr-timezone", settings.TIME_ZONE)
    cal.add("refresh-interval", dt.timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", vDuration(dt.timedelta(hours=1)))
    for state in states:
        cal.add_component(_event(state, per_key, overrides, sees_states, absolute, now))
    return cal.to_ical()


def _event(state, per_key, overrides, sees_states, absolute, now) -> Event:
    obligation = registry.REGISTRY.get(state.key)
    title = str(obligation.title) if obligation else state.key
    status = ObligationState.Status(state.status).label
    clause = state.clause
    summary = _("[%(status)s] %(title)s（條文 %(clause)s）") % {
        "status": status,
        "title": title,
        "clause": clause,
    }
    if per_key[state.key] > 1:
        # The same duty for several subjects (systems, rooms…): say which one.
        summary = _("%(summary)s：%(subject)s") % {
            "summary": summary,
            "subject": state.subject_label,
        }
    link = absolute(state_link(state, obligation, sees_states))
    lines = [
        _("義務：%(title)s") % {"title": title},
        _("對象：%(subject)s") % {"subject": state.subject_label},
        _("條文：%(clause)s") % {"clause": clause},
        _("狀態：%(status)s") % {"status": status},
        _("到期：%(due)s") % {"due": roc.format_roc_datetime(state.next_due_at)},
        _("最近執行：%(done)s")
        % {
            "done": roc.format_roc_datetime(state.last_done_at)
            if state.last_done_at
            else _("從未執行")
        },
    ]
    if obligation is not None:
        rhythm, _window = engine.effective(obligation, overrides)
        lines.append(_("頻率：%(rhythm)s") % {"rhythm": rhythm.label})
    lines.append(_("處理：%(link)s") % {"link": link})

    due_day = timezone.localdate(state.next_due_at)
    event = Event()
    event.add("uid", f"obligation-{state.pk}@{UID_DOMAIN}")
    event.add("dtstamp", now.astimezone(dt.UTC))
    event.add("dtstart", due_day)
    event.add("dtend", due_day + dt.timedelta(days=1))
    event.add("summary", summary)
    event.add("description", "\n".join(str(line) for line in lines))
    event.add("url", link)
    event.add("categories", [_("條文 %(clause)s") % {"clause": clause}])
    event.add("transp", "TRANSPARENT")  # a due date does not make anyone busy
    if state.status in ALARMED:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", summary)
        alarm.add("trigger", ALARM_BEFORE)
        event.add_component(alarm)
    return event


# Views ---------------------------------------------------------------------------------
class CalendarView(ProtectedView):
    """My calendar feed: turn on (the URL is shown once), renew, turn off."""

    access = SIGNED_IN  # one's own feed, whatever one's roles
    action = "view"

    def get(self, request, new_key=None, status=200):
        feed = active_feed(request.user)
        ctx = {
            "feed": feed,
            "history": CalendarFeed.objects.filter(user=request.user, revoked_at__isnull=False)[:5],
            "event_count": my_states(request.user).count(),
            "new_url": None,
        }
        if new_key:
            url = request.build_absolute_uri(reverse("compliance:calendar_feed", args=[new_key]))
            ctx["new_url"] = url
            ctx["webcal_url"] = "webcal://" + url.split("://", 1)[1]
        response = render(request, "compliance/calendar.html", ctx, status=status)
        if new_key:
            response["Cache-Control"] = "no-store"  # the one page that shows the key
        return response

    def post(self, request):
        action = request.POST.get("action", "")
        if action in ("enable", "renew"):
            _feed, key = feed_create(user=request.user, actor=request.user)
            return self.get(request, new_key=key)
        if action == "disable":
            if feed_revoke(user=request.user, actor=request.user):
                messages.success(request, _("已停用行事曆訂閱，原訂閱網址已失效。"))
            else:
                messages.info(request, _("行事曆訂閱原本就未開啟。"))
            return redirect("compliance:calendar")
        return self.get(request, status=400)


class CalendarFeedView(View):
    """The .ics itself: no session, the key in the URL decides; anything else is a 404."""

    isms_public = True  # calendar programs cannot sign in; the secret key is the credential
    http_method_names = ["get", "head"]

    def get(self, request, key):
        feed = feed_for_key(key)
        if feed is None:
            raise Http404
        user = feed.user
        now = timezone.now()
        touch(feed, now)
        with translation.override(settings.LANGUAGE_CODE):
            body = build_calendar(
                user, my_states(user)[:MAX_EVENTS], request.build_absolute_uri, now
            )
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = 'inline; filename="isms.ics"'
        response["Cache-Control"] = "private, no-store"
        response["X-Robots-Tag"] = "noindex, nofollow"
        response["Referrer-Policy"] = "no-referrer"
        return response


nav_link(NAV, gettext_lazy("行事曆訂閱"), "compliance:calendar", SIGNED_IN)
