"""The vendors bench (issue 9): 2,000 vendors with their contacts, 6,000 contracts over ten
years (with their systems and people), 30,000 confidentiality agreements (A-8, A-9, A-10: a
yearly renewal of each subject's paper, most signed); the list pages of vendors, contracts
and agreements, the 「應簽未簽」 page and the vendors' and contracts' API lists, each beside
its floor; and the list pages' query counts with a few rows and with a full page.

Of the bench's 3,000 people, those whose id ends in 3 or 5 become vendor staff (委外廠商人員,
each of a vendor) and those whose id ends in 7 contract staff (約聘(僱)人員). Contracts that
have ended are marked as the worker marks them (their access removal opened), so the
worker's first pass over the bench does not open thousands of account-removal tasks.

Seeded with bulk_create in one transaction (the services' rules are tested elsewhere; here
only the reading paths are timed), deterministic, once. Run alone:
``python -m bench --only vendors``.
"""

import datetime as dt
import json
import random
from urllib.parse import quote

VENDORS = 2000
CONTRACTS_PER_VENDOR = 3
RENEWALS = 10  # agreements per subject: one a year, the newest first
MARK = "bench"
SYLLABLES = "宏碁華碩聯電台達中興遠東大同光寶仁寶廣達英業達緯創神達精誠資通凌群敦陽零壹"
KINDS = ["資訊科技股份有限公司", "系統整合有限公司", "網路工程行", "數位服務股份有限公司"]
SERVICES = ["校務行政系統維護", "網路設備維護", "電腦教室維護", "資安監控服務", "網站代管"]

VENDOR_LOOP = (
    '<table>{% for v in rows %}<tr><td><a href="/vendors/vendors/{{ v.pk }}/">{{ v.name }}</a>'
    "</td><td>{{ v.tax_id }}</td><td>{{ v.representative }}</td><td>{{ v.phone }}</td>"
    "<td>{{ v.contact_count }}</td><td>{{ v.current_contracts }}</td></tr>{% endfor %}</table>"
)
CONTRACT_LOOP = (
    '<table>{% for c in rows %}<tr><td><a href="/vendors/contracts/{{ c.pk }}/">{{ c.title }}'
    "</a></td><td>{{ c.vendor.name }}</td><td>{{ c.number }}</td><td>{{ c.start_on }}</td>"
    "<td>{{ c.end_on }}</td><td>{{ c.security_terms }}</td><td>{{ c.confidentiality_terms }}"
    "</td><td>{{ c.owner.person.name }}</td></tr>{% endfor %}</table>"
)
AGREEMENT_LOOP = (
    '<table>{% for a in rows %}<tr><td><a href="/vendors/agreements/{{ a.pk }}/">'
    "{{ a.get_form_display }}</a></td><td>{{ a.person.name }}{{ a.vendor.name }}</td>"
    "<td>{{ a.person.organization }}</td><td>{{ a.position }}</td>"
    "<td>{{ a.get_status_display }}</td><td>{{ a.signed_on }}</td><td>{{ a.valid_until }}</td>"
    "</tr>{% endfor %}</table>"
)
FINDINGS_LOOP = (
    "{% for s in sections %}<h2>{{ s.label }}</h2><table>{% for r in s.rows %}<tr>"
    "<td>{{ r.subject.name }}</td><td>{{ r.need_on }}</td><td>{{ r.due_on }}</td>"
    "<td>{{ r.overdue }}</td><td>{{ r.lapsed_on }}</td><td>{{ r.draft_id }}</td></tr>"
    "{% endfor %}</table>{% endfor %}"
)


def seed():
    """The vendors, contracts and agreements (once; all or nothing)."""
    from django.db import transaction

    from bench import identity
    from bench.awareness import link_logins
    from isms.vendors.models import Agreement

    identity.seed()  # the 30 systems the contracts serve (a no-op once seeded)
    link_logins()  # the logins' people (the contracts' owner filter lists the logins)
    if Agreement.objects.filter(notes=MARK).count() >= agreement_count():
        return
    with transaction.atomic():
        _clear()
        _seed()


def agreement_count() -> int:
    from isms.core.models import Person

    people = Person.objects.filter(kind__in=["contract", "vendor"], notes=MARK).count()
    return RENEWALS * (people + VENDORS) if people else 1


def _clear():
    from isms.vendors.models import Agreement, Contract, Vendor

    Agreement.objects.filter(notes=MARK).delete()
    Contract.objects.filter(notes=MARK).delete()
    Vendor.objects.filter(notes=MARK).delete()


def _tax_ids(rng, count):
    from isms.core.validators import tax_id_ok

    seen = set()
    while len(seen) < count:
        value = f"{rng.randrange(10**7, 10**8)}"
        if tax_id_ok(value):
            seen.add(value)
    return sorted(seen)


def _seed():
    from django.utils import timezone

    from bench.operations import administrator
    from isms.core.models import Person, User
    from isms.identity.models import InformationSystem
    from isms.vendors.models import Agreement, Contract, Vendor, VendorContact

    rng = random.Random(9)
    today = timezone.localdate()
    officer = User.objects.get(username="bench-officer")
    owners = [officer, administrator()]
    vendors = Vendor.objects.bulk_create(
        [
            Vendor(
                name=f"{rng.choice(SYLLABLES)}{rng.choice(SYLLABLES)}{rng.choice(KINDS)}{n:04d}",
                tax_id=tax_id,
                representative=f"負責人{n:04d}",
                address=f"臺北市中正區重慶南路一段 {n} 號",
                phone=f"02-2{n:03d}-{rng.randrange(10000):04d}",
                email=f"v{n:04d}@vendor.example",
                notes=MARK,
            )
            for n, tax_id in enumerate(_tax_ids(rng, VENDORS))
        ],
        batch_size=1000,
    )
    VendorContact.objects.bulk_create(
        [
            VendorContact(
                vendor=v,
                name=f"窗口{v.pk}-{i}",
                title=rng.choice(["業務", "工程師", "專案經理"]),
                phone=f"09{rng.randrange(10**8):08d}",
                email=f"c{v.pk}-{i}@vendor.example",
            )
            for v in vendors
            for i in range(1 + rng.randrange(3))
        ],
        batch_size=2000,
    )

    # The bench people: ids ending in 3 or 5 work for a vendor, in 7 are contract staff.
    staff_of = {}
    people = list(Person.objects.order_by("id").filter(user__isnull=True))
    for person in people:
        digit = person.pk % 10
        if digit in (3, 5):
            vendor = vendors[rng.randrange(VENDORS)]
            person.kind, person.organization = Person.Kind.VENDOR, vendor.name
            staff_of.setdefault(vendor.pk, []).append(person)
        elif digit == 7:
            person.kind, person.organization = Person.Kind.CONTRACT, ""
        else:
            continue
        person.notes = MARK
        person.title = "駐點工程師" if digit != 7 else "約聘人員"
    changed = [p for p in people if p.notes == MARK]
    Person.objects.bulk_update(changed, ["kind", "organization", "notes", "title"], batch_size=1000)

    systems = list(InformationSystem.objects.order_by("id").values_list("id", flat=True))
    contracts, links = [], []
    for v in vendors:
        start = today - dt.timedelta(days=rng.randrange(365, 3650))
        for n in range(CONTRACTS_PER_VENDOR):
            end = start + dt.timedelta(days=365 * rng.randrange(1, 4) - 1)
            ended = end < today
            missing = rng.random() < 0.05
            contracts.append(
                Contract(
                    vendor=v,
                    title=f"{rng.choice(SERVICES)}合約 {v.pk}-{n + 1}",
                    number=f"B{v.pk:05d}-{n + 1}",
                    start_on=start,
                    end_on=end,
                    services="\n".join(rng.sample(SERVICES, 2)),
                    security_terms=not missing,
                    confidentiality_terms=True,
                    owner=owners[n % 2],
                    access_removal_opened_at=timezone.make_aware(
                        dt.datetime.combine(end + dt.timedelta(days=1), dt.time(1))
                    )
                    if ended
                    else None,
                    notes=MARK,
                )
            )
            start = end + dt.timedelta(days=1)
    contracts = Contract.objects.bulk_create(contracts, batch_size=1000)
    for i, c in enumerate(contracts):
        for system in systems[i % len(systems) :][: 1 + i % 2] if systems else []:
            links.append(Contract.systems.through(contract_id=c.pk, informationsystem_id=system))
    Contract.systems.through.objects.bulk_create(links, batch_size=5000)
    Contract.people.through.objects.bulk_create(
        [
            Contract.people.through(contract_id=c.pk, person_id=p.pk)
            for c in contracts
            for p in staff_of.get(c.vendor_id, [])
        ],
        batch_size=5000,
    )
    contracts_of = {}
    for c in contracts:
        contracts_of.setdefault(c.vendor_id, []).append(c)
    vendor_of = {p.pk: v for v, ps in staff_of.items() for p in ps}

    # Ten yearly agreements per subject, the newest first; one subject in ten has no valid
    # one today (its newest lapsed, or still a draft): the 「應簽未簽」 page's rows.
    subjects = [("A-8", p, None) for p in changed if p.kind == Person.Kind.CONTRACT]
    subjects += [("A-10", p, vendor_of[p.pk]) for p in changed if p.kind == Person.Kind.VENDOR]
    subjects += [("A-9", None, v.pk) for v in vendors]
    rows = []
    for index, (form, person, vendor_id) in enumerate(subjects):
        owned = contracts_of.get(vendor_id, [])
        missing = index % 10 == 0
        for year in range(RENEWALS):
            signed_on = today - dt.timedelta(days=365 * year + rng.randrange(20, 300))
            draft = year == 0 and missing and index % 20 == 0
            if year == 0 and not missing:
                valid_until = None if rng.random() < 0.5 else today + dt.timedelta(days=400)
            else:
                valid_until = signed_on + dt.timedelta(days=365)
            contract = owned[year % len(owned)] if owned and form != "A-8" else None
            rows.append(
                Agreement(
                    form=form,
                    person=person,
                    vendor_id=vendor_id,
                    contract=contract,
                    position="駐點維護"
                    if form == "A-10"
                    else ("行政助理" if form == "A-8" else ""),
                    services=contract.services if form == "A-9" and contract else "",
                    status="draft" if draft else "signed",
                    signed_on=None if draft else signed_on,
                    valid_until=None if draft else valid_until,
                    recorded_by=None if draft else officer,
                    notes=MARK,
                )
            )
        if len(rows) >= 10_000:
            Agreement.objects.bulk_create(rows, batch_size=2000)
            rows = []
    Agreement.objects.bulk_create(rows, batch_size=2000)


# Floors ------------------------------------------------------------------------------------------
def vendor_floor(engine):
    from isms.vendors.models import Vendor
    from isms.vendors.views_vendors import with_vendor_figures

    template = engine.from_string(VENDOR_LOOP)

    def floor():
        qs = with_vendor_figures(Vendor.objects.filter(voided_at__isnull=True))
        return template.render({"rows": list(qs.order_by("name", "id")[:50])})

    return floor


def contract_floor(engine):
    from isms.vendors.models import Contract

    template = engine.from_string(CONTRACT_LOOP)

    def floor():
        qs = Contract.objects.filter(voided_at__isnull=True).select_related(
            "vendor", "owner__person"
        )
        return template.render({"rows": list(qs.order_by("-start_on", "id")[:50])})

    return floor


def agreement_floor(engine):
    from isms.vendors.models import Agreement

    template = engine.from_string(AGREEMENT_LOOP)

    def floor():
        qs = Agreement.objects.filter(voided_at__isnull=True).select_related(
            "person", "vendor", "contract", "recorded_by__person"
        )
        return template.render({"rows": list(qs.order_by("-created_at", "-id")[:50])})

    return floor


def findings_floor(engine):
    """The page's own three aggregate queries (``agreements.findings``), a bare loop."""
    from isms.vendors import agreements

    template = engine.from_string(FINDINGS_LOOP)

    def floor():
        return template.render({"sections": agreements.findings()})

    return floor


def _fields(serializer):
    """A serializer's model columns as ``.values()`` names (foreign keys as their ids)."""
    model = serializer.Meta.model
    columns = {f.name: f.attname for f in model._meta.concrete_fields}
    return [columns[f] for f in serializer.Meta.fields if f in columns]


def vendor_json_floor():
    """The API's columns and each vendor's contacts (two queries, as the API's prefetch)."""
    from isms.vendors.models import Vendor, VendorContact
    from isms.vendors.views_vendors import VendorSerializer

    fields = _fields(VendorSerializer)

    def floor():
        rows = list(
            Vendor.objects.filter(voided_at__isnull=True)
            .order_by("name", "id")
            .values(*fields)[:50]
        )
        contacts = {}
        for c in VendorContact.objects.filter(vendor_id__in=[r["id"] for r in rows]).values(
            "id", "vendor_id", "name", "title", "phone", "email"
        ):
            contacts.setdefault(c.pop("vendor_id"), []).append(c)
        for r in rows:
            r["contacts"] = contacts.get(r["id"], [])
        return json.dumps(rows, default=str, ensure_ascii=False)

    return floor


def contract_json_floor():
    """The API's columns and each contract's systems and people ids (three queries)."""
    from isms.vendors.models import Contract
    from isms.vendors.views_vendors import ContractSerializer

    fields = _fields(ContractSerializer)

    def floor():
        qs = Contract.objects.filter(voided_at__isnull=True).order_by("-start_on", "id")
        rows = list(qs.values(*fields)[:50])
        ids = [r["id"] for r in rows]
        for name, through, column in (
            ("systems", Contract.systems.through, "informationsystem_id"),
            ("people", Contract.people.through, "person_id"),
        ):
            found = {}
            for pk, other in through.objects.filter(contract_id__in=ids).values_list(
                "contract_id", column
            ):
                found.setdefault(pk, []).append(other)
            for r in rows:
                r[name] = found.get(r["id"], [])
        return json.dumps(rows, default=str, ensure_ascii=False)

    return floor


# Query counts ------------------------------------------------------------------------------------
def query_counts(client) -> dict:
    """Each list page's queries with a few rows and with a full page (must be equal)."""
    from django.db import transaction
    from django.utils import timezone

    from bench.__main__ import count_queries
    from isms.core.models import Person, User
    from isms.vendors.models import Agreement, Contract, Vendor

    vendor = Vendor.objects.filter(notes=MARK).order_by("id").first()
    contract = Contract.objects.filter(vendor=vendor).order_by("id").first()

    def queries(url):
        def hit():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return count_queries(hit)

    counts = {
        "vendors list page": [
            queries(f"/vendors/vendors/?q={vendor.tax_id}"),
            queries("/vendors/vendors/"),
        ],
        "contracts list page": [
            queries(f"/vendors/contracts/?q={contract.number}"),
            queries("/vendors/contracts/"),
        ],
        "agreements list page": [
            queries(f"/vendors/agreements/?q={quote(vendor.name)}"),
            queries("/vendors/agreements/"),
        ],
    }
    # The findings page is not paged: its rows are all who lack an agreement. A few rows:
    # the same page with all but three of them given a valid agreement (rolled back).
    many = queries("/vendors/agreements/findings/")
    with transaction.atomic():
        today = timezone.localdate()
        Agreement.objects.filter(notes=MARK).update(
            status="signed", signed_on=today, valid_until=None
        )
        keep = list(Person.objects.filter(notes=MARK, status="active").order_by("id")[:3])
        Agreement.objects.filter(person__in=keep).update(valid_until=today - dt.timedelta(days=1))
        few = queries("/vendors/agreements/findings/")
        transaction.set_rollback(True)
    counts["agreement findings page"] = [few, many]
    # Nor with the number of logins: the contracts page with three logins linked to a
    # person and with all of them (the bench's 300; rolled back).
    many = queries("/vendors/contracts/")
    with transaction.atomic():
        keep = list(User.objects.filter(person__isnull=False).order_by("id").values_list("id")[:3])
        User.objects.exclude(pk__in=[pk for (pk,) in keep]).update(person=None)
        few = queries("/vendors/contracts/")
        transaction.set_rollback(True)
    counts["contracts list page, 3 vs all logins with a person"] = [few, many]
    return counts


def bench(page, api, engine) -> dict:
    """Seed, then time each reading path with the caller's ``page`` and ``api``."""
    from django.test import Client

    from isms.core.models import User
    from isms.vendors import agreements
    from isms.vendors.models import Agreement, Contract, Vendor, VendorContact

    seed()
    page("vendors list page", "/vendors/vendors/", vendor_floor(engine))
    page("contracts list page", "/vendors/contracts/", contract_floor(engine))
    page("agreements list page", "/vendors/agreements/", agreement_floor(engine))
    page(
        "agreement findings (應簽未簽) page",
        "/vendors/agreements/findings/",
        findings_floor(engine),
    )
    api("vendors API list", "/api/vendors/", vendor_json_floor())
    api("contracts API list", "/api/contracts/", contract_json_floor())
    client = Client()
    client.force_login(User.objects.get(username="bench-officer"))
    counts = query_counts(client)
    return {
        "vendors": Vendor.objects.count(),
        "contacts": VendorContact.objects.count(),
        "contracts": Contract.objects.count(),
        "agreements": Agreement.objects.count(),
        "findings_rows": sum(len(s["rows"]) for s in agreements.findings()),
        "query_counts_few_vs_many": counts,
        "query_counts_constant": all(few == many for few, many in counts.values()),
    }
