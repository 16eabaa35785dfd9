"""Time sync (校時, clause 2.5.2): the register per role, records by hand and their rules,
``isms check-time`` against a real NTP responder on loopback, the administrators' e-mail
and the quarterly duty per server."""

import datetime as dt
import io
import json
import socket
import struct
import threading
import time

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from isms.assets.models import Asset
from isms.audit.models import AuditEntry
from isms.compliance import coverage, engine, registry
from isms.compliance.models import ObligationState
from isms.core import roc
from isms.core.roles import MANAGERS, SYSADMIN
from isms.core.testing import RegisterContract
from isms.notifications.models import Notification
from isms.operations import timesync
from isms.operations.models import TimeSync
from isms.operations.views_timesync import TimeSyncRegister

pytestmark = pytest.mark.django_db

READERS = MANAGERS | {SYSADMIN}
WRITERS = frozenset({SYSADMIN})
DUTY = "operations.time_sync"
TAIPEI = dt.timezone(dt.timedelta(hours=8))
# Loopback measurements are exact to well under this (milliseconds).
TOLERANCE_MS = 50
Kind, State = Asset.Kind, Asset.State


@pytest.fixture(autouse=True)
def _threshold(settings):
    settings.ISMS_TIME_OFFSET_MS = 1000


def server(number=None, *, name=None, state=State.IN_USE, kind=Kind.SERVER, **values):
    n = Asset.objects.count() + 1
    number = number or f"3140101-01-{n:06d}"
    return Asset.objects.create(
        kind=kind, state=state, property_number=number, name=name or f"伺服器{n}", **values
    )


def manual(on, *, at=None, offset=12.0, ok=True, **values):
    """A record by hand, written directly (the rules are tested through the service)."""
    return TimeSync.objects.create(
        server=on,
        checked_at=at or timezone.now() - dt.timedelta(hours=1),
        offset_ms=offset,
        ok=ok,
        source=TimeSync.Source.MANUAL,
        **values,
    )


def post_json(c, url, body, method="post"):
    return getattr(c, method)(url, json.dumps(body), content_type="application/json")


def roc_moment(moment) -> str:
    return roc.format_roc_datetime(moment)


# A real NTP responder on loopback --------------------------------------------------------------
NTP_EPOCH_DELTA = 2208988800  # seconds from 1900-01-01 to 1970-01-01


def ntp_timestamp(seconds: float) -> bytes:
    whole = int(seconds)
    return struct.pack("!II", whole + NTP_EPOCH_DELTA, int((seconds - whole) * 2**32))


class NtpResponder:
    """A small NTP server (RFC 5905 server mode) on 127.0.0.1 with a chosen clock offset.

    It answers v3 and v4 queries in the version asked, echoes the query's transmit
    timestamp as the origin, and stamps receive and transmit with its clock (the real clock
    plus ``offset`` seconds). ``silent`` drops queries; ``leap``, ``stratum``, ``mode`` and
    ``echo`` make answers of a host that is not synchronised, refuses or is no NTP server.
    """

    def __init__(self, offset=0.0, *, stratum=2, leap=0, mode=4, silent=False, echo=True):
        self.offset, self.stratum, self.leap, self.mode = offset, stratum, leap, mode
        self.silent, self.echo = silent, echo
        self.ref_id = bytes([192, 168, 10, 1]) if stratum >= 2 else b"RATE"
        self.versions: list[int] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def clock(self) -> float:
        return time.time() + self.offset

    def _serve(self):
        while not self._stop.is_set():
            try:
                data, address = self.sock.recvfrom(512)
            except TimeoutError:
                continue
            except OSError:
                return
            received = self.clock()
            if len(data) < 48:
                continue
            version = (data[0] >> 3) & 0x7
            self.versions.append(version)
            if self.silent:
                continue
            head = struct.pack(
                "!BBBb", (self.leap << 6) | (version << 3) | self.mode, self.stratum, 4, -20
            )
            packet = (
                head
                + struct.pack("!II", 0, 0)  # root delay, root dispersion
                + self.ref_id
                + ntp_timestamp(received - 30)  # reference: last set 30 s ago
                + (data[40:48] if self.echo else bytes(8))  # origin: the query's transmit
                + ntp_timestamp(received)
                + ntp_timestamp(self.clock())
            )
            self.sock.sendto(packet, address)

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def ntp():
    """ntp(offset_seconds, **options) → a running responder (closed after the test)."""
    started = []

    def start(offset=0.0, **options):
        responder = NtpResponder(offset, **options)
        started.append(responder)
        return responder

    yield start
    for responder in started:
        responder.close()


def closed_port() -> int:
    """A UDP port on loopback that nothing listens on."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture
def admins(make_user):
    """Two system administrators with e-mail addresses (the outbox's recipients)."""
    return [
        make_user("admin_a", SYSADMIN, email="a@school.example"),
        make_user("admin_b", SYSADMIN, email="b@school.example"),
    ]


def mails(recipient=None):
    rows = Notification.objects.filter(dedup_key__startswith=f"{DUTY}:")
    return rows.filter(recipient=recipient) if recipient is not None else rows


# The register per role ------------------------------------------------------------------------
class TestTimeSyncRegister(RegisterContract):
    register = TimeSyncRegister
    api_prefix = "time-syncs"
    readers = READERS
    writers = WRITERS

    def server(self):
        return Asset.objects.filter(property_number="3140101-01-000900").first() or server(
            "3140101-01-000900", name="校務主機"
        )

    def make_sample(self, **overrides):
        return manual(self.server(), **overrides)

    def form_data(self):
        return {
            "server": self.server().pk,
            "checked_at": roc_moment(timezone.now() - dt.timedelta(hours=2)),
            "offset_ms": "35.5",
            "host": "10.0.0.5",
            "reference": "time.stdtime.gov.tw",
        }

    def change_data(self, obj):
        return {
            "server": obj.server_id,
            "checked_at": roc_moment(obj.checked_at),
            "offset_ms": str(obj.offset_ms),
            "reference": "tock.stdtime.gov.tw",
            "note": "更正校時來源",
        }

    def api_change_data(self, obj):
        return {"reference": "tock.stdtime.gov.tw", "note": "更正校時來源"}

    def invalid_form_data(self):
        return {"server": "", "checked_at": "115/13/45 25:00", "offset_ms": "abc"}

    def api_data(self):
        return {
            "server": self.server().pk,
            "checked_at": (timezone.now() - dt.timedelta(hours=3)).isoformat(),
            "offset_ms": -8.25,
            "reference": "time.stdtime.gov.tw",
        }

    def invalid_api_data(self):
        return {"server": 987654321, "checked_at": "yesterday", "offset_ms": "x"}


# Records by hand -------------------------------------------------------------------------------
NOW = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)  # 115/11/30 10:00 in Taipei


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.mark.usefixtures("frozen")
class TestRecordByHand:
    def test_an_offset_within_the_threshold_is_a_sync(self, make_user):
        admin = make_user("admin", SYSADMIN)
        s = server()
        sync = timesync.record(
            server=s,
            checked_at=NOW - dt.timedelta(minutes=30),
            offset_ms=-999.9,
            actor=admin,
            reference=" time.stdtime.gov.tw ",
        )
        sync.refresh_from_db()
        assert (sync.ok, sync.error, sync.source) == (True, "", TimeSync.Source.MANUAL)
        assert sync.recorded_by == admin and sync.reference == "time.stdtime.gov.tw"
        entry = AuditEntry.objects.filter(model_label="operations.timesync").get()
        assert entry.action == "create" and entry.actor_id == admin.pk

    @pytest.mark.parametrize(
        ("offset", "ok"),
        [(1000.0, True), (-1000.0, True), (1000.001, False), (-1000.5, False), (0.0, True)],
    )
    def test_the_threshold_is_inclusive_either_way(self, make_user, offset, ok):
        sync = timesync.record(
            server=server(), checked_at=NOW, offset_ms=offset, actor=make_user("admin", SYSADMIN)
        )
        assert sync.ok is ok
        assert ("超過容許值 ±1,000 毫秒" in sync.error) is (not ok)

    def test_the_threshold_is_the_setting(self, settings, make_user):
        admin = make_user("admin", SYSADMIN)
        settings.ISMS_TIME_OFFSET_MS = 50
        assert not timesync.record(server=server(), checked_at=NOW, offset_ms=60, actor=admin).ok
        settings.ISMS_TIME_OFFSET_MS = "250"
        assert timesync.record(server=server(), checked_at=NOW, offset_ms=60, actor=admin).ok

    def test_without_the_setting_1000_ms(self, settings):
        del settings.ISMS_TIME_OFFSET_MS
        assert timesync.threshold_ms() == 1000

    @pytest.mark.parametrize("value", [0, -5, "abc", "nan", "inf"])
    def test_a_threshold_that_is_no_positive_number_is_a_configuration_error(self, settings, value):
        settings.ISMS_TIME_OFFSET_MS = value
        with pytest.raises(ImproperlyConfigured, match="ISMS_TIME_OFFSET_MS"):
            timesync.threshold_ms()

    def test_an_offset_over_the_threshold_is_flagged_and_the_other_admins_are_told(self, admins):
        actor = admins[0]
        sync = timesync.record(server=server(), checked_at=NOW, offset_ms=4321.0, actor=actor)
        assert not sync.ok and "+4,321.0" in sync.error
        assert not mails(actor).exists()  # the one who recorded it knows
        (mail,) = mails(admins[1])
        assert str(sync.server) in mail.subject and "+4,321.0" in mail.body
        assert sync.get_absolute_url() in mail.body and "2.5.2" in mail.body

    def test_one_mail_per_server_and_day(self, admins, make_user):
        actor = make_user("third", SYSADMIN)
        s = server()
        for offset in (5000, 6000):
            timesync.record(server=s, checked_at=NOW, offset_ms=offset, actor=actor)
        assert mails().count() == 2  # one for each of the two other administrators
        timesync.record(server=server(), checked_at=NOW, offset_ms=7000, actor=actor)
        assert mails().count() == 4  # another server

    @pytest.mark.parametrize(
        ("kind", "state", "voided", "text"),
        [
            (Kind.PC, State.IN_USE, False, "不是伺服器"),
            (Kind.SERVER, State.DECOMMISSIONED, False, "已報廢"),
            (Kind.SERVER, State.IN_USE, True, "已作廢"),
        ],
    )
    def test_only_a_server_in_the_register_may_be_synced(
        self, make_user, kind, state, voided, text
    ):
        s = server(kind=kind, state=state, voided_at=NOW if voided else None)
        with pytest.raises(ValidationError) as caught:
            timesync.record(
                server=s, checked_at=NOW, offset_ms=1, actor=make_user("admin", SYSADMIN)
            )
        assert text in caught.value.message_dict["server"][0]
        assert not TimeSync.objects.exists()

    def test_a_server_not_in_use_yet_may_be_synced(self, make_user):
        for state in (State.NEW, State.STORAGE, State.REPAIR):
            sync = timesync.record(
                server=server(state=state),
                checked_at=NOW,
                offset_ms=1,
                actor=make_user(f"a_{state}", SYSADMIN),
            )
            assert sync.ok

    def test_the_moment_may_not_be_in_the_future(self, make_user):
        admin = make_user("admin", SYSADMIN)
        s = server()
        ahead = NOW + timesync.FUTURE_LEEWAY + dt.timedelta(seconds=1)
        with pytest.raises(ValidationError) as caught:
            timesync.record(server=s, checked_at=ahead, offset_ms=1, actor=admin)
        assert caught.value.message_dict["checked_at"] == ["校時時間不可晚於現在。"]
        # A sender's clock a little ahead is allowed.
        assert timesync.record(
            server=s, checked_at=NOW + timesync.FUTURE_LEEWAY, offset_ms=1, actor=admin
        ).pk

    @pytest.mark.parametrize("offset", [None, float("nan"), float("inf"), 1e20])
    def test_the_offset_is_a_finite_number(self, make_user, offset):
        with pytest.raises(ValidationError) as caught:
            timesync.record(
                server=server(),
                checked_at=NOW,
                offset_ms=offset,
                actor=make_user("admin", SYSADMIN),
            )
        assert "offset_ms" in caught.value.message_dict
        assert not TimeSync.objects.exists()

    def test_a_correction_recomputes_the_verdict(self, admins):
        sync = timesync.record(server=server(), checked_at=NOW, offset_ms=10, actor=admins[0])
        sync.offset_ms = 1500
        sync = timesync.save(sync, actor=admins[0])
        assert not sync.ok and mails(admins[1]).count() == 1
        sync.offset_ms = 15
        sync = timesync.save(sync, actor=admins[0])
        assert sync.ok and sync.error == ""
        assert sync.source == TimeSync.Source.MANUAL and sync.recorded_by == admins[0]

    def test_a_record_of_a_server_retired_since_can_still_be_corrected(self, make_user):
        admin = make_user("admin", SYSADMIN)
        s = server()
        sync = timesync.record(server=s, checked_at=NOW, offset_ms=10, actor=admin)
        Asset.objects.filter(pk=s.pk).update(state=State.DECOMMISSIONED)
        sync = TimeSync.objects.get(pk=sync.pk)
        sync.note = "補登校時來源"
        assert timesync.save(sync, actor=admin).note == "補登校時來源"
        # Moving it to another retired server is refused.
        sync.server = server(state=State.DECOMMISSIONED)
        with pytest.raises(ValidationError) as caught:
            timesync.save(sync, actor=admin)
        assert "已報廢" in caught.value.message_dict["server"][0]

    def test_a_checks_measurement_cannot_be_changed_only_its_note(self, make_user):
        admin = make_user("admin", SYSADMIN)
        sync = TimeSync.objects.create(
            server=server(),
            host="10.0.0.5",
            checked_at=NOW,
            offset_ms=3.5,
            ok=True,
            source=TimeSync.Source.CHECK,
        )
        for name, value in (
            ("offset_ms", 1.0),
            ("host", "10.0.0.6"),
            ("checked_at", NOW - dt.timedelta(days=1)),
        ):
            changed = TimeSync.objects.get(pk=sync.pk)
            setattr(changed, name, value)
            with pytest.raises(ValidationError) as caught:
                timesync.save(changed, actor=admin)
            assert "不能修改" in caught.value.message_dict[name][0]
        changed = TimeSync.objects.get(pk=sync.pk)
        changed.note = "主機已改用學網校時"
        changed.ok = False  # never taken from the caller
        saved = timesync.save(changed, actor=admin)
        saved.refresh_from_db()
        assert (saved.note, saved.ok, saved.source) == ("主機已改用學網校時", True, "check")


@pytest.mark.usefixtures("frozen")
class TestPagesAndApi:
    def test_the_form_refuses_a_pc_and_a_future_moment_in_zh_tw(self, client_for):
        c = client_for(SYSADMIN)
        pc = server(kind=Kind.PC)
        entries = AuditEntry.objects.count()
        response = c.post(
            reverse("operations:timesync_add"),
            {
                "server": pc.pk,
                "checked_at": roc_moment(NOW + dt.timedelta(days=1)),
                "offset_ms": "5",
            },
        )
        assert response.status_code == 400
        page = response.content.decode()
        assert "校時時間不可晚於現在" in page
        assert "選擇有效的選項" in page or "不是伺服器" in page  # PCs are not offered
        assert not TimeSync.objects.exists() and AuditEntry.objects.count() == entries

    def test_the_form_needs_the_offset(self, client_for):
        c = client_for(SYSADMIN)
        s = server()
        data = {"server": s.pk, "checked_at": roc_moment(NOW), "offset_ms": ""}
        response = c.post(reverse("operations:timesync_add"), data)
        assert response.status_code == 400
        assert not TimeSync.objects.exists()

    def test_the_add_form_offers_servers_only_and_takes_the_server_from_the_link(self, client_for):
        c = client_for(SYSADMIN)
        s = server(name="網站主機")
        server(kind=Kind.PC, name="教務處電腦")
        server(state=State.DECOMMISSIONED, name="舊主機")
        page = c.get(reverse("operations:timesync_add") + f"?server={s.pk}").content.decode()
        assert "網站主機" in page and "教務處電腦" not in page and "舊主機" not in page
        assert f'<option value="{s.pk}" selected>' in page
        assert roc_moment(NOW) in page  # the moment starts as now, in the ROC calendar

    def test_a_flagged_record_is_saved_with_a_warning(self, client_for):
        c = client_for(SYSADMIN)
        s = server()
        data = {"server": s.pk, "checked_at": roc_moment(NOW), "offset_ms": "2500"}
        response = c.post(reverse("operations:timesync_add"), data, follow=True)
        assert response.status_code == 200
        page = response.content.decode()
        assert "不計為每季校時" in page and "誤差超過容許值" in page
        assert TimeSync.objects.get().ok is False

    def test_a_checks_page_form_changes_only_the_note(self, client_for):
        c = client_for(SYSADMIN)
        sync = TimeSync.objects.create(
            server=server(),
            host="10.0.0.5",
            checked_at=NOW,
            offset_ms=3.5,
            ok=True,
            source=TimeSync.Source.CHECK,
        )
        url = reverse("operations:timesync_edit", args=[sync.pk])
        assert 'name="offset_ms"' in c.get(url).content.decode()
        data = {
            "server": sync.server_id,
            "checked_at": roc_moment(NOW - dt.timedelta(days=3)),
            "offset_ms": "999",
            "host": "evil",
            "note": "已確認",
        }
        assert c.post(url, data).status_code == 302
        sync.refresh_from_db()
        assert (sync.offset_ms, sync.host, sync.checked_at, sync.note) == (
            3.5,
            "10.0.0.5",
            NOW,
            "已確認",
        )

    def test_a_failed_checks_note_can_be_added_on_its_page(self, client_for):
        c = client_for(SYSADMIN)
        sync = TimeSync.objects.create(
            server=server(),
            host="10.0.0.5",
            checked_at=NOW,
            ok=False,
            error="沒有回應",
            source=TimeSync.Source.CHECK,
        )
        url = reverse("operations:timesync_edit", args=[sync.pk])
        response = c.post(url, {"note": "主機當時關機維護"})
        assert response.status_code == 302
        sync.refresh_from_db()
        assert (sync.note, sync.offset_ms, sync.ok) == ("主機當時關機維護", None, False)

    def test_the_api_computes_ok_and_refuses_a_non_server(self, client_for):
        c = client_for(SYSADMIN)
        s = server()
        body = {"server": s.pk, "checked_at": NOW.isoformat(), "offset_ms": 5000, "ok": True}
        response = post_json(c, "/api/time-syncs/", body)
        assert response.status_code == 201, response.content
        data = response.json()
        assert data["ok"] is False and "容許值" in data["error"] and data["source"] == "manual"
        assert data["recorded_by"] == c.user.pk

        pc = server(kind=Kind.PC)
        response = post_json(c, "/api/time-syncs/", {**body, "server": pc.pk})
        assert response.status_code == 400
        assert "不是伺服器" in response.json()["server"][0]
        for bad in (
            {**body, "offset_ms": 1e20},
            {**body, "offset_ms": None},
            {**body, "checked_at": (NOW + dt.timedelta(hours=1)).isoformat()},
            {**body, "host": "bad host name"},
        ):
            response = post_json(c, "/api/time-syncs/", bad)
            assert response.status_code == 400, bad
            assert isinstance(response.json(), dict)
        assert TimeSync.objects.count() == 1

    def test_the_api_may_change_only_a_checks_note(self, client_for):
        c = client_for(SYSADMIN)
        sync = TimeSync.objects.create(
            server=server(), checked_at=NOW, offset_ms=3.5, ok=True, source="check"
        )
        url = f"/api/time-syncs/{sync.pk}/"
        response = post_json(c, url, {"offset_ms": 1.0}, method="patch")
        assert response.status_code == 400
        assert "不能修改" in response.json()["offset_ms"][0]
        response = post_json(c, url, {"note": "長" * 301}, method="patch")
        assert response.status_code == 400 and "note" in response.json()
        response = post_json(c, url, {"note": "已確認"}, method="patch")
        assert response.status_code == 200 and response.json()["note"] == "已確認"

    def test_the_list_filters_by_server_result_and_dates(self, client_for):
        c = client_for(SYSADMIN)
        a, b = server(name="甲主機"), server(name="乙主機")
        manual(a, at=dt.datetime(2026, 10, 1, 1, 0, tzinfo=dt.UTC), offset=1.5)
        manual(a, at=dt.datetime(2026, 11, 1, 1, 0, tzinfo=dt.UTC), offset=3000.0, ok=False)
        # 115/09/30 23:30 in Taipei: the 30th there, the 30th in UTC is 15:30.
        manual(b, at=dt.datetime(2026, 9, 30, 15, 30, tzinfo=dt.UTC), offset=2.5)

        def count(**query):
            response = c.get("/api/time-syncs/", query)
            assert response.status_code == 200
            return response.json()["count"]

        assert count() == 3
        assert count(server=a.pk) == 2
        assert count(ok="false") == 1 and count(ok="true") == 2
        assert count(checked_from="115/10/01") == 2  # local days (Asia/Taipei)
        assert count(checked_to="115/09/30") == 1
        assert count(checked_from="115/10/01", checked_to="115/10/31") == 1
        page = c.get(reverse("operations:timesync_list"), {"server": b.pk}).content.decode()
        assert "乙主機" in page and "+2.5" in page and "甲主機" not in page.split("<tbody>")[1]

    def test_the_record_page_shows_the_result_and_links_the_server(self, client_for):
        c = client_for(SYSADMIN)
        s = server(name="網站主機")
        sync = manual(s, offset=3000.0, ok=False, error="時間誤差 +3,000.0 毫秒超過容許值")
        page = c.get(sync.get_absolute_url()).content.decode()
        assert s.get_absolute_url() in page and "不計為每季校時" in page
        assert "+3,000.0" in page


# isms check-time against a real NTP responder ----------------------------------------------------
class TestCheck:
    def test_the_measured_offset_is_recorded(self, ntp):
        responder = ntp(0.25)
        s = server()
        (outcome,) = timesync.check(
            [f"{s.property_number}=127.0.0.1"], actor=None, port=responder.port, timeout=2
        )
        sync = outcome.sync
        assert outcome.ok and sync.pk and sync.ok and sync.error == ""
        assert abs(sync.offset_ms - 250) < TOLERANCE_MS
        assert sync.server == s and sync.host == "127.0.0.1"
        assert sync.source == TimeSync.Source.CHECK and sync.recorded_by is None
        assert sync.reference == "192.168.10.1（第 2 層）"
        assert abs((timezone.now() - sync.checked_at).total_seconds()) < 5
        assert responder.versions == [3]

    def test_a_slow_clock_gives_a_negative_offset(self, ntp):
        responder = ntp(-0.4)
        s = server()
        (outcome,) = timesync.check(
            [f"{s.property_number}=127.0.0.1"], actor=None, port=responder.port, timeout=2
        )
        assert abs(outcome.sync.offset_ms + 400) < TOLERANCE_MS and outcome.ok

    @pytest.mark.parametrize("version", [3, 4])
    def test_v3_and_v4_are_answered(self, ntp, version):
        responder = ntp(0.1)
        s = server()
        (outcome,) = timesync.check(
            [f"{s.property_number}=127.0.0.1"],
            actor=None,
            port=responder.port,
            timeout=2,
            version=version,
        )
        assert outcome.ok and responder.versions == [version]

    def test_an_offset_over_the_threshold_is_flagged_and_mailed(self, ntp, admins):
        responder = ntp(2.5)
        s = server()
        (outcome,) = timesync.check(
            [f"{s.property_number}=127.0.0.1"], actor=None, port=responder.port, timeout=2
        )
        sync = outcome.sync
        assert not outcome.ok and not sync.ok
        assert abs(sync.offset_ms - 2500) < TOLERANCE_MS
        assert "超過容許值 ±1,000 毫秒" in sync.error
        for admin in admins:  # a command acts for nobody: everyone is told
            (mail,) = mails(admin)
            assert "校時異常" in mail.subject and s.property_number in mail.subject
        # Checked again the same day: recorded again, not mailed again.
        timesync.check(
            [f"{s.property_number}=127.0.0.1"], actor=None, port=responder.port, timeout=2
        )
        assert TimeSync.objects.count() == 2 and mails().count() == 2

    def test_the_threshold_setting_decides(self, ntp, settings):
        settings.ISMS_TIME_OFFSET_MS = 5000
        responder = ntp(2.5)
        s = server()
        (outcome,) = timesync.check(
            [f"{s.property_number}=127.0.0.1"], actor=None, port=responder.port, timeout=2
        )
        assert outcome.ok

    def test_a_closed_port_is_recorded_as_a_failed_check(self, admins):
        s = server()
        started = time.monotonic()
        (outcome,) = timesync.check(
            [f"{s.property_number}=127.0.0.1"], actor=None, port=closed_port(), timeout=0.5
        )
        assert time.monotonic() - started < 5
        sync = TimeSync.objects.get()
        assert outcome.sync == sync and not outcome.ok
        assert (sync.ok, sync.offset_ms, sync.source) == (False, None, "check")
        assert "連線被拒" in sync.error or "沒有回應" in sync.error
        assert mails().count() == 2  # a failed check is flagged too

    def test_a_host_that_does_not_answer_times_out(self, ntp):
        responder = ntp(0.0, silent=True)
        s = server()
        (outcome,) = timesync.check(
            [f"{s.property_number}=127.0.0.1"], actor=None, port=responder.port, timeout=0.3
        )
        assert not outcome.ok and outcome.sync.offset_ms is None
        assert "0.3 秒內沒有回應" in outcome.sync.error

    def test_an_unknown_host_name_is_a_failed_check(self):
        s = server()
        (outcome,) = timesync.check(
            [f"{s.property_number}=no-such-host.invalid"], actor=None, port=123, timeout=0.5
        )
        assert not outcome.ok and "無法解析主機名稱" in outcome.sync.error

    @pytest.mark.parametrize(
        ("options", "text", "has_offset"),
        [
            ({"leap": 3}, "尚未與校時來源同步", True),
            ({"stratum": 16}, "尚未與校時來源同步", True),
            ({"stratum": 0}, "Kiss-o'-Death RATE", False),
            ({"mode": 3}, "不是 NTP 伺服器的回應", False),
            ({"echo": False}, "未帶回本次查詢的時間戳記", False),
        ],
    )
    def test_an_answer_that_is_no_synchronised_servers_is_flagged(
        self, ntp, options, text, has_offset
    ):
        responder = ntp(0.0, **options)
        s = server()
        (outcome,) = timesync.check(
            [f"{s.property_number}=127.0.0.1"], actor=None, port=responder.port, timeout=1
        )
        assert not outcome.ok and text in outcome.sync.error
        assert (outcome.sync.offset_ms is not None) is has_offset

    def test_a_plain_host_is_the_server_of_that_name(self, ntp):
        responder = ntp(0.05)
        s = server(name="127.0.0.1")
        (outcome,) = timesync.check(["127.0.0.1"], actor=None, port=responder.port, timeout=2)
        assert outcome.ok and outcome.sync.server == s

    def test_arguments_naming_no_server_record_nothing(self, ntp):
        responder = ntp(0.0)
        server("3140101-01-000001", name="web01")
        server("3140101-01-000002", name="WEB01")
        server("3140101-03-000003", kind=Kind.PC, name="pc01")
        server("3140101-01-000004", state=State.DECOMMISSIONED, name="old01")
        cases = {
            "9999999-99-999999=127.0.0.1": "不在資產清冊中",
            "3140101-03-000003=127.0.0.1": "不是伺服器",
            "3140101-01-000004=127.0.0.1": "已報廢",
            "old01": "已報廢",
            "unknown01": "沒有名稱為「unknown01」的伺服器",
            "web01": "有 2 台伺服器名稱為「web01」",
            "校務主機": "「校務主機」不是主機名稱或 IP 位址",
            "3140101-01-000001": "是財產編號",
            "=127.0.0.1": "缺少財產編號",
            "3140101-01-000001=": "請寫明要查詢的主機位址",
            "3140101-01-000001=bad host": "不是主機名稱或 IP 位址",
        }
        outcomes = timesync.check(list(cases), actor=None, port=responder.port, timeout=1)
        assert [o.target.argument for o in outcomes] == list(cases)
        for outcome, text in zip(outcomes, cases.values(), strict=True):
            assert outcome.sync is None and not outcome.ok
            assert text in outcome.message, (outcome.target.argument, outcome.message)
        assert not TimeSync.objects.exists() and responder.versions == []

    def test_several_hosts_are_each_recorded_once(self, ntp):
        fast, slow = ntp(0.02), ntp(-0.03)
        a, b = server(), server()
        # Two responders need two ports: each check asks one port.
        first = timesync.check(
            [f"{a.property_number}=127.0.0.1", f"{a.property_number}=127.0.0.1"],
            actor=None,
            port=fast.port,
            timeout=2,
        )
        second = timesync.check(
            [f"{b.property_number}=127.0.0.1"], actor=None, port=slow.port, timeout=2
        )
        assert len(first) == 1 and first[0].ok and second[0].ok
        assert TimeSync.objects.filter(server=a).count() == 1
        assert TimeSync.objects.filter(server=b).count() == 1

    def test_the_check_is_audited_and_refreshes_the_duty(self, ntp, monkeypatch):
        monkeypatch.setenv("ISMS_ACTOR_LABEL", "cli:check_time (root)")
        responder = ntp(0.0)
        s = server()
        timesync.check(
            [f"{s.property_number}=127.0.0.1"], actor=None, port=responder.port, timeout=2
        )
        sync = TimeSync.objects.get()
        entry = AuditEntry.objects.get(model_label="operations.timesync")
        assert entry.object_id == str(sync.pk) and entry.actor_label == "cli:check_time (root)"
        state = ObligationState.objects.get(key=DUTY, subject_id=str(s.pk))
        assert state.status == "ok" and state.last_done_at == sync.checked_at

    def test_a_bad_port_or_timeout_is_refused(self):
        with pytest.raises(ValueError):
            timesync.check(["x=y"], actor=None, port=0)
        with pytest.raises(ValueError):
            timesync.check(["x=y"], actor=None, timeout=0)


class TestCommand:
    def run(self, *args):
        out = io.StringIO()
        try:
            call_command("check_time", *args, stdout=out)
        except SystemExit as exit_:
            return exit_.code, out.getvalue()
        return 0, out.getvalue()

    def test_all_well_exits_0_with_a_table(self, ntp):
        responder = ntp(0.1)
        s = server(name="校務主機")
        code, out = self.run(
            f"{s.property_number}=127.0.0.1", "--port", str(responder.port), "--timeout", "2"
        )
        assert code == 0, out
        header, rule, row, summary = out.strip().splitlines()
        assert header.split() == ["財產編號", "主機", "主機位址", "誤差（毫秒）", "結果", "說明"]
        assert set(rule.replace(" ", "")) == {"-"}
        assert row.split()[:3] == [s.property_number, "校務主機", "127.0.0.1"]
        assert "正常" in row and "共 1 台，0 台異常或未檢查" in summary
        # The columns line up (CJK characters take two columns).
        from isms.operations.management.commands.check_time import width

        assert width(header) <= width(rule) + 2

    def test_a_failure_or_an_unknown_server_exits_1(self, ntp):
        responder = ntp(3.0)
        s = server()
        code, out = self.run(
            "--server",
            s.property_number,
            "127.0.0.1",
            "nosuchserver",
            "--port",
            str(responder.port),
            "--timeout",
            "2",
        )
        assert code == 1
        assert "異常" in out and "未檢查" in out and "沒有名稱為「nosuchserver」" in out
        assert TimeSync.objects.get().ok is False

    def test_an_unreachable_host_exits_1(self):
        s = server()
        code, out = self.run(
            f"{s.property_number}=127.0.0.1", "--port", str(closed_port()), "--timeout", "0.5"
        )
        assert code == 1 and "檢查失敗" in out

    def test_arguments_are_required_and_checked(self):
        with pytest.raises(CommandError, match="至少指定一台主機"):
            call_command("check_time", stdout=io.StringIO())
        with pytest.raises(CommandError, match="連接埠"):
            call_command("check_time", "a=b", "--port", "70000", stdout=io.StringIO())
        with pytest.raises(CommandError, match="等候秒數"):
            call_command("check_time", "a=b", "--timeout", "0", stdout=io.StringIO())


# The quarterly duty per server -----------------------------------------------------------------
def at_taipei(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TAIPEI)


def state_of(s):
    engine.refresh(DUTY)
    st = ObligationState.objects.filter(key=DUTY, subject_id=str(s.pk)).first()
    return None if st is None else (st.status, st.next_due_at)


class TestDuty:
    def test_the_duty_is_quarterly_for_system_administrators(self):
        obligation = registry.REGISTRY[DUTY]
        assert obligation.clause == "2.5.2" and obligation.rhythm.period == "quarterly"
        assert obligation.responsible_role == SYSADMIN
        records = registry.RECORDS["operations.timesync"]
        assert records.date_field == "checked_at" and records.obligations == (DUTY,)

    def test_the_subjects_are_the_servers_in_use(self):
        in_use = server()
        server(state=State.STORAGE)
        server(state=State.DECOMMISSIONED)
        server(voided_at=timezone.now())
        server(kind=Kind.PC)
        subjects = registry.REGISTRY[DUTY].subjects()
        assert list(subjects) == [in_use]

    def test_only_a_sync_within_tolerance_is_evidence(self):
        with time_machine.travel(at_taipei(2026, 5, 10, 9, 0), tick=False):
            s = server()
            manual(s, at=at_taipei(2026, 5, 1, 9, 0), offset=5000, ok=False)
            TimeSync.objects.create(
                server=s,
                checked_at=at_taipei(2026, 5, 2, 9, 0),
                ok=False,
                error="沒有回應",
                source="check",
            )
            assert state_of(s)[0] == "never_done"
            good = manual(s, at=at_taipei(2026, 4, 1, 0, 0), offset=2)
            manual(s, at=at_taipei(2026, 5, 3, 9, 0), offset=9000, ok=False)  # later, bad
            assert state_of(s) == ("ok", at_taipei(2026, 9, 30, 23, 59, 59))
            st = ObligationState.objects.get(key=DUTY, subject_id=str(s.pk))
            assert st.last_done_at == good.checked_at

    def test_the_quarter_boundaries_in_taipei(self):
        with time_machine.travel(at_taipei(2026, 3, 1, 9, 0), tick=False) as clock:
            s = server()
            assert state_of(s) == ("never_done", at_taipei(2026, 3, 31, 23, 59, 59))
            # The last minute of the first quarter, in Taipei (15:59 UTC).
            manual(s, at=at_taipei(2026, 3, 31, 23, 59), offset=1)
            clock.move_to(at_taipei(2026, 3, 31, 23, 59, 30))
            assert state_of(s) == ("ok", at_taipei(2026, 6, 30, 23, 59, 59))
            # Into the second quarter: due by its end, due soon from 14 days before.
            clock.move_to(at_taipei(2026, 4, 1, 0, 0, 1))
            assert state_of(s) == ("ok", at_taipei(2026, 6, 30, 23, 59, 59))
            clock.move_to(at_taipei(2026, 6, 17, 0, 0, 1))
            assert state_of(s) == ("due_soon", at_taipei(2026, 6, 30, 23, 59, 59))
            # The second quarter passed without a sync: overdue from the first second of Q3.
            clock.move_to(at_taipei(2026, 7, 1, 0, 0, 0))
            assert state_of(s) == ("overdue", at_taipei(2026, 6, 30, 23, 59, 59))
            # A sync in the third quarter puts it right until the end of the fourth.
            manual(s, at=at_taipei(2026, 7, 1, 0, 0, 0), offset=-3)
            assert state_of(s) == ("ok", at_taipei(2026, 12, 31, 23, 59, 59))

    def test_each_server_has_its_own_state(self):
        with time_machine.travel(at_taipei(2026, 11, 30, 10, 0), tick=False):
            a, b = server(), server()
            manual(a, at=at_taipei(2026, 10, 5, 10, 0))
            assert state_of(a)[0] == "ok"
            assert state_of(b)[0] == "never_done"

    def test_a_record_through_the_service_refreshes_the_duty_at_once(self, make_user):
        with time_machine.travel(at_taipei(2026, 11, 30, 10, 0), tick=False):
            s = server()
            engine.refresh(DUTY)
            sync = timesync.record(
                server=s,
                checked_at=at_taipei(2026, 11, 30, 9, 0),
                offset_ms=1,
                actor=make_user("admin", SYSADMIN),
            )
            st = ObligationState.objects.get(key=DUTY, subject_id=str(s.pk))
            assert st.status == "ok" and st.last_done_at == sync.checked_at

    def test_the_evidence_binder_sees_each_quarter(self):
        with time_machine.travel(at_taipei(2026, 12, 31, 12, 0), tick=False):
            s = server()
            Asset.objects.filter(pk=s.pk).update(created_at=at_taipei(2025, 12, 1, 0, 0))
            manual(s, at=at_taipei(2026, 2, 1, 10, 0))
            manual(s, at=at_taipei(2026, 5, 1, 10, 0), offset=5000, ok=False)  # not counted
            manual(s, at=at_taipei(2026, 8, 1, 10, 0))
            manual(s, at=at_taipei(2026, 11, 1, 10, 0))
            result = coverage.coverage(
                registry.REGISTRY[DUTY], dt.date(2026, 1, 1), dt.date(2026, 12, 31)
            )
            (row,) = result.subjects
            assert (row.periods, row.kept) == (4, 3)
            assert len(row.evidence) == 3

    def test_the_evidence_query_does_not_grow_with_servers(self, django_assert_max_num_queries):
        with time_machine.travel(at_taipei(2026, 11, 30, 10, 0), tick=False):
            for _ in range(30):
                manual(server(), at=at_taipei(2026, 11, 1, 10, 0))
            obligation = registry.REGISTRY[DUTY]
            with django_assert_max_num_queries(1):
                done = obligation.evidence(obligation.subjects())
            assert len(done) == 30
