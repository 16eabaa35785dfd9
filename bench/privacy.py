"""The privacy bench (issue 10): 3,000 personal-data files of the inventory (with their codes
from the official lists), 20,000 yearly reviews, 5,000 data-subject requests over ten years
and 20,000 hand-overs of paper personal data over five; the inventory's list page, its public
page and public JSON (no sign-in), the requests' and transfers' list pages and the requests'
API list, each beside its floor; and their query counts with a few rows and with many.

The files are the 30 bench units' (100 each), nine in ten published, each with one to four
specific purposes and two to six data categories of the code lists that migration
``privacy.0002_codes`` loads; one in ten was last reviewed more than a year ago (逾期未檢視).
The requests are the security officer's, most answered, some open (a few past their
deadline), each naming one or two files; they are numbered ``PD-<ROC year>-B0001`` so that
the product's own numbering (digits only) never meets them. The transfers go between the
bench's logins (one in seven to an outside recipient), 97 % confirmed.

Seeded with bulk_create in one transaction (the services' rules are tested elsewhere; here
only the reading paths are timed), deterministic, once. Run alone:
``python -m bench --only privacy``.
"""

import datetime as dt
import json
import random
from urllib.parse import quote

FILES = 3000
REVIEWS = 20_000
REQUESTS = 5000
TRANSFERS = 20_000
REQUEST_YEARS = 10
TRANSFER_YEARS = 5
MARK = "bench"
# Bench requests' numbers: PD-115-B0001 (the product numbers PD-115-0001 with digits only).
NUMBER_MARK = "-B"
FILE_KINDS = [
    "學籍資料",
    "學生成績資料",
    "學生健康檢查資料",
    "教職員人事資料",
    "學生輔導紀錄",
    "校務行政系統帳號",
    "家長聯絡資料",
    "獎助學金申請資料",
    "校外教學保險名冊",
    "圖書借閱紀錄",
]
BASES = [
    "高級中等教育法第 43 條",
    "學校衛生法第 8 條",
    "學生輔導法第 17 條",
    "教師法第 26 條",
    "個人資料保護法第 15 條第 1 款",
]
WHAT = ["學生成績單", "健康檢查紀錄表", "獎學金申請書", "輔導轉介單", "人事資料表", "保險名冊"]
KINDS = ["query", "view", "copy", "correct", "stop", "delete"]
CHANNELS = ["counter", "letter", "email", "other"]

INVENTORY_LOOP = (
    '<table>{% for f in rows %}<tr><td><a href="/privacy/files/{{ f.pk }}/">{{ f.name }}</a>'
    "</td><td>{{ f.unit.name }}</td><td>{% for c in f.purposes.all %}{{ c.code }} {% endfor %}"
    "</td><td>{% for c in f.categories.all %}{{ c.code }} {% endfor %}</td>"
    "<td>{{ f.get_visibility_display }}</td><td>{{ f.last_reviewed_at }}</td></tr>{% endfor %}"
    "</table>"
)
PUBLIC_LOOP = (
    "<table>{% for f in rows %}<tr><td>{{ forloop.counter }}</td><td>"
    '<a href="/privacy/public/{{ f.pk }}/">{{ f.name }}</a></td><td>{{ school.name }}'
    "{{ f.unit.name }} {{ f.contact_phone }} {{ f.contact_email }}</td><td>{{ f.legal_basis }}"
    "{% for c in f.purposes.all %}<div>{{ c.code }} {{ c.name }}</div>{% endfor %}"
    "{{ f.purpose_note }}</td><td>{% for c in f.categories.all %}<div>{{ c.code }} {{ c.name }}"
    "</div>{% endfor %}</td></tr>{% endfor %}</table>"
)
REQUEST_LOOP = (
    '<table>{% for r in rows %}<tr><td><a href="/privacy/requests/{{ r.pk }}/">{{ r.number }}'
    "</a></td><td>{{ r.get_kind_display }}</td><td>{{ r.requester_name }}</td>"
    "<td>{{ r.received_at }}</td><td>{{ r.extended_at }}</td><td>{{ r.replied_at }}</td>"
    "</tr>{% endfor %}</table>"
)
TRANSFER_LOOP = (
    '<table>{% for t in rows %}<tr><td><a href="/privacy/transfers/{{ t.pk }}/">'
    "{{ t.handed_at }}</a></td><td>{{ t.what }}</td><td>{{ t.copies }}</td>"
    "<td>{{ t.sealed }}{{ t.protection }}</td><td>{{ t.sender.person.name }}</td>"
    "<td>{{ t.recipient.person.name }}{{ t.external_recipient }}</td>"
    "<td>{{ t.received_at }} {{ t.received_by.person.name }}</td></tr>{% endfor %}</table>"
)


def seed():
    """The files with their codes and reviews, the requests and the transfers (once)."""
    from django.db import transaction

    from bench.awareness import link_logins

    link_logins()  # the transfers go between logins with a person
    if _done():
        return
    with transaction.atomic():
        _clear()
        _seed()


def _done() -> bool:
    from isms.privacy.models import FileReview, PaperTransfer, PersonalDataFile, SubjectRequest

    return (
        PersonalDataFile.objects.filter(notes=MARK).count() >= FILES
        and FileReview.objects.filter(note=MARK).count() >= REVIEWS
        and SubjectRequest.objects.filter(number__contains=NUMBER_MARK).count() >= REQUESTS
        and PaperTransfer.objects.filter(notes=MARK).count() >= TRANSFERS
    )


def _clear():
    from isms.privacy.models import FileReview, PaperTransfer, PersonalDataFile, SubjectRequest

    # The reviews and transfers protect their file: gone first.
    FileReview.objects.filter(note=MARK).delete()
    PaperTransfer.objects.filter(notes=MARK).delete()
    SubjectRequest.objects.filter(number__contains=NUMBER_MARK).delete()
    PersonalDataFile.objects.filter(notes=MARK).delete()


def _moment(day: dt.date, rng) -> dt.datetime:
    from django.utils import timezone

    at = dt.datetime.combine(day, dt.time(8 + rng.randrange(9), rng.randrange(60)))
    return timezone.make_aware(at)


def _seed():
    from django.utils import timezone

    from bench.awareness import _units
    from isms.core import roc
    from isms.core.models import User
    from isms.privacy.models import (
        CategoryCode,
        FileReview,
        PaperTransfer,
        PersonalDataFile,
        PurposeCode,
        SubjectRequest,
    )

    rng = random.Random(11)
    today = timezone.localdate()
    now = timezone.now()
    officer = User.objects.get(username="bench-officer")
    units = list(_units())
    purposes = list(PurposeCode.objects.filter(is_active=True).order_by("code"))
    categories = list(CategoryCode.objects.filter(is_active=True).order_by("code"))
    if not purposes or not categories:
        raise RuntimeError("the privacy code lists are not loaded (migration privacy.0002)")

    # 3,000 files, 100 a unit, entered over the last thirteen years.
    files = []
    for n in range(FILES):
        unit = units[n % len(units)]
        public = n % 10 != 0
        files.append(
            PersonalDataFile(
                name=f"{FILE_KINDS[n % len(FILE_KINDS)]}{n // len(units):03d}",
                unit=unit,
                contact_name=f"承辦人{n % 50:02d}",
                contact_phone=f"02-2{unit.pk % 1000:03d}-{n:04d}#{n % 900 + 100}",
                contact_email=f"unit{unit.pk}@school.example" if n % 3 else "",
                legal_basis=rng.choice(BASES),
                purpose_note="辦理學生在學期間之學籍管理" if n % 7 == 0 else "",
                paper=n % 4 == 0,
                retention=rng.choice(["學生畢業後 5 年", "永久保存", "離職後 10 年"]),
                users=f"{unit.name}承辦人員",
                visibility="public" if public else "internal",
                internal_reason="" if public else "政府資訊公開法第 18 條第 1 項第 6 款",
                notes=MARK,
            )
        )
    files = PersonalDataFile.objects.bulk_create(files, batch_size=1000)
    entered = {}
    for f in files:
        f.created_at = now - dt.timedelta(days=rng.randrange(400, 13 * 365))
        entered[f.pk] = f.created_at
    PersonalDataFile.objects.bulk_update(files, ["created_at"], batch_size=1000)
    through_p = PersonalDataFile.purposes.through
    through_c = PersonalDataFile.categories.through
    through_p.objects.bulk_create(
        [
            through_p(personaldatafile_id=f.pk, purposecode_id=p.pk)
            for f in files
            for p in rng.sample(purposes, 1 + rng.randrange(4))
        ],
        batch_size=5000,
    )
    through_c.objects.bulk_create(
        [
            through_c(personaldatafile_id=f.pk, categorycode_id=c.pk)
            for f in files
            for c in rng.sample(categories, 2 + rng.randrange(5))
        ],
        batch_size=5000,
    )

    # 20,000 yearly reviews: each file reviewed once a year since its entry, its latest
    # review a year and more ago for one file in ten (逾期未檢視); the oldest ones beyond
    # the count are left out.
    reviews = []
    for i, f in enumerate(files):
        at = now - dt.timedelta(
            days=400 if i % 10 == 0 else rng.randrange(5, 300), minutes=rng.randrange(600)
        )
        while at > entered[f.pk]:
            reviews.append(FileReview(file=f, reviewed_at=at, reviewer=officer, note=MARK))
            at -= dt.timedelta(days=365)
    reviews.sort(key=lambda r: r.reviewed_at, reverse=True)
    FileReview.objects.bulk_create(reviews[:REVIEWS], batch_size=5000)

    # 5,000 requests over ten years, numbered per ROC year of receipt.
    public_files = [f for f in files if f.visibility == "public"]
    first = today - dt.timedelta(days=365 * REQUEST_YEARS)
    days = sorted(
        first + dt.timedelta(days=rng.randrange((today - first).days + 1)) for _ in range(REQUESTS)
    )
    running = {}
    requests_, links = [], []
    for n, day in enumerate(days):
        received = _moment(day, rng)
        if received > now:
            received = now - dt.timedelta(hours=1)
        year = roc.roc_year(timezone.localdate(received))
        running[year] = running.get(year, 0) + 1
        kind = rng.choice(KINDS)
        age = (today - day).days
        answered = age > 45 or (age > 5 and n % 3 != 0)
        extended = n % 12 == 0 and age > 10
        checked = received + dt.timedelta(hours=2) if age >= 1 else None
        decided = received + dt.timedelta(days=min(age, 8)) if answered else None
        replied = decided + dt.timedelta(hours=3) if answered else None
        requests_.append(
            SubjectRequest(
                number=f"PD-{year}{NUMBER_MARK}{running[year]:04d}",
                kind=kind,
                received_at=received,
                channel=rng.choice(CHANNELS),
                requester_name=f"請求人{n:04d}",
                requester_contact=f"r{n:04d}@mail.example",
                by_agent=n % 20 == 0,
                agent_name=f"代理人{n:04d}" if n % 20 == 0 else "",
                details=f"請求{kind}本人之個人資料（第 {n} 件）",
                handler=officer,
                identity_checked_at=checked,
                identity_checked_by=officer if checked else None,
                identity_method="核對身分證正本" if checked else "",
                extended_at=received + dt.timedelta(days=3) if extended else None,
                extension_reason="資料分散於多個單位，需調閱整理" if extended else "",
                extension_notified_on=day + dt.timedelta(days=3) if extended else None,
                decision="granted" if answered else "",
                decided_at=decided,
                decided_by=officer if answered else None,
                replied_at=replied,
                reply_method="電子郵件" if answered else "",
                reply_text="已依請求提供" if answered else "",
            )
        )
    requests_ = SubjectRequest.objects.bulk_create(requests_, batch_size=1000)
    through_r = SubjectRequest.files.through
    for r in requests_:
        for f in rng.sample(public_files, 1 + rng.randrange(2)):
            links.append(through_r(subjectrequest_id=r.pk, personaldatafile_id=f.pk))
    through_r.objects.bulk_create(links, batch_size=5000)

    # 20,000 transfers over five years between the bench's logins.
    logins = list(
        User.objects.filter(username__startswith="user", person__isnull=False).order_by("username")
    ) or [officer]
    first = today - dt.timedelta(days=365 * TRANSFER_YEARS)
    rows = []
    for n in range(TRANSFERS):
        day = first + dt.timedelta(days=rng.randrange((today - first).days + 1))
        handed = min(_moment(day, rng), now - dt.timedelta(minutes=5))
        sender = logins[rng.randrange(len(logins))]
        outside = n % 7 == 0
        recipient = None if outside else logins[rng.randrange(len(logins))]
        confirmed = n % 33 != 0 and handed < now - dt.timedelta(hours=6)
        sealed = n % 10 != 0
        rows.append(
            PaperTransfer(
                what=f"{rng.choice(WHAT)}（第 {n} 批）",
                file=public_files[n % len(public_files)] if n % 2 == 0 else None,
                copies=1 + rng.randrange(30),
                sealed=sealed,
                protection="" if sealed else "專人親送、放入上鎖公文袋",
                sender=sender,
                recipient=recipient,
                external_recipient="臺北市政府教育局" if outside else "",
                handed_at=handed,
                received_at=handed + dt.timedelta(hours=rng.randrange(1, 48))
                if confirmed
                else None,
                received_by=(sender if outside else recipient) if confirmed else None,
                receipt_note="簽收單" if confirmed and outside else "",
                notes=MARK,
            )
        )
    PaperTransfer.objects.bulk_create(rows, batch_size=2000)


# Floors ------------------------------------------------------------------------------------------
def inventory_floor(engine):
    """The list's query (files with their latest review, unit and codes) through a bare loop."""
    from isms.privacy import inventory
    from isms.privacy.models import PersonalDataFile

    template = engine.from_string(INVENTORY_LOOP)

    def floor():
        qs = inventory.with_review(
            PersonalDataFile.objects.filter(voided_at__isnull=True)
            .select_related("unit")
            .prefetch_related("purposes", "categories")
            .order_by("unit__name", "name", "id")
        )
        return template.render({"rows": list(qs[:50])})

    return floor


def public_floor(engine):
    """The public page's query (every published file, unit and codes) through a bare loop."""
    from isms.core.models import SchoolProfile
    from isms.privacy import inventory

    template = engine.from_string(PUBLIC_LOOP)

    def floor():
        school = SchoolProfile.load()
        return template.render({"rows": list(inventory.public_files()), "school": school})

    return floor


def public_json_floor():
    """The published files' four items as ``.values()`` and their codes (three queries),
    ``json.dumps``."""
    from isms.core.models import SchoolProfile
    from isms.privacy.models import PersonalDataFile

    def floor():
        school = SchoolProfile.load()
        qs = PersonalDataFile.objects.filter(voided_at__isnull=True, visibility="public")
        rows = list(
            qs.order_by("unit__name", "name", "id").values(
                "id",
                "name",
                "unit__name",
                "contact_phone",
                "contact_email",
                "legal_basis",
                "purpose_note",
            )
        )
        ids = qs.values("pk")
        for name, through, column in (
            ("purposes", PersonalDataFile.purposes.through, "purposecode"),
            ("categories", PersonalDataFile.categories.through, "categorycode"),
        ):
            found = {}
            links = through.objects.filter(personaldatafile_id__in=ids).order_by(f"{column}__code")
            for pk, code, label in links.values_list(
                "personaldatafile_id", f"{column}__code", f"{column}__name"
            ):
                found.setdefault(pk, []).append({"code": code, "name": label})
            for r in rows:
                r[name] = found.get(r["id"], [])
        for r in rows:
            r["agency"] = school.name
            r["url"] = f"/privacy/public/{r['id']}/"
        body = {"school": school.name, "count": len(rows), "files": rows}
        return json.dumps(body, ensure_ascii=False, default=str)

    return floor


def request_floor(engine):
    from isms.privacy.models import SubjectRequest

    template = engine.from_string(REQUEST_LOOP)

    def floor():
        qs = (
            SubjectRequest.objects.filter(voided_at__isnull=True)
            .select_related("handler__person")
            .prefetch_related("files")
            .order_by("-received_at", "-id")
        )
        return template.render({"rows": list(qs[:50])})

    return floor


def transfer_floor(engine):
    from isms.privacy.models import PaperTransfer

    template = engine.from_string(TRANSFER_LOOP)

    def floor():
        qs = PaperTransfer.objects.filter(voided_at__isnull=True).select_related(
            "sender__person", "recipient__person", "received_by__person", "file"
        )
        return template.render({"rows": list(qs.order_by("-handed_at", "-id")[:50])})

    return floor


def request_json_floor():
    """The API's columns and each request's files (ids; two queries), ``json.dumps``."""
    from isms.privacy.models import SubjectRequest
    from isms.privacy.views_requests import SubjectRequestSerializer

    model = SubjectRequestSerializer.Meta.model
    columns = {f.name: f.attname for f in model._meta.concrete_fields}
    fields = [columns[f] for f in SubjectRequestSerializer.Meta.fields if f in columns]

    def floor():
        qs = SubjectRequest.objects.filter(voided_at__isnull=True).order_by("-received_at", "-id")
        rows = list(qs.values(*fields)[:50])
        found = {}
        through = SubjectRequest.files.through
        for pk, file_id in through.objects.filter(
            subjectrequest_id__in=[r["id"] for r in rows]
        ).values_list("subjectrequest_id", "personaldatafile_id"):
            found.setdefault(pk, []).append(file_id)
        for r in rows:
            r["files"] = found.get(r["id"], [])
        return json.dumps(rows, default=str, ensure_ascii=False)

    return floor


# Query counts ------------------------------------------------------------------------------------
def query_counts(client, anonymous, api_client) -> dict:
    """Each page's queries with a few rows and with many (must be equal)."""
    from django.db import transaction

    from bench.__main__ import count_queries
    from isms.privacy.models import PaperTransfer, PersonalDataFile, SubjectRequest

    file = PersonalDataFile.objects.filter(notes=MARK).order_by("id").first()
    request = SubjectRequest.objects.filter(number__contains=NUMBER_MARK).order_by("id").first()
    transfer = PaperTransfer.objects.filter(notes=MARK).order_by("id").first()

    def queries(url, http=client):
        def hit():
            response = http.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return count_queries(hit)

    # A new token records its first use (one UPDATE): not a query of the list.
    api_client.get("/api/data-subject-requests/?page_size=1")
    counts = {
        "inventory list page": [
            queries(f"/privacy/files/?q={quote(file.name)}"),
            queries("/privacy/files/"),
        ],
        "requests list page": [
            queries(f"/privacy/requests/?q={quote(request.number)}"),
            queries("/privacy/requests/"),
        ],
        "transfers list page": [
            queries(f"/privacy/transfers/?q={quote(transfer.what)}"),
            queries("/privacy/transfers/"),
        ],
        "requests API list": [
            queries(f"/api/data-subject-requests/?q={quote(request.number)}", api_client),
            queries("/api/data-subject-requests/", api_client),
        ],
    }
    # The public page and JSON are not paged: every published file. A few rows: all but
    # three made internal (rolled back).
    many_page = queries("/privacy/public/", anonymous)
    many_json = queries("/api/personal-data-files/public/", anonymous)
    with transaction.atomic():
        keep = list(
            PersonalDataFile.objects.filter(notes=MARK, visibility="public")
            .order_by("id")
            .values_list("id", flat=True)[:3]
        )
        PersonalDataFile.objects.filter(notes=MARK).exclude(pk__in=keep).update(
            visibility="internal"
        )
        few_page = queries("/privacy/public/", anonymous)
        few_json = queries("/api/personal-data-files/public/", anonymous)
        transaction.set_rollback(True)
    counts["public page"] = [few_page, many_page]
    counts["public JSON"] = [few_json, many_json]
    return counts


def bench(page, api, engine) -> dict:
    """Seed, then time each reading path with the caller's ``page`` and ``api``."""
    from django.test import Client

    from isms.core import services
    from isms.core.models import ApiToken, User
    from isms.privacy import inventory
    from isms.privacy.models import FileReview, PaperTransfer, PersonalDataFile, SubjectRequest

    seed()
    page("inventory list page", "/privacy/files/", inventory_floor(engine))
    page(
        "public inventory page (anonymous)",
        "/privacy/public/",
        public_floor(engine),
        anonymous=True,
    )
    api(
        "public inventory JSON (anonymous)",
        "/api/personal-data-files/public/",
        public_json_floor(),
        anonymous=True,
    )
    page("data-subject requests list page", "/privacy/requests/", request_floor(engine))
    page("paper transfers list page", "/privacy/transfers/", transfer_floor(engine))
    api("data-subject requests API list", "/api/data-subject-requests/", request_json_floor())
    officer = User.objects.get(username="bench-officer")
    client = Client()
    client.force_login(officer)
    ApiToken.objects.filter(user=officer, name="bench-privacy").delete()
    _token, key = services.token_create(user=officer, name="bench-privacy", actor=None)
    counts = query_counts(client, Client(), Client(HTTP_AUTHORIZATION=f"Token {key}"))
    return {
        "files": PersonalDataFile.objects.count(),
        "published_files": inventory.public_files().count(),
        "reviews": FileReview.objects.count(),
        "requests": SubjectRequest.objects.count(),
        "transfers": PaperTransfer.objects.count(),
        "query_counts_few_vs_many": counts,
        "query_counts_constant": all(few == many for few, many in counts.values()),
    }
