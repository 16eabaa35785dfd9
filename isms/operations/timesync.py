"""Time synchronisation (校時, clause 2.5.2: 系統管理人員應至少每季執行一次校時).

A ``TimeSync`` is one synchronisation of a server with the offset measured, recorded by
hand (``record`` / ``save``) or measured by ``isms check-time`` (``check``), which asks
each host's NTP service with ntplib.

The rules:

1. The server is an asset of kind 伺服器, not voided and not decommissioned (a record of a
   server decommissioned since may still be corrected, as long as its server is unchanged).
2. The moment (校時時間) is not later than now (``FUTURE_LEEWAY`` allowed for the clock of
   the machine that sends it).
3. A record by hand gives the offset in milliseconds (a finite number of at most
   ``MAX_OFFSET_MS`` either way): the offset remaining after the synchronisation.
4. ``ok`` is never entered: it is computed. An offset is within tolerance when its absolute
   value is at most ``threshold_ms()`` — the setting ``ISMS_TIME_OFFSET_MS`` (Django setting,
   else the environment variable of that name, else 1000 ms). A check is ok only when the
   host answered as a synchronised NTP server and its offset is within tolerance. ``error``
   says why a record is not ok (the threshold of that moment is written in it), else "".
5. A check's measurement is evidence: only its ``note`` may be changed afterwards; a record
   by hand may be corrected (the audit trail keeps the before and after).
6. A record that is not ok — an offset over the threshold, a host that did not answer or
   is not synchronised — is flagged and the system administrators are told through the
   outbox (each one once per server and day, never the person who recorded it), and it is
   no evidence for the duty ``operations.time_sync`` (only ok records count).

How ``check`` maps its arguments to servers (there is no address field on an asset):
``PROPERTY_NUMBER=HOST`` asks HOST for the server with that 財產編號; a plain ``HOST``
asks HOST for the one server whose name is HOST (case-insensitive). An argument that names
no server (or several) is reported and nothing is recorded for it. A host that does not
answer, cannot be resolved or refuses is recorded as a failed check (``offset_ms`` None,
``ok`` False, ``error`` the reason): the evidence that the check was done and failed.

The measured offset is the host's clock minus the clock of the machine running the
check, so that machine should itself be synchronised (docs/operations-timesync.md).
"""

import datetime as dt
import math
import re
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import ntplib
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from isms.assets.models import Asset
from isms.audit import trail
from isms.core import roc
from isms.core.roles import SYSADMIN
from isms.core.services import site_url

from .models import TimeSync

Source = TimeSync.Source
DUTY = "operations.time_sync"
CLAUSE = "2.5.2"
THRESHOLD_SETTING = "ISMS_TIME_OFFSET_MS"
DEFAULT_THRESHOLD_MS = 1000.0
# The clock of the machine sending a record (a browser, a script) may run a little ahead.
FUTURE_LEEWAY = dt.timedelta(minutes=5)
# About 100 years in milliseconds: anything beyond is a typing mistake, not an offset.
MAX_OFFSET_MS = 100 * 366 * 86400 * 1000.0
NTP_PORT = 123
NTP_VERSION = 3
DEFAULT_TIMEOUT = 5.0
# Hosts asked at once by a check (each query waits on the network, not on this machine).
PARALLEL_QUERIES = 8
# The fields a check measured: fixed once recorded (rule 5).
MEASURED_FIELDS = ("server", "host", "checked_at", "offset_ms", "reference")
HOST_PATTERN = re.compile(r"^[A-Za-z0-9._:%\[\]-]+$")


# The threshold ---------------------------------------------------------------------------------
def threshold_ms() -> float:
    """The largest offset (ms, either way) within tolerance: ``ISMS_TIME_OFFSET_MS``."""
    value = getattr(settings, THRESHOLD_SETTING, DEFAULT_THRESHOLD_MS)
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        raise ImproperlyConfigured(
            f"{THRESHOLD_SETTING} must be a positive number of milliseconds, not {value!r}"
        )
    return number


def within(offset_ms: float | None, threshold: float | None = None) -> bool:
    """True when the offset is known and its absolute value is at most the threshold."""
    if offset_ms is None:
        return False
    limit = threshold_ms() if threshold is None else threshold
    return abs(offset_ms) <= limit


def format_ms(value: float | None) -> str:
    """An offset as the pages show it: ``+1,234.5`` (milliseconds), "" when unknown."""
    if value is None:
        return ""
    return f"{value:+,.1f}"


def format_limit(threshold: float | None = None) -> str:
    """The threshold as the pages and the command show it: ``1,000`` (milliseconds)."""
    value = threshold_ms() if threshold is None else threshold
    return f"{value:,.0f}" if value == int(value) else f"{value:,}"


def over_message(offset_ms: float, threshold: float) -> str:
    return _("時間誤差 %(offset)s 毫秒超過容許值 ±%(limit)s 毫秒（條文 2.5.2）。") % {
        "offset": format_ms(offset_ms),
        "limit": format_limit(threshold),
    }


# The servers -----------------------------------------------------------------------------------
def servers():
    """Servers a synchronisation may be recorded for: not voided, not decommissioned."""
    return (
        Asset.objects.active()
        .filter(kind=Asset.Kind.SERVER)
        .exclude(state=Asset.State.DECOMMISSIONED)
        .order_by("property_number", "name", "id")
    )


def server_error(asset: Asset | None) -> str:
    """Rule 1: why this asset cannot have a time sync recorded ("" when it can)."""
    if asset is None:
        return _("請選擇主機。")
    if asset.kind != Asset.Kind.SERVER:
        return _("「%(asset)s」不是伺服器；校時紀錄只登錄伺服器（條文 2.5.2）。") % {"asset": asset}
    if asset.voided_at is not None:
        return _("伺服器「%(asset)s」已作廢。") % {"asset": asset}
    if asset.state == Asset.State.DECOMMISSIONED:
        return _("伺服器「%(asset)s」已報廢，不再需要校時。") % {"asset": asset}
    return ""


# Validation ------------------------------------------------------------------------------------
def _clean_text(sync: TimeSync) -> None:
    for name in ("host", "reference", "note"):
        setattr(sync, name, (getattr(sync, name) or "").strip())


def errors_of(sync: TimeSync, stored: TimeSync | None = None) -> dict:
    """Field errors of a record as it would be saved (rules 1–3 and 5); {} when none.

    ``stored`` is the record as it is in the database when ``sync`` changes it.
    """
    _clean_text(sync)
    errors = {}
    for name in ("host", "reference", "note"):
        limit = TimeSync._meta.get_field(name).max_length
        if len(getattr(sync, name)) > limit:
            errors[name] = _("最多 %(n)d 個字。") % {"n": limit}
    if stored is not None and stored.source == Source.CHECK:
        for name in MEASURED_FIELDS:
            attname = TimeSync._meta.get_field(name).attname
            if getattr(sync, attname) != getattr(stored, attname) and name not in errors:
                errors[name] = _(
                    "校時檢查指令量測的紀錄是佐證，不能修改；只能補充說明（條文 2.5.2）。"
                )
        return errors
    server = sync.server if sync.server_id else None
    if server is None:
        errors["server"] = _("請選擇主機。")
    elif (stored is None or stored.server_id != sync.server_id) and (
        message := server_error(server)
    ):
        errors["server"] = message
    if sync.checked_at is None:
        errors["checked_at"] = _("請填寫校時時間。")
    elif sync.checked_at > timezone.now() + FUTURE_LEEWAY:
        errors["checked_at"] = _("校時時間不可晚於現在。")
    offset = sync.offset_ms
    if offset is None:
        errors["offset_ms"] = _("請填寫校時後量得的時間誤差（毫秒）。")
    elif isinstance(offset, bool) or not isinstance(offset, int | float):
        errors["offset_ms"] = _("時間誤差須為數字（毫秒）。")
    elif not math.isfinite(offset) or abs(offset) > MAX_OFFSET_MS:
        errors["offset_ms"] = _("時間誤差須為有限的數字，且不超過 ±%(max)s 毫秒。") % {
            "max": f"{MAX_OFFSET_MS:,.0f}"
        }
    if sync.host and not HOST_PATTERN.match(sync.host):
        errors["host"] = _("主機位址只能是主機名稱或 IP 位址（英數字、「.」「-」「:」）。")
    return errors


def _verdict(sync: TimeSync, threshold: float) -> None:
    """Rule 4 for a record by hand: ``ok`` and ``error`` from its offset."""
    sync.ok = within(sync.offset_ms, threshold)
    sync.error = "" if sync.ok else over_message(sync.offset_ms, threshold)[:300]


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


# Recording by hand -----------------------------------------------------------------------------
def save(sync: TimeSync, *, actor) -> TimeSync:
    """Record a time sync by hand (``sync.pk`` None) or correct one (rules 1–6).

    Raises ValidationError (field → zh-TW message) and saves nothing when a rule is broken.
    """
    with transaction.atomic():
        sync, flagged = _save(sync, actor)
    if flagged:
        notify_flagged([sync], actor=actor)
    refresh_duty()
    return sync


def _save(sync: TimeSync, actor) -> tuple[TimeSync, bool]:
    stored = None
    if sync.pk is not None:
        stored = TimeSync.objects.select_for_update().get(pk=sync.pk)
    errors = errors_of(sync, stored)
    if errors:
        raise ValidationError(errors)
    if stored is None:
        sync.source = Source.MANUAL
        sync.recorded_by = _user(actor)
        _verdict(sync, threshold_ms())
    else:
        # What nobody enters stays as it was: where it came from and who recorded it.
        sync.source = stored.source
        sync.recorded_by_id = stored.recorded_by_id
        if stored.source == Source.CHECK:
            for name in ("ok", "error", *MEASURED_FIELDS):
                attname = TimeSync._meta.get_field(name).attname
                setattr(sync, attname, getattr(stored, attname))
        else:
            _verdict(sync, threshold_ms())
    with trail.as_actor(actor):
        sync.save()
    flagged = not sync.ok and (stored is None or stored.ok or stored.server_id != sync.server_id)
    return sync, flagged


def record(
    *,
    server: Asset,
    checked_at: dt.datetime,
    offset_ms: float,
    actor,
    reference: str = "",
    host: str = "",
    note: str = "",
) -> TimeSync:
    """Record by hand one synchronisation of ``server`` with the offset measured after it."""
    sync = TimeSync(
        server=server,
        checked_at=checked_at,
        offset_ms=offset_ms,
        reference=reference,
        host=host,
        note=note,
    )
    return save(sync, actor=actor)


# Asking hosts (isms check-time) --------------------------------------------------------------
@dataclass
class Target:
    """One argument of a check: the host to ask and the server it belongs to."""

    argument: str
    host: str = ""
    server: Asset | None = None
    error: str = ""  # why nothing is asked for this argument


@dataclass
class Measurement:
    """What one host's NTP service answered (or why it did not)."""

    at: dt.datetime
    offset_ms: float | None = None
    reference: str = ""
    error: str = ""  # no usable answer: nothing measured
    unsynchronised: str = ""  # answered, but its clock is not synchronised


@dataclass
class Outcome:
    """The result of one argument of a check, and the record it left (if any)."""

    target: Target
    sync: TimeSync | None = None

    @property
    def ok(self) -> bool:
        return self.sync is not None and self.sync.ok

    @property
    def message(self) -> str:
        if self.sync is None:
            return self.target.error
        return self.sync.error


def _host_error(host: str) -> str:
    if not host:
        return _("請寫明要查詢的主機位址。")
    if len(host) > TimeSync._meta.get_field("host").max_length or not HOST_PATTERN.match(host):
        return _("「%(host)s」不是主機名稱或 IP 位址。") % {"host": host}
    return ""


def _by_number(argument: str, number: str, host: str) -> Target:
    target = Target(argument, host=host)
    if not number:
        target.error = _("「%(arg)s」缺少財產編號（格式：財產編號=主機位址）。") % {"arg": argument}
        return target
    if message := _host_error(host):
        target.error = message
        return target
    asset = Asset.objects.filter(property_number=number).first()
    if asset is None:
        target.error = _("財產編號「%(number)s」不在資產清冊中。") % {"number": number}
        return target
    if message := server_error(asset):
        target.error = message
        return target
    target.server = asset
    return target


def _by_name(argument: str) -> Target:
    host = argument
    target = Target(argument, host=host)
    if message := _host_error(host):
        target.error = message
        return target
    named = list(Asset.objects.filter(kind=Asset.Kind.SERVER, name__iexact=host).order_by("id"))
    usable = [a for a in named if not server_error(a)]
    if len(usable) == 1:
        target.server = usable[0]
    elif len(usable) > 1:
        target.error = _(
            "有 %(n)d 台伺服器名稱為「%(host)s」，請以「財產編號=%(host)s」指定是哪一台。"
        ) % {"n": len(usable), "host": host}
    elif named:
        target.error = server_error(named[0])
    elif Asset.objects.filter(property_number=host).exists():
        target.error = _(
            "「%(number)s」是財產編號；請以「%(number)s=主機位址」指定要查詢的主機。"
        ) % {"number": host}
    else:
        target.error = _(
            "資產清冊中沒有名稱為「%(host)s」的伺服器；請以「財產編號=%(host)s」指定。"
        ) % {"host": host}
    return target


def targets(arguments) -> list[Target]:
    """The servers and hosts of a check's arguments (see the module doc), each once."""
    out, seen = [], set()
    for raw in arguments:
        argument = str(raw).strip()
        if "=" in argument:
            number, _sep, host = argument.rpartition("=")
            target = _by_number(argument, number.strip(), host.strip())
        else:
            target = _by_name(argument)
        key = (target.server.pk, target.host.lower()) if target.server else None
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        out.append(target)
    return out


def _reference_text(stratum: int, ref_id: int) -> str:
    """The host's own time source as its answer names it: a code (stratum 1) or an IPv4."""
    if stratum == 1:
        code = "".join(chr(b) for b in ref_id.to_bytes(4, "big") if 32 < b < 127)
        source = code or "?"
    else:
        source = ".".join(str(b) for b in ref_id.to_bytes(4, "big"))
    return _("%(source)s（第 %(stratum)d 層）") % {"source": source, "stratum": stratum}


def measure(
    host: str, *, port: int = NTP_PORT, timeout: float = DEFAULT_TIMEOUT, version=NTP_VERSION
) -> Measurement:
    """Ask ``host``'s NTP service once (ntplib) and read its answer.

    No answer, an unknown name, a refusal or a packet that is no server's answer to this
    query gives ``error``; an answer from a host whose clock is not synchronised (leap
    indicator 3, stratum 16 or more) gives the offset with ``unsynchronised``.
    """
    try:
        answer = ntplib.NTPClient().request(host, version=version, port=port, timeout=timeout)
    except socket.gaierror:
        return Measurement(
            timezone.now(), error=_("無法解析主機名稱「%(host)s」。") % {"host": host}
        )
    except ntplib.NTPException as exc:
        if str(exc).startswith("No response"):
            message = _("%(seconds)s 秒內沒有回應（主機未開機、未提供 NTP 服務或被防火牆阻擋）。")
            return Measurement(timezone.now(), error=message % {"seconds": f"{timeout:g}"})
        return Measurement(timezone.now(), error=_("回應不是有效的 NTP 封包。"))
    except ConnectionRefusedError:
        return Measurement(
            timezone.now(),
            error=_("連線被拒：主機未提供 NTP 服務（UDP %(port)d）。") % {"port": port},
        )
    except OSError as exc:
        return Measurement(
            timezone.now(), error=_("無法連線：%(error)s") % {"error": exc.strerror or exc}
        )
    at = timezone.now()
    if answer.mode != 4:
        return Measurement(
            at, error=_("回應不是 NTP 伺服器的回應（mode %(mode)d）。") % {"mode": answer.mode}
        )
    if answer.stratum == 0:
        code = "".join(chr(b) for b in answer.ref_id.to_bytes(4, "big") if 32 < b < 127)
        return Measurement(
            at, error=_("主機拒絕提供時間（Kiss-o'-Death %(code)s）。") % {"code": code or "?"}
        )
    round_trip = answer.dest_timestamp - answer.orig_timestamp
    if not 0 <= round_trip <= timeout + 1:
        return Measurement(at, error=_("回應未帶回本次查詢的時間戳記，無法計算誤差。"))
    offset = round(answer.offset * 1000, 3)
    measurement = Measurement(at, offset_ms=offset)
    if answer.leap == 3 or answer.stratum >= 16:
        measurement.unsynchronised = _(
            "主機的 NTP 服務尚未與校時來源同步（stratum %(stratum)d，LI %(leap)d）。"
        ) % {"stratum": answer.stratum, "leap": answer.leap}
    else:
        measurement.reference = _reference_text(answer.stratum, answer.ref_id)[:255]
    return measurement


def _record_check(target: Target, measurement: Measurement, actor, threshold: float) -> TimeSync:
    sync = TimeSync(
        server=target.server,
        host=target.host,
        checked_at=measurement.at,
        offset_ms=measurement.offset_ms,
        reference=measurement.reference,
        source=Source.CHECK,
        recorded_by=_user(actor),
    )
    if measurement.error:
        sync.ok, sync.error = False, measurement.error
    elif measurement.unsynchronised:
        sync.ok, sync.error = False, measurement.unsynchronised
    else:
        _verdict(sync, threshold)
    sync.error = sync.error[:300]
    with transaction.atomic(), trail.as_actor(actor):
        sync.save()
    return sync


def check(
    hosts,
    *,
    actor,
    port: int = NTP_PORT,
    timeout: float = DEFAULT_TIMEOUT,
    version: int = NTP_VERSION,
) -> list[Outcome]:
    """Ask each host's NTP service and record its offset as a TimeSync (source ``check``).

    1. Map the arguments to servers (``targets``); an argument naming no server is only
       reported.
    2. Ask the hosts (several at once), outside any transaction.
    3. Record one TimeSync per host asked, each in its own transaction (rule 4; a failure is
       recorded with its reason), then tell the administrators of the flagged ones and
       refresh the duty once.
    """
    if not 0 < int(port) < 65536:
        raise ValueError(f"port {port} is not a UDP port")
    if not timeout > 0:
        raise ValueError("timeout must be positive")
    threshold = threshold_ms()
    wanted = targets(hosts)
    asked = [t for t in wanted if t.server is not None]

    def ask(target):
        return measure(target.host, port=port, timeout=timeout, version=version)

    measurements = []
    if asked:
        with ThreadPoolExecutor(max_workers=min(PARALLEL_QUERIES, len(asked))) as pool:
            measurements = list(pool.map(ask, asked))
    found = dict(zip((id(t) for t in asked), measurements, strict=True))
    outcomes = []
    for target in wanted:
        outcome = Outcome(target)
        if target.server is not None:
            outcome.sync = _record_check(target, found[id(target)], actor, threshold)
        outcomes.append(outcome)
    flagged = [o.sync for o in outcomes if o.sync is not None and not o.sync.ok]
    if flagged:
        notify_flagged(flagged, actor=actor)
    if asked:
        refresh_duty()
    return outcomes


# Telling the administrators ------------------------------------------------------------------
def _administrators():
    return list(
        get_user_model()
        .objects.filter(groups__name=SYSADMIN, is_active=True)
        .distinct()
        .order_by("pk")
    )


def _link(sync: TimeSync) -> str:
    return site_url(sync.get_absolute_url())


def notify_flagged(syncs, *, actor) -> int:
    """Queue one e-mail per flagged server and day to each active system administrator
    (never to ``actor``); returns how many were queued."""
    from isms.notifications import services as notifications

    recipients = [u for u in _administrators() if u.pk != getattr(actor, "pk", None)]
    queued = 0
    for sync in syncs:
        server = sync.server
        day = timezone.localdate(sync.checked_at)
        subject = _("校時異常：%(server)s") % {"server": server}
        lines = [
            _("主機：%(server)s") % {"server": server},
            _("主機位址：%(host)s") % {"host": sync.host or "—"},
            _("時間：%(when)s") % {"when": roc.format_roc_datetime(sync.checked_at)},
            _("時間誤差：%(offset)s 毫秒") % {"offset": format_ms(sync.offset_ms) or "—"},
            _("原因：%(error)s") % {"error": sync.error},
            "",
            _("此筆不計為每季校時（條文 2.5.2）；請檢查主機的校時設定後再校時一次。"),
            _link(sync),
        ]
        body = "\n".join(str(line) for line in lines)
        for user in recipients:
            row = notifications.notify(
                recipient=user,
                subject=subject,
                body=body,
                dedup_key=f"{DUTY}:{server.pk}:{day.isoformat()}:{user.pk}",
                actor=actor,
            )
            queued += row is not None
    return queued


def refresh_duty() -> None:
    """Recompute the duty's states at once, so that the dashboard shows the new record."""
    from isms.compliance import engine

    engine.refresh(DUTY)
