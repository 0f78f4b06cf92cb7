"""Schemathesis 4 hooks for the Gongyou fuzzing gate (ci/schemathesis/run.sh).

Loaded by `SCHEMATHESIS_HOOKS=.../hooks.py`. Black box only: everything below goes through
the HTTP API, the way a phone or a staff browser would.

Environment (set by run.sh):
  GONGYOU_FUZZ_BASE_URL   http://127.0.0.1:PORT of a fresh `gongyou demo`
  GONGYOU_FUZZ_ROLE       admin | worker: whom the fuzzer acts as
  GONGYOU_DEMO_PASSWORD   password of the demo staff logins
  GONGYOU_FUZZ_LOG        file for the hook's own events (JSON lines; optional)

What it does:

1. Sign-in (the auth provider). The fuzzer acts as `demo-admin` (admin run) or as a worker
   who is an active member (worker run). Sessions die during the run: the fuzzer calls
   DELETE /auth/sessions/current, the worker withdraws from the union or closes the account.
   `after_call` notices (a 2xx sign-out, withdrawal or DELETE /me, or a 401 that GET /me
   confirms) and `before_call` swaps the
   dead token for a live one before the next request goes out, in every phase (the stateful
   phase does not replay a request after a 401, so waiting for the 401 is not enough). A live
   session comes from a small pool signed in at start, or from a new sign-in (password, or an
   SMS code that the demo echoes as `dev_code`, for a new member that the hook's admin
   session approves).

2. Test data (setup, before fuzzing starts). Workers sign in by SMS and apply for membership;
   the hook's admin session approves some (members to suspend, reinstate, read, transfer),
   leaves others pending (to approve or reject), suspends some, has members request transfers;
   workers report problems at stations; the admin uploads a real PNG, creates a campaign and
   staff accounts. Ids come from the API's answers. Admin run: payouts in every state the
   finance operations need (demo members' claims approved, WeChat and bank batches built by
   demo-finance and approved by demo-approver, the demo's fake WeChat Pay told to refuse or
   confirm a transfer), see setup_payouts.

3. Real values in requests. In every other positive test case of an operation (a counter per
   operation, so the choice is deterministic for a given seed; no random numbers), the hook
   puts real ids into path parameters and bodies, and supplies what a fuzzer cannot guess: an
   SMS code, a refresh token, a step-up code and token, a station's QR code, a member card's
   QR, an ETag for If-Match, a PNG file. Requests that act on the account itself (step-up,
   DELETE /me, applying, withdrawing an application) go out as throwaway workers. Negative cases and the stateful phase are left as
   generated. The hook also tracks state changes it sees (an application approved, a member
   suspended, a report resolved) so that later injections pick ids in the right state.

4. Guard: PATCH /admin/staff/{id} aimed at the fuzzer's own account (which could disable it,
   reset its password or drop its admin role, ending the run's ability to test anything) is
   redirected to a staff account the hook created for that purpose.
"""


import json
import os
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field

import requests

import schemathesis
from schemathesis import auths as _auths

BASE = os.environ.get("GONGYOU_FUZZ_BASE_URL", "").rstrip("/")
API = BASE + "/api/v1"
ROLE = os.environ.get("GONGYOU_FUZZ_ROLE", "admin")
PASSWORD = os.environ.get("GONGYOU_DEMO_PASSWORD", "")
ADMIN_USERNAME = "demo-admin"
LOG = os.environ.get("GONGYOU_FUZZ_LOG")
if ROLE not in ("admin", "worker"):
    raise SystemExit(f"GONGYOU_FUZZ_ROLE must be admin or worker, not {ROLE!r}")

# Phones the hook signs in with: 199 0000 NNNN (the fuzzer's own phones are random or the
# spec's examples, so they do not share a phone's once-a-minute code limit with the hook).
PHONE_PREFIX = "1990000"
# Regions with a grassroots union in the demo hierarchy (applications are routed there).
UNION_REGIONS = ["510104", "510105", "510107", "440304", "440305"]
SIGN_OUT = "DELETE /api/v1/auth/sessions/current"
CLOSE_ACCOUNT = "DELETE /api/v1/me"
WITHDRAW = "POST /api/v1/me/membership/withdrawal"
ROTATE_CODE = "POST /api/v1/stations/{id}/code-rotations"
WITHDRAW_APPLICATION = "POST /api/v1/membership/applications/{id}/withdrawal"
UPDATE_STAFF = "PATCH /api/v1/admin/staff/{id}"
CREATE_BATCH = "POST /api/v1/finance/payout-batches"
EXPIRY_MARGIN = 90  # renew an access token this many seconds before it expires (they last 900 s)
# Workers with a step-up: [0] for GET /me/data-export, [1:3] for DELETE /me (one account
# closed per 2xx), [3:] give their codes to POST /auth/step-up.
STEP_UP_WORKERS = 5
CLOSABLE = slice(1, 3)
CODE_GIVERS = slice(3, None)


def log(event: str, **fields) -> None:
    if LOG:
        with open(LOG, "a", encoding="utf-8") as fd:
            fd.write(json.dumps({"t": round(time.time(), 3), "event": event, **fields}, ensure_ascii=False) + "\n")


def png_bytes(width: int = 8, height: int = 8) -> bytes:
    """A real PNG (red square): the server checks the file's magic bytes."""
    raw = b"".join(b"\x00" + b"\xd0\x30\x30" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


PNG = png_bytes()


def resident_id(region: str, birth: str, seq: int) -> str:
    """A valid GB 11643 resident ID number (ISO 7064 MOD 11-2 check character)."""
    body = f"{region}{birth}{seq % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights)) % 11]


class SetupError(RuntimeError):
    pass


# ---------------------------------------------------------------------------------------------
# HTTP helper for the hook's own requests (not seen by schemathesis)


class Client:
    def __init__(self) -> None:
        self.http = requests.Session()
        self.lock = threading.RLock()

    def call(self, method: str, path: str, token: str | None = None, *, expect=None, **kwargs):
        headers = dict(kwargs.pop("headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        url = path if path.startswith("http") else API + path
        r = self.http.request(method, url, headers=headers, timeout=15, **kwargs)
        try:
            body = r.json()
        except ValueError:
            body = None
        if expect is not None and r.status_code not in (expect if isinstance(expect, tuple) else (expect,)):
            raise SetupError(f"{method} {path} answered {r.status_code}: {r.text[:300]}")
        return r.status_code, body, r


HTTP = Client()


# ---------------------------------------------------------------------------------------------
# Accounts


@dataclass
class Session:
    access: str
    refresh: str
    expires_at: float

    @classmethod
    def of(cls, body: dict) -> "Session":
        return cls(body["access_token"], body["refresh_token"], time.monotonic() + int(body.get("expires_in", 900)))


@dataclass
class Worker:
    phone: str
    session: Session
    user_id: str
    last_code_at: float
    application_id: str | None = None
    membership_id: str | None = None
    org_id: str | None = None
    notifications: list[str] | None = None
    step_up_token: str | None = None
    step_up_until: float = 0.0
    enrollment_id: str | None = None


class Accounts:
    """Sign-ins through the API, deterministic phone numbers and ID numbers."""

    def __init__(self) -> None:
        self.next_phone = 0
        self.next_id = 0
        self.admin: Session | None = None  # the hook's own admin session (setup, approvals)

    # -- staff
    def password_sign_in(self, username: str = ADMIN_USERNAME) -> Session:
        _, body, _ = HTTP.call(
            "POST", "/auth/sessions/password", json={"username": username, "password": PASSWORD}, expect=200
        )
        return Session.of(body)

    def admin_token(self) -> str:
        if self.admin is None or time.monotonic() > self.admin.expires_at - EXPIRY_MARGIN:
            self.admin = self.password_sign_in()
        return self.admin.access

    # -- workers
    def new_phone(self) -> str:
        self.next_phone += 1
        return f"{PHONE_PREFIX}{self.next_phone:04d}"

    def request_code(self, phone: str, purpose: str) -> str:
        for _ in range(3):
            status, body, r = HTTP.call("POST", "/auth/sms-codes", json={"phone": phone, "purpose": purpose})
            if status == 202 and body and body.get("dev_code"):
                return body["dev_code"]
            if status == 429 and "sms_rate_limited" in r.text:
                # The phone's once-a-minute limit: wait it out (only step-up codes for a
                # phone that signed in within the minute get here).
                wait = min(61.0, float(r.headers.get("Retry-After", "5")) + 0.5)
                log("sms_wait", phone=phone, seconds=wait)
                time.sleep(wait)
                continue
            raise SetupError(f"sms-codes for {phone} ({purpose}) answered {status}: {r.text[:300]}")
        raise SetupError(f"no SMS code for {phone}")

    def new_worker(self) -> Worker:
        phone = self.new_phone()
        code = self.request_code(phone, "sign_in")
        _, body, _ = HTTP.call("POST", "/auth/sessions/sms", json={"phone": phone, "code": code}, expect=200)
        return Worker(phone, Session.of(body), body["user"]["id"], time.monotonic())

    def application_body(self, region: str | None = None) -> dict:
        self.next_id += 1
        n = self.next_id
        region = region or UNION_REGIONS[n % len(UNION_REGIONS)]
        birth = f"19{85 + n % 15}{1 + n % 12:02d}{1 + n % 28:02d}"
        return {
            "real_name": ["张小龙", "李娜", "王强", "赵敏", "陈建国", "刘洋"][n % 6],
            "id_number": resident_id(region, birth, 100 + n),
            "occupation": ["delivery_rider", "courier", "ride_hailing_driver"][n % 3],
            "platform": ["meituan", "eleme", "didi"][n % 3],
            "platform_worker_id": f"FZ-{n:05d}",
            "region_code": region,
            "consents": {"personal_information": True, "sensitive_personal_information": True},
        }

    def apply(self, w: Worker) -> dict:
        _, body, _ = HTTP.call(
            "POST", "/membership/applications", w.session.access, json=self.application_body(), expect=201
        )
        w.application_id = body["id"]
        return body

    def approve(self, w: Worker) -> dict:
        _, body, _ = HTTP.call(
            "POST", f"/admin/membership/applications/{w.application_id}/approve", self.admin_token(), expect=200
        )
        w.membership_id = body["id"]
        w.org_id = body["org"]["id"]
        return body

    def new_member(self) -> Worker:
        w = self.new_worker()
        self.apply(w)
        self.approve(w)
        return w

    def step_up(self, w: Worker) -> str | None:
        """A fresh step-up token for the worker (needs the phone's minute to be free)."""
        code = self.request_code(w.phone, "step_up")
        w.last_code_at = time.monotonic()
        status, body, _ = HTTP.call("POST", "/auth/step-up", w.session.access, json={"code": code})
        if status != 200:
            log("step_up_failed", status=status)
            return None
        w.step_up_token = body.get("step_up_token") or body.get("token")
        w.step_up_until = time.monotonic() + int(body.get("expires_in", 300)) - 30
        return w.step_up_token


ACCOUNTS = Accounts()


class Identities:
    """The identity schemathesis acts as: the current session and a pool of spares."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.current = None  # Session (admin) or Worker (worker)
        self.spares: list = []
        self.dead: set[str] = set()
        self.stats = {"sign_ins": 0, "switched": 0, "revoked": 0, "refreshed": 0, "retired": 0}

    @staticmethod
    def _session(identity) -> Session:
        return identity.session if isinstance(identity, Worker) else identity

    def _new_identity(self):
        self.stats["sign_ins"] += 1
        if ROLE == "admin":
            return ACCOUNTS.password_sign_in()
        return ACCOUNTS.new_member()

    def prepare(self, spares: int) -> None:
        with self.lock:
            self.current = self._new_identity()
            for _ in range(spares):
                self.spares.append(self._new_identity())
            log("identities", role=ROLE, spares=len(self.spares))

    def _refresh(self, identity) -> bool:
        s = self._session(identity)
        status, body, _ = HTTP.call("POST", "/auth/refresh", json={"refresh_token": s.refresh})
        if status != 200:
            log("refresh_failed", status=status)
            return False
        fresh = Session.of(body)
        s.access, s.refresh, s.expires_at = fresh.access, fresh.refresh, fresh.expires_at
        self.stats["refreshed"] += 1
        return True

    def token(self) -> str:
        with self.lock:
            while True:
                if self.current is not None:
                    s = self._session(self.current)
                    if s.access not in self.dead:
                        if time.monotonic() < s.expires_at - EXPIRY_MARGIN or self._refresh(self.current):
                            return self._session(self.current).access
                if self.spares:
                    self.current = self.spares.pop(0)
                    self.stats["switched"] += 1
                    log("switched", spares_left=len(self.spares))
                else:
                    self.current = self._new_identity()
                    log("signed_in_live")

    def worker(self) -> Worker | None:
        with self.lock:
            self.token()
            return self.current if isinstance(self.current, Worker) else None

    def owns(self, access: str) -> bool:
        with self.lock:
            if access in self.dead:
                return True
            return any(self._session(i).access == access for i in [self.current, *self.spares] if i is not None)

    def retire(self, access: str, why: str) -> None:
        """The session ended (sign-out, a confirmed 401) or the worker left the union."""
        with self.lock:
            if access in self.dead:
                return
            self.dead.add(access)
            self.stats["retired" if why in ("withdrawn", "closed") else "revoked"] += 1
            log("retired", why=why)
            if self.current is not None and self._session(self.current).access == access:
                self.current = None
        for provider in _auths._caching_providers_in(_auths.GLOBAL_AUTH_STORAGE):
            provider.invalidate()


IDENTITIES = Identities()


# ---------------------------------------------------------------------------------------------
# Test data


@dataclass
class Data:
    orgs: list[dict] = field(default_factory=list)
    unions: list[dict] = field(default_factory=list)  # grassroots unions
    stations: list[str] = field(default_factory=list)
    open_stations: list[str] = field(default_factory=list)
    movable: list[str] = field(default_factory=list)
    station_codes: dict[str, str] = field(default_factory=dict)
    staff_self: str | None = None  # the fuzzer's own staff id (admin run)
    sacrificial_staff: list[str] = field(default_factory=list)
    pending_apps: list[str] = field(default_factory=list)
    applications: list[str] = field(default_factory=list)
    active_members: list[str] = field(default_factory=list)
    suspended_members: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    member_workers: list[Worker] = field(default_factory=list)
    pending_transfers: list[str] = field(default_factory=list)
    open_reports: list[tuple[str, str]] = field(default_factory=list)
    report_stations: list[str] = field(default_factory=list)
    photos: list[tuple[str, str]] = field(default_factory=list)
    campaigns: list[str] = field(default_factory=list)
    # Protection plans: every code (the demo's e-road-sichuan first), drafts to edit or
    # publish, published ones to close or version, the sponsor for new ones.
    plans: list[str] = field(default_factory=list)
    draft_plans: list[str] = field(default_factory=list)
    published_plans: list[str] = field(default_factory=list)
    sponsor: str = ""
    roster_imports: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    refresh_tokens: list[str] = field(default_factory=list)
    applicants: list[Worker] = field(default_factory=list)  # signed in, never applied
    step_up_workers: list[Worker] = field(default_factory=list)
    closable: list[Worker] = field(default_factory=list)
    pending_applicants: list[Worker] = field(default_factory=list)  # applied, not decided
    step_up_codes: list[tuple[Worker, str]] = field(default_factory=list)
    # Claims (both runs): claimants (members in 四川 enrolled in the demo plan), their claims
    # (id -> {"owner", "enrollment", "benefit", "status"}), drafts kept for reading and editing
    # versus drafts to withdraw, uploaded documents (claim id, doc id); the review staff's
    # sessions; claims the demo seeded, by the status the hook last saw.
    claimants: list[Worker] = field(default_factory=list)
    claims: dict[str, dict] = field(default_factory=dict)
    kept_claims: list[str] = field(default_factory=list)
    # The demo's own claimants' claims that can pass the rules: a draft whose missing
    # document the hook uploads (to submit) and a returned claim (to resubmit), with the
    # claimant's session.
    removable_documents: list[tuple[str, str]] = field(default_factory=list)
    demo_submittable: list[tuple[str, Session]] = field(default_factory=list)
    demo_resubmittable: list[tuple[str, Session]] = field(default_factory=list)
    withdrawable: list[str] = field(default_factory=list)
    documents: list[tuple[str, str]] = field(default_factory=list)
    staff_sessions: dict[str, Session] = field(default_factory=dict)
    review_status: dict[str, str] = field(default_factory=dict)
    settings_orgs: list[str] = field(default_factory=list)


DATA = Data()


def setup_common() -> None:
    admin = ACCOUNTS.admin_token()
    _, me, _ = HTTP.call("GET", "/me", admin, expect=200)
    DATA.staff_self = me["id"]
    _, page, _ = HTTP.call("GET", "/orgs", admin, params={"limit": 200}, expect=200)
    DATA.orgs = page["items"]
    DATA.unions = [o for o in DATA.orgs if o.get("org_type") == "grassroots_union"]
    # Stations around 成都 (public search), their QR codes (a privileged read shows them).
    _, near, _ = HTTP.call(
        "GET", "/stations/nearby", params={"lat": 30.657, "lng": 104.066, "radius_m": 50000, "limit": 100}, expect=200
    )
    items = near["items"]
    DATA.stations = [s["id"] for s in items[:20]]
    DATA.open_stations = [s["id"] for s in items if s.get("open_now") and s.get("status") == "open"][:8]
    DATA.movable = [s["id"] for s in items if s.get("type") == "movable"]
    for sid in DATA.open_stations:
        _, view, _ = HTTP.call("GET", f"/stations/{sid}", admin, expect=200)
        if view.get("station_code"):
            DATA.station_codes[sid] = view["station_code"]
    # A photo to read back (GET /stations/{id}/photos/{photo_id} is public).
    for sid in DATA.stations[:2]:
        _, photo, _ = HTTP.call(
            "POST", f"/stations/{sid}/photos", admin, files={"file": ("station.png", PNG, "image/png")}, expect=201
        )
        DATA.photos.append((sid, photo["id"]))


DEMO_PLAN = "e-road-sichuan"


def plan_terms(name: str) -> dict:
    """Valid terms: open to enrollment from the first of this month for ten months."""
    today = time.gmtime(time.time() + 8 * 3600)
    y, m = today.tm_year, today.tm_mon
    end_y, end_m = (y + 1, m - 1) if m > 1 else (y, 12)
    last = [31, 29 if end_y % 4 == 0 and (end_y % 100 or end_y % 400 == 0) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][end_m - 1]
    return {
        "name": name,
        "description": "测试计划",
        "enrollment_opens_on": f"{y:04d}-{m:02d}-01",
        "enrollment_closes_on": f"{end_y:04d}-{end_m:02d}-01",
        "coverage_starts_on": f"{y:04d}-{m:02d}-01",
        "coverage_ends_on": f"{end_y:04d}-{end_m:02d}-{last:02d}",
        "eligibility": {"region_codes": ["510000"]},
        "benefits": [
            {"code": "accident", "name": "意外身故伤残", "kind": "lump_sum", "amount": "30000.00",
             "waiting_days": {"illness": 0, "accident": 0}, "documents": ["id_front"]},
            {"code": "hospital", "name": "住院津贴", "kind": "daily_allowance", "amount_per_day": "200.00",
             "max_days_per_year": 30, "waiting_days": {"illness": 30, "accident": 0}, "documents": []},
        ],
    }


def setup_plans(admin: str) -> None:
    DATA.plans.append(DEMO_PLAN)
    DATA.published_plans.append(DEMO_PLAN)
    DATA.sponsor = next(o["id"] for o in DATA.orgs if o.get("name") == "四川省总工会")
    for i in range(6):
        code = f"fuzz-plan-{i}"
        HTTP.call("POST", "/admin/plans", admin, json={"code": code, "sponsor_org_id": DATA.sponsor,
                                                         "terms": plan_terms(f"测试计划{i}")}, expect=201)
        DATA.plans.append(code)
        if i < 3:
            DATA.draft_plans.append(code)
        else:
            HTTP.call("POST", f"/admin/plans/{code}/publish", admin, json={}, expect=200)
            DATA.published_plans.append(code)
    # A roster import to read back (its progress and its error report).
    _, imported, _ = HTTP.call(
        "POST", f"/admin/plans/{DATA.published_plans[-1]}/roster-imports", admin,
        data=ROSTER_CSV.encode(), headers={"Content-Type": "text/csv"}, expect=202,
    )
    DATA.roster_imports.append(imported["id"])


ROSTER_CSV = "姓名,身份证号,手机号,平台工号,入职日期\r\n张三,510104199001011237,,MT-1,2025-01-01\r\n"


def inject_roster(case, n):
    code = pick(DATA.published_plans[1:], n)
    if code:
        _set_path(case, code=code)
        case.body = ROSTER_CSV


def inject_create_plan(case, n):
    _set_body(case, code=f"fuzz-new-{n}", sponsor_org_id=DATA.sponsor, terms=plan_terms(f"新计划{n}"))


def inject_edit_plan(case, n):
    code = pick(DATA.draft_plans, n)
    if code:
        _set_path(case, code=code)
        case.body = plan_terms(f"改后计划{n}")


def setup_admin_run() -> None:
    admin = ACCOUNTS.admin_token()
    setup_plans(admin)
    # Staff accounts the fuzzer may change at will.
    home = DATA.unions[0]["id"]
    for i in range(4):
        _, staff, _ = HTTP.call(
            "POST",
            "/admin/staff",
            admin,
            json={
                "username": f"fuzz.staff{i}",
                "display_name": f"测试员{i}",
                "password": f"fuzz-Staff-{i}-pass",
                "org_id": home,
                "roles": [{"role": "claims_reviewer", "org_id": home}],
            },
            expect=201,
        )
        DATA.sacrificial_staff.append(staff["id"])
    # Members: apply + approve; some suspended; some asking for a transfer.
    for i in range(10):
        w = ACCOUNTS.new_member()
        DATA.member_workers.append(w)
        DATA.members.append(w.membership_id)
        DATA.applications.append(w.application_id)
    for w in DATA.member_workers[:3]:
        HTTP.call("POST", f"/admin/members/{w.membership_id}/suspend", admin, json={"reason": "测试暂停"}, expect=200)
        DATA.suspended_members.append(w.membership_id)
    DATA.active_members = [w.membership_id for w in DATA.member_workers[3:]]
    for w in DATA.member_workers[3:9]:
        target = next(u["id"] for u in DATA.unions if u["id"] != w.org_id)
        _, t, _ = HTTP.call(
            "POST", "/me/membership/transfers", w.session.access, json={"to_org_id": target, "reason": "换城市"},
            expect=201,
        )
        DATA.pending_transfers.append(t["id"])
    # Pending applications to approve or reject.
    for _ in range(14):
        w = ACCOUNTS.new_worker()
        ACCOUNTS.apply(w)
        DATA.pending_apps.append(w.application_id)
        DATA.applications.append(w.application_id)
    # Problem reports (members at three stations), a campaign, jobs to look at.
    for i, sid in enumerate(DATA.stations[:3]):
        for w in DATA.member_workers[i : i + 2]:
            _, rep, _ = HTTP.call(
                "POST", f"/stations/{sid}/reports", w.session.access,
                json={"kind": "amenity_missing", "note": "没有热水"}, expect=201,
            )
            DATA.open_reports.append((sid, rep["id"]))
        DATA.report_stations.append(sid)
    _, c, _ = HTTP.call(
        "POST", "/admin/campaigns", admin,
        json={"org_id": DATA.unions[0]["id"], "title": "降温提醒", "body": "明天降温，驿站有热水。"}, expect=201,
    )
    DATA.campaigns.append(c["id"])
    _, jobs, _ = HTTP.call("GET", "/admin/jobs", admin, params={"limit": 50}, expect=200)
    DATA.jobs = [j["id"] for j in jobs["items"]]
    # Refresh tokens of spare admin sessions, one per injected POST /auth/refresh.
    DATA.refresh_tokens = [ACCOUNTS.password_sign_in().refresh for _ in range(6)]


def setup_worker_run() -> None:
    DATA.applicants = [ACCOUNTS.new_worker() for _ in range(8)]
    for _ in range(3):
        w = ACCOUNTS.new_worker()
        ACCOUNTS.apply(w)
        DATA.pending_applicants.append(w)
    DATA.refresh_tokens = [ACCOUNTS.new_worker().session.refresh for _ in range(6)]
    wait = DATA.step_up_workers[-1].last_code_at + 61 - time.monotonic()
    if wait > 0:
        log("step_up_wait", seconds=round(wait, 1))
        time.sleep(wait)
    ACCOUNTS.step_up(DATA.step_up_workers[0])  # its token serves GET /me/data-export
    for w in DATA.step_up_workers[CLOSABLE]:
        if ACCOUNTS.step_up(w):
            DATA.closable.append(w)
    for w in DATA.step_up_workers[CODE_GIVERS]:
        DATA.step_up_codes.append((w, ACCOUNTS.request_code(w.phone, "step_up")))
        w.last_code_at = time.monotonic()


CLAIM_REGION = "510104"  # 锦江区 (四川): the demo plan is open to members in 510000


def claim_body(w: Worker, benefit: str, n: int = 0) -> dict:
    today = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600))
    incident = {"type": "accident", "occurred_on": today, "place": ["成都市锦江区春熙路", "成都市青羊区人民公园"][n % 2]}
    if benefit == "hospital_daily":
        incident.update(admitted_on=today, discharged_on=today, hospital="四川大学华西医院", diagnosis="左腿骨折")
    body = {"enrollment_id": w.enrollment_id, "benefit_code": benefit, "incident": incident}
    if n % 2 == 0:
        body["payee"] = {"kind": "wechat_balance"}
    return body


def new_claim(w: Worker, benefit: str, n: int = 0) -> str:
    _, claim, _ = HTTP.call("POST", "/claims", w.session.access, json=claim_body(w, benefit, n), expect=201)
    DATA.claims[claim["id"]] = {"owner": w, "enrollment": w.enrollment_id, "benefit": benefit,
                                "status": claim["status"]}
    return claim["id"]


def staff_token(username: str) -> str:
    s = DATA.staff_sessions.get(username)
    if s is None or time.monotonic() > s.expires_at - EXPIRY_MARGIN:
        s = DATA.staff_sessions[username] = ACCOUNTS.password_sign_in(username)
    return s.access


def live(w: Worker) -> str:
    """A claimant's access token, refreshed when it is about to expire."""
    if time.monotonic() > w.session.expires_at - EXPIRY_MARGIN:
        status, body, _ = HTTP.call("POST", "/auth/refresh", json={"refresh_token": w.session.refresh})
        if status == 200:
            w.session = Session.of(body)
    return w.session.access


def setup_claims() -> None:
    """Claimants with drafts and a document; the review queue the demo seeded."""
    for i in range(2):
        w = ACCOUNTS.new_worker()
        _, app, _ = HTTP.call("POST", "/membership/applications", w.session.access,
                              json=ACCOUNTS.application_body(CLAIM_REGION), expect=201)
        w.application_id = app["id"]
        ACCOUNTS.approve(w)
        _, e, _ = HTTP.call("POST", f"/plans/{DEMO_PLAN}/enrollments", w.session.access, expect=201)
        w.enrollment_id = e["id"]
        DATA.claimants.append(w)
        for k, benefit in enumerate(["accident_death_disability", "hospital_daily"]):
            DATA.kept_claims.append(new_claim(w, benefit, i + k))
        for k in range(8):
            DATA.withdrawable.append(new_claim(w, "accident_death_disability", k))
        cid = DATA.kept_claims[-2]
        _, doc, _ = HTTP.call("POST", f"/claims/{cid}/documents", w.session.access, data={"kind": "id_front"},
                              files={"file": ("id.png", PNG, "image/png")}, expect=201)
        DATA.documents.append((cid, doc["id"]))
        # Documents to remove (one per positive DELETE case that gets real values).
        for _ in range(3):
            _, extra, _ = HTTP.call("POST", f"/claims/{cid}/documents", w.session.access, data={"kind": "other"},
                                    files={"file": ("other.png", PNG, "image/png")}, expect=201)
            DATA.removable_documents.append((cid, extra["id"]))
    setup_demo_claimants()
    if ROLE == "admin":
        setup_payouts()  # before the threshold below: its claims are approved at once
    # Every approval in 四川 waits for confirmation (threshold 0.00), so the demo's few claims
    # in review feed confirm and reject as well as approve.
    sichuan = next((o["id"] for o in DATA.orgs if o.get("name") == "四川省总工会"), None)
    if sichuan:
        code, _, r = HTTP.call("PUT", f"/admin/orgs/{sichuan}/claim-settings", ACCOUNTS.admin_token(),
                               json={"confirm_threshold": "0.00"})
        if code != 200:
            log("claim_threshold_not_set", status=code, body=r.text[:200])
    for status in ("submitted", "under_review", "awaiting_confirmation", "returned"):
        for who in ("demo-reviewer", "demo-approver"):
            code, page, _ = HTTP.call("GET", "/review/claims", staff_token(who), params={"status": status, "limit": 50})
            if code == 200:
                for c in page.get("items", []):
                    DATA.review_status[c["id"]] = c["status"]
    # Claim settings: orgs outside 四川 (a threshold there would not change the review flow).
    DATA.settings_orgs = [o["id"] for o in DATA.orgs if str(o.get("region_code") or "").startswith("44")] or [
        o["id"] for o in DATA.orgs
    ]


# The demo's members with claims (gongyou/src/demo_claims.rs): 13900000004 has a draft that
# lacks its discharge summary, 13900000001 a claim returned for a clearer invoice.
DEMO_DRAFT_PHONE = "13900000004"
DEMO_RETURNED_PHONE = "13900000001"


def demo_member_session(phone: str) -> Session | None:
    try:
        code = ACCOUNTS.request_code(phone, "sign_in")
    except SetupError as exc:
        log("demo_member_not_signed_in", phone=phone, error=str(exc))
        return None
    status, body, _ = HTTP.call("POST", "/auth/sessions/sms", json={"phone": phone, "code": code})
    return Session.of(body) if status == 200 else None


def setup_demo_claimants() -> None:
    """Claims of the demo's members that pass the rules once completed: submit and resubmit
    get real work (a fresh enrollment's cover starts tomorrow, so the hook's own drafts
    cannot)."""
    for phone, wanted, pool in (
        (DEMO_DRAFT_PHONE, "draft", DATA.demo_submittable),
        (DEMO_RETURNED_PHONE, "returned", DATA.demo_resubmittable),
    ):
        session = demo_member_session(phone)
        if session is None:
            continue
        code, page, _ = HTTP.call("GET", "/me/claims", session.access, params={"limit": 50})
        if code != 200:
            continue
        for claim in page.get("items", []):
            if claim.get("status") != wanted:
                continue
            for item in claim.get("missing", []):
                if item.get("code") == "document_missing" and item.get("subject"):
                    HTTP.call("POST", f"/claims/{claim['id']}/documents", session.access,
                              data={"kind": item["subject"]}, files={"file": ("doc.png", PNG, "image/png")})
            pool.append((claim["id"], session))


# --- payouts (admin run): payouts of new claims of the demo's members, in every state the
# finance operations need, built through the API before fuzzing starts.

FINANCE = "demo-finance"  # builds batches, asks for payee changes
APPROVER = "demo-approver"  # approves demo-finance's batches, decides its payee requests
PAYOUT_MEMBERS = ("13900000002", "13900000003")  # 王芳, 张伟: no hospital allowance yet
PAYOUT_CLAIMS_PER_MEMBER = 5
BANK_PAYEE = {"holder": "王芳", "bank": "中国建设银行成都春熙路支行", "account": "6217 0038 1000 1234 567",
              "reason": "收款人来电更换银行卡"}


@dataclass
class PayoutData:
    fake: str | None = None  # the demo's fake WeChat Pay (its control surface)
    staff_ids: dict[str, str] = field(default_factory=dict)  # username -> staff id
    members: list[Session] = field(default_factory=list)  # demo members with payouts
    all: list[str] = field(default_factory=list)  # every payout id
    free: list[str] = field(default_factory=list)  # pending, unbatched (POST …/payout-batches)
    awaiting: list[str] = field(default_factory=list)  # waiting for the rider (…/cancel)
    requestable: list[str] = field(default_factory=list)  # for …/payee-request
    batches: list[str] = field(default_factory=list)  # every batch id
    drafts: list[str] = field(default_factory=list)  # draft batches by demo-finance (…/approve)
    file_ready: list[str] = field(default_factory=list)  # approved bank batches (…/bank-file)
    results: dict[str, str] = field(default_factory=dict)  # batch with its file taken -> result CSV
    replay: tuple[str, dict] | None = None  # (Idempotency-Key, body) of a batch demo-finance built
    settings_orgs: list[str] = field(default_factory=list)  # orgs for …/payout-settings


PAY = PayoutData()


def fake_pay_url() -> str | None:
    """The fake WeChat Pay's base URL, from the demo's log ("fake wechat pay listening")."""
    path = os.environ.get("GONGYOU_FUZZ_SERVER_LOG") or (
        os.path.join(os.path.dirname(LOG), f"{ROLE}.server.log") if LOG else None
    )
    if not path or not os.path.exists(path):
        return None
    with open(path, encoding="utf-8", errors="replace") as fd:
        for line in fd:
            if '"fake wechat pay listening"' in line:
                try:
                    return "http://" + json.loads(line)["addr"]
                except (ValueError, KeyError):
                    return None
    return None


def finance_payouts(**params) -> list[dict]:
    status, page, _ = HTTP.call("GET", "/finance/payouts", staff_token(FINANCE), params={"limit": 200, **params})
    return page.get("items", []) if status == 200 and isinstance(page, dict) else []


def finance_payout(pid: str) -> dict | None:
    status, view, _ = HTTP.call("GET", f"/finance/payouts/{pid}", staff_token(FINANCE))
    return view if status == 200 else None


def finance_batch(bid: str) -> dict | None:
    status, view, _ = HTTP.call("GET", f"/finance/payout-batches/{bid}", staff_token(FINANCE))
    return view if status == 200 else None


def wait_payouts(ids: list[str], wanted: tuple[str, ...], seconds: float = 30.0) -> dict[str, dict]:
    """Polls until every payout is in one of `wanted` (the job worker and callbacks run in the
    demo's process); returns the last views."""
    deadline = time.monotonic() + seconds
    while True:
        views = {p: finance_payout(p) or {} for p in ids}
        if all(v.get("status") in wanted for v in views.values()) or time.monotonic() > deadline:
            if not all(v.get("status") in wanted for v in views.values()):
                log("payouts_not_settled", wanted=wanted, got={p: v.get("status") for p, v in views.items()})
            return views
        time.sleep(0.3)


def new_batch(channel: str, ids: list[str], key: str) -> str:
    body = {"channel": channel, "payout_ids": ids}
    _, batch, _ = HTTP.call("POST", "/finance/payout-batches", staff_token(FINANCE), json=body,
                            headers={"Idempotency-Key": key}, expect=201)
    PAY.batches.append(batch["id"])
    return batch["id"]


def approve_batch(bid: str) -> None:
    HTTP.call("POST", f"/finance/payout-batches/{bid}/approve", staff_token(APPROVER), expect=200)


def to_bank(pid: str) -> None:
    """A payee change to a bank account: asked by demo-finance, accepted by demo-approver."""
    HTTP.call("POST", f"/finance/payouts/{pid}/payee-request", staff_token(FINANCE), json=BANK_PAYEE, expect=201)
    HTTP.call("POST", f"/finance/payouts/{pid}/payee-request/decide", staff_token(APPROVER),
              json={"approve": True}, expect=200)


def result_csv(views: list[dict], outcome: str = "F") -> str:
    """The bank's result file in the default layout (GBK; ASCII here): the transfer file's six
    columns, then 处理结果 and 失败原因. `F` fails each payout, which a retry sends again."""
    lines = ["name,account,bank,amount,purpose,reference,status,reason"]
    for v in views:
        attempt = (v.get("attempts") or [{}])[-1]
        lines.append(f"X,00000000,B,{attempt.get('amount', v['amount'])},P,{attempt.get('out_bill_no', '')},"
                     f"{outcome},ACCOUNT_CLOSED")
    return "\r\n".join(lines) + "\r\n"


def demo_hospital_claim(session: Session, enrollment: str, k: int) -> str | None:
    """A one-night stay of a demo member 45 days ago or later (accident: no waiting period),
    with its documents, submitted, taken and approved by demo-reviewer (confirmed by
    demo-approver when it waits for that): its payout opens."""
    day = lambda ago: time.strftime("%Y-%m-%d", time.gmtime(time.time() + 8 * 3600 - ago * 86400))  # noqa: E731
    admitted = 45 - 4 * k
    body = {
        "enrollment_id": enrollment,
        "benefit_code": "hospital_daily",
        "incident": {"type": "accident", "occurred_on": day(admitted), "place": "成都市青羊区人民中路",
                     "admitted_on": day(admitted), "discharged_on": day(admitted - 1),
                     "hospital": "成都市第三人民医院", "diagnosis": "配送途中摔倒致左腕扭伤"},
        "payee": {"kind": "wechat_balance"},
    }
    status, claim, r = HTTP.call("POST", "/claims", session.access, json=body)
    if status != 201:
        log("payout_claim_not_filed", status=status, body=r.text[:300])
        return None
    cid = claim["id"]
    for kind in ("id_front", "id_back", "medical_record_front_page", "discharge_summary"):
        HTTP.call("POST", f"/claims/{cid}/documents", session.access, data={"kind": kind},
                  files={"file": (f"{kind}.png", PNG, "image/png")}, expect=201)
    HTTP.call("POST", f"/claims/{cid}/submit", session.access, expect=200)
    HTTP.call("POST", f"/review/claims/{cid}/assign", staff_token("demo-reviewer"), expect=200)
    _, approved, _ = HTTP.call("POST", f"/review/claims/{cid}/approve", staff_token("demo-reviewer"), json={},
                               expect=200)
    if approved.get("status") == "awaiting_confirmation":
        HTTP.call("POST", f"/review/claims/{cid}/confirm", staff_token(APPROVER), json={}, expect=200)
    return cid


def setup_payouts() -> None:
    """Ten payouts of 200.00 (WeChat, payable), then:
    [0..3] a WeChat batch built by demo-finance, approved by demo-approver and sent: [0], [3]
           wait for the rider (cancel), [1] refused by WeChat Pay (failed: retry, switch
           payee), [2] confirmed by the rider (paid);
    [4]    switched to a bank account (payee request + decision), in an approved bank batch
           whose file the hook takes (bank-results);
    [5]    the same, the file not taken (bank-file);
    [6], [9] pending, unbatched (a new batch; payee switching);
    [7]    in a draft batch by demo-finance (approve; its Idempotency-Key is replayed);
    [8]    pending, unbatched, for a payee request and its decision."""
    PAY.fake = fake_pay_url()
    for who in (FINANCE, APPROVER):
        _, me, _ = HTTP.call("GET", "/me", staff_token(who), expect=200)
        PAY.staff_ids[who] = me["id"]
    claims = []
    for phone in PAYOUT_MEMBERS:
        session = demo_member_session(phone)
        if session is None:
            raise SetupError(f"demo member {phone} cannot sign in")
        PAY.members.append(session)
        _, covers, _ = HTTP.call("GET", "/me/enrollments", session.access, expect=200)
        enrollment = next(e["id"] for e in covers if e.get("plan_code") == DEMO_PLAN)
        for k in range(PAYOUT_CLAIMS_PER_MEMBER):
            cid = demo_hospital_claim(session, enrollment, k)
            if cid:
                claims.append(cid)
    by_claim = {p["claim_id"]: p for p in finance_payouts()}
    payouts = [by_claim[c]["id"] for c in claims if c in by_claim]
    PAY.all = list(payouts)
    blocked = {p: by_claim[c]["blockers"] for c in claims if c in by_claim and by_claim[c]["blockers"]}
    if len(payouts) < 10 or blocked:
        raise SetupError(f"payouts: {len(payouts)} of {len(claims)} claims, blocked: {blocked}")
    p = payouts
    # WeChat: sent, then each attempt taken where it is needed.
    approve_batch(new_batch("wechat", p[0:4], "fuzz-setup-wechat-1"))
    views = wait_payouts(p[0:4], ("awaiting_confirmation",))
    if PAY.fake:
        bill = lambda pid: views[pid]["attempts"][-1]["out_bill_no"]  # noqa: E731
        HTTP.call("POST", f"{PAY.fake}/fake/bills/{bill(p[1])}/fail", params={"reason": "NAME_NOT_CORRECT"}, expect=200)
        HTTP.call("POST", f"{PAY.fake}/fake/bills/{bill(p[2])}/confirm", expect=200)
        wait_payouts([p[1]], ("failed",))
        wait_payouts([p[2]], ("paid",))
    else:
        log("payouts_no_fake_wechatpay")
    PAY.awaiting = [p[0], p[3]]
    # Bank: two payouts switched to a bank account, each in an approved bank batch.
    to_bank(p[4])
    to_bank(p[5])
    taken = new_batch("bank", [p[4]], "fuzz-setup-bank-1")
    approve_batch(taken)
    HTTP.call("GET", f"/finance/payout-batches/{taken}/bank-file", staff_token(FINANCE), expect=200)
    PAY.results[taken] = result_csv([finance_payout(p[4])])
    ready = new_batch("bank", [p[5]], "fuzz-setup-bank-2")
    approve_batch(ready)
    PAY.file_ready = [ready]
    # A draft for the second approver, and what is left for new batches and payee requests.
    draft_body = {"channel": "wechat", "payout_ids": [p[7]]}
    PAY.drafts = [new_batch("wechat", [p[7]], "fuzz-setup-draft-1")]
    PAY.replay = ("fuzz-setup-draft-1", draft_body)
    PAY.free = [p[6], p[9]]
    PAY.requestable = [p[8]]
    # Payout settings: orgs in demo-finance's scope (四川) that hold none of these payouts,
    # so that a template set there leaves the bank batches above alone.
    sichuan = next((o["id"] for o in DATA.orgs if o.get("name") == "四川省总工会"), None)
    held = set()
    for view in finance_payouts():
        held.add(view["org_id"])
        held.update(next((o.get("ancestor_ids") or [] for o in DATA.orgs if o["id"] == view["org_id"]), []))
    PAY.settings_orgs = [o["id"] for o in DATA.orgs
                         if sichuan in (o.get("ancestor_ids") or []) and o["id"] not in held][:3]
    log("payouts_ready", payouts=len(PAY.all), batches=len(PAY.batches),
        states=sorted(v["status"] for v in finance_payouts()), fake=bool(PAY.fake))


@dataclass
class Reconciliation:
    runs: list[str] = field(default_factory=list)
    items: list[tuple[str, int]] = field(default_factory=list)  # (run, item id)
    date: str = ""


REC = Reconciliation()

BILL_HEADER = "记账时间,微信支付业务单号,资金流水单号,业务名称,业务类型,收支类型,收支金额(元),账户结余(元),资金变更提交申请人,备注,业务凭证号"
BILL_SUMMARY = "资金流水总笔数,收入笔数,收入金额,支出笔数,支出金额"


def setup_reconciliation() -> None:
    """A reconciliation run with exceptions: a WeChat bill of a day long over (2026-01-05),
    uploaded by demo-finance, with two lines out naming nothing of ours (items to read and
    resolve) and a top-up."""
    day = "2026-01-05"
    compact = day.replace("-", "")
    lines = [
        f"`{day} 09:00:00,`4200000001{compact}0000000001,`1900000109{compact}0000000001,`充值,`充值,`收入,`500.00,`500.00,`finance,`充值,`",
        f"`{day} 12:00:00,`1330000000{compact}0000000000000099,`1900000109{compact}0000000002,`商家转账,`商家转账,`支出,`88.00,`412.00,`system,`?,`",
        f"`{day} 13:00:00,`1330000000{compact}0000000000000098,`1900000109{compact}0000000003,`商家转账,`商家转账,`支出,`12.00,`400.00,`system,`?,`",
    ]
    bill = "\ufeff" + BILL_HEADER + "\r\n" + "".join(line + "\r\n" for line in lines)
    bill += BILL_SUMMARY + "\r\n" + "`3.0,`1.0,`500.00,`2.0,`100.00\r\n"
    _, run, _ = HTTP.call("POST", "/finance/statements", staff_token(FINANCE),
                          params={"channel": "wechat", "date": day}, data=bill.encode("utf-8"),
                          headers={"Content-Type": "text/csv"}, expect=202)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _, view, _ = HTTP.call("GET", f"/finance/reconciliations/{run['id']}", staff_token(FINANCE), expect=200)
        if view["status"] in ("done", "failed"):
            break
        time.sleep(0.3)
    if view["status"] != "done":
        raise SetupError(f"reconciliation run {run['id']} ended {view['status']}: {view.get('failure')}")
    _, items, _ = HTTP.call("GET", f"/finance/reconciliations/{run['id']}/items", staff_token(FINANCE), expect=200)
    REC.runs = [run["id"]]
    REC.items = [(run["id"], item["id"]) for item in items["items"]]
    REC.date = day
    log("reconciliation_ready", run=run["id"], items=len(REC.items))


def setup() -> None:
    started = time.monotonic()
    try:
        setup_common()
        if ROLE == "admin":
            setup_admin_run()
            IDENTITIES.prepare(spares=4)
        else:
            # Step-up needs a second SMS code for a phone, and a phone gets one code a
            # minute: sign these workers in first; setup_worker_run waits out the rest.
            DATA.step_up_workers = [ACCOUNTS.new_worker() for _ in range(STEP_UP_WORKERS)]
            IDENTITIES.prepare(spares=10)
            setup_worker_run()
        setup_claims()
        setup_reconciliation()
    except SetupError as exc:
        log("setup_failed", error=str(exc))
        raise
    counts = {
        "identities": 1 + len(IDENTITIES.spares),
        "stations": len(DATA.stations),
        "photos": len(DATA.photos),
        "claims": len(DATA.claims),
        "review_queue": sorted(DATA.review_status.values()),
        "payouts": len(PAY.all),
        "payout_batches": len(PAY.batches),
        "reconciliation_items": len(REC.items),
    }
    if ROLE == "admin":
        counts.update(
            members=len(DATA.members),
            suspended=len(DATA.suspended_members),
            pending_applications=len(DATA.pending_apps),
            pending_transfers=len(DATA.pending_transfers),
            reports=len(DATA.open_reports),
            staff=len(DATA.sacrificial_staff),
        )
    else:
        counts.update(
            applicants=len(DATA.applicants),
            pending_applicants=len(DATA.pending_applicants),
            step_up_codes=len(DATA.step_up_codes),
            closable=len(DATA.closable),
            refresh_tokens=len(DATA.refresh_tokens),
        )
    log("setup_done", seconds=round(time.monotonic() - started, 1), **counts)


if BASE:
    setup()


# ---------------------------------------------------------------------------------------------
# Auth provider


@schemathesis.auth(refresh_interval=60, retry_on=[401])
class GongyouAuth:
    def get(self, case, context):
        return IDENTITIES.token()

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


def _bearer(headers) -> str | None:
    if not headers:
        return None
    value = headers.get("Authorization") or headers.get("authorization")
    if isinstance(value, str) and value.startswith("Bearer "):
        return value[len("Bearer ") :]
    return None


# ---------------------------------------------------------------------------------------------
# Injection of real values


def pick(items: list, n: int):
    return items[n % len(items)] if items else None


def _set_path(case, **values) -> None:
    params = dict(case.path_parameters or {})
    params.update(values)
    case.path_parameters = params


def _set_body(case, **values) -> bool:
    if not isinstance(case.body, dict):
        return False
    body = dict(case.body)
    body.update(values)
    case.body = body
    return True


def _as(case, token: str) -> None:
    headers = dict(case.headers or {})
    headers["Authorization"] = f"Bearer {token}"
    case.headers = headers


def _path_id(key: str, pool_of):
    def inject(case, n):
        value = pick(pool_of(), n)
        if value is not None:
            _set_path(case, **{key: value})

    return inject


def inject_campaign(case, n):
    org = pick(DATA.unions, n)
    if org:
        _set_body(case, org_id=org["id"])


def inject_put_settings(case, n):
    org = pick(DATA.unions, n)
    if org:
        _set_path(case, id=org["id"])


def inject_create_staff(case, n):
    org = pick(DATA.unions, n)
    if org and isinstance(case.body, dict):
        roles = case.body.get("roles")
        if isinstance(roles, list):
            roles = [dict(r, org_id=org["id"]) if isinstance(r, dict) else r for r in roles]
            _set_body(case, org_id=org["id"], roles=roles)
        else:
            _set_body(case, org_id=org["id"])


def inject_update_staff(case, n):
    staff = pick(DATA.sacrificial_staff, n)
    if staff:
        _set_path(case, id=staff)
        if isinstance(case.body, dict) and isinstance(case.body.get("roles"), list):
            org = pick(DATA.unions, n)
            _set_body(case, roles=[dict(r, org_id=org["id"]) if isinstance(r, dict) else r for r in case.body["roles"]])


def inject_create_station(case, n):
    org = pick(DATA.unions, n)
    if org:
        _set_body(case, org_id=org["id"])


def inject_managers(case, n):
    _set_path(case, id=pick(DATA.stations, n))
    _set_body(case, staff_ids=DATA.sacrificial_staff[: 1 + n % 2])


def inject_refresh(case, n):
    if DATA.refresh_tokens:
        _set_body(case, refresh_token=DATA.refresh_tokens.pop(0))


def inject_password(case, n):
    _set_body(case, username=ADMIN_USERNAME, password=PASSWORD)


def inject_sms_sign_in(case, n):
    phone = ACCOUNTS.new_phone()
    try:
        code = ACCOUNTS.request_code(phone, "sign_in")
    except SetupError as exc:
        log("inject_failed", op="sign_in_sms", error=str(exc))
        return
    _set_body(case, phone=phone, code=code)


def inject_step_up(case, n):
    if not DATA.step_up_codes:
        # Replenish from a step-up worker whose minute is free (no waiting here).
        for w in DATA.step_up_workers[CODE_GIVERS]:
            if time.monotonic() - w.last_code_at > 61:
                DATA.step_up_codes.append((w, ACCOUNTS.request_code(w.phone, "step_up")))
                w.last_code_at = time.monotonic()
                break
    if DATA.step_up_codes and isinstance(case.body, dict):
        w, code = DATA.step_up_codes.pop(0)
        _as(case, w.session.access)
        _set_body(case, code=code)


def inject_data_export(case, n):
    w = DATA.step_up_workers[0] if DATA.step_up_workers else None
    if w is None:
        return
    if w.step_up_token is None or time.monotonic() > w.step_up_until:
        if time.monotonic() - w.last_code_at < 61 or ACCOUNTS.step_up(w) is None:
            return
    _as(case, w.session.access)
    headers = dict(case.headers or {})
    headers["X-Step-Up-Token"] = w.step_up_token
    case.headers = headers


def inject_close_account(case, n):
    """DELETE /me erases and closes the account: only ever a throwaway worker's."""
    w = DATA.closable[0] if DATA.closable else None
    if w is None or time.monotonic() > w.step_up_until:
        return
    _as(case, w.session.access)
    headers = dict(case.headers or {})
    headers["X-Step-Up-Token"] = w.step_up_token
    case.headers = headers


def inject_withdraw_application(case, n):
    """A pending application, withdrawn by its applicant."""
    w = DATA.pending_applicants[0] if DATA.pending_applicants else None
    if w is not None:
        _as(case, w.session.access)
        _set_path(case, id=w.application_id)


def inject_transfer(case, n):
    w = IDENTITIES.worker()
    targets = [u["id"] for u in DATA.unions if w is None or u["id"] != w.org_id]
    if targets:
        _set_body(case, to_org_id=pick(targets, n))


def inject_read_notification(case, n):
    w = IDENTITIES.worker()
    if w is None:
        return
    if not w.notifications:
        status, inbox, _ = HTTP.call("GET", "/me/notifications", w.session.access)
        w.notifications = [i["id"] for i in (inbox or {}).get("items", [])] if status == 200 else []
    if w.notifications:
        _set_path(case, id=pick(w.notifications, n))


def inject_apply(case, n):
    if not DATA.applicants or not isinstance(case.body, dict):
        return
    w = DATA.applicants.pop(0)
    _as(case, w.session.access)
    # A whole valid application (the ID number, region, platform dates tie fields together),
    # under a key of its own: the generated Idempotency-Key was used before with another body.
    case.body = ACCOUNTS.application_body()
    headers = dict(case.headers or {})
    headers["Idempotency-Key"] = f"fuzz-apply-{w.phone}"
    case.headers = headers


def inject_get_application(case, n):
    if ROLE == "worker":
        w = IDENTITIES.worker()
        if w and w.application_id:
            _set_path(case, id=w.application_id)
    else:
        _set_path(case, id=pick(DATA.applications, n))


def inject_verify_card(case, n):
    w = pick(DATA.member_workers[3:], n)
    if w is None:
        return
    status, card, _ = HTTP.call("GET", "/me/membership/card", w.session.access)
    if status == 200:
        _set_body(case, qr=card["qr"])


def inject_create_org(case, n):
    parent = pick(DATA.orgs, n)
    if parent:
        values = {"parent_id": parent["id"]}
        if parent.get("region_code"):
            values["region_code"] = parent["region_code"]
        _set_body(case, **values)


def inject_update_station(case, n):
    sid = pick(DATA.stations, n)
    status, _, r = HTTP.call("GET", f"/stations/{sid}")
    if status == 200 and r.headers.get("ETag"):
        _set_path(case, id=sid)
        headers = dict(case.headers or {})
        headers["If-Match"] = r.headers["ETag"]
        case.headers = headers


def inject_check_in(case, n):
    sid = pick(list(DATA.station_codes), n)
    if sid:
        _set_path(case, id=sid)
        _set_body(case, station_code=DATA.station_codes[sid])


def inject_photo(case, n, kwargs):
    _set_path(case, id=pick(DATA.stations, n))
    # Sent as the request's files, not put into case.body: schemathesis cannot validate a
    # binary body against the schema, and would then count the case as a negative one.
    kwargs["files"] = {"file": ("station.png", PNG, "image/png")}


def inject_within_box(case, n):
    boxes = ["104.00,30.60,104.12,30.70", "113.90,22.50,114.10,22.60", "103.9,30.5,104.2,30.8"]
    query = dict(case.query or {})
    query["bbox"] = pick(boxes, n)
    case.query = query


def inject_staff_names(case, n):
    """Names of staff that exist: the fuzzer's own id and the sacrificial staff."""
    ids = [i for i in [DATA.staff_self, *DATA.sacrificial_staff] if i]
    if ids:
        query = dict(case.query or {})
        query["ids"] = ",".join(ids[: 1 + n % len(ids)])
        case.query = query


def inject_get_photo(case, n):
    pair = pick(DATA.photos, n)
    if pair:
        _set_path(case, id=pair[0], photo_id=pair[1])


def inject_resolve(case, n):
    pair = pick(DATA.open_reports, n)
    if pair:
        _set_path(case, id=pair[0], report_id=pair[1])


# --- claims


def _claims_in(pool: list[str], *statuses: str) -> list[str]:
    return [c for c in pool if DATA.claims.get(c, {}).get("status") in statuses]


def _as_owner(case, claim_id: str) -> None:
    _as(case, live(DATA.claims[claim_id]["owner"]))
    _set_path(case, id=claim_id)


def _drop_header(case, name: str) -> None:
    if case.headers:
        case.headers = {k: v for k, v in case.headers.items() if k.lower() != name.lower()}


def inject_create_claim(case, n):
    w = pick(DATA.claimants, n)
    if w is None:
        return
    _as(case, live(w))
    _drop_header(case, "Idempotency-Key")
    _drop_header(case, "X-Step-Up-Token")
    case.body = claim_body(w, ["accident_death_disability", "hospital_daily"][n % 2], n)


def inject_edit_claim(case, n):
    cid = pick(_claims_in(DATA.kept_claims, "draft", "returned"), n)
    if cid:
        _as_owner(case, cid)
        _drop_header(case, "X-Step-Up-Token")
        c = DATA.claims[cid]
        body = claim_body(c["owner"], c["benefit"], n + 1)
        body["enrollment_id"] = c["enrollment"]
        case.body = body


def inject_read_claim(case, n):
    cid = pick(DATA.kept_claims + DATA.withdrawable, n)
    if cid:
        _as_owner(case, cid)


def inject_my_claims(case, n):
    w = pick(DATA.claimants, n)
    if w is not None:
        _as(case, live(w))


def inject_withdraw_claim(case, n):
    cid = pick(_claims_in(DATA.withdrawable, "draft", "submitted", "under_review", "returned"), 0)
    if cid:
        _as_owner(case, cid)


def inject_upload_document(case, n, kwargs):
    cid = pick(_claims_in(DATA.kept_claims, "draft", "returned"), n)
    if cid is None:
        return
    _as_owner(case, cid)
    _drop_header(case, "Content-Type")
    kwargs.pop("json", None)
    kwargs.pop("content", None)
    kwargs["data"] = {"kind": pick(["id_front", "id_back", "accident_proof", "other"], n)}
    kwargs["files"] = {"file": ("document.png", PNG, "image/png")}


def inject_delete_document(case, n):
    if not DATA.removable_documents:
        return
    cid, doc_id = DATA.removable_documents.pop()
    _as_owner(case, cid)
    _set_path(case, doc_id=doc_id)


def inject_get_document(case, n):
    pair = pick(DATA.documents, n)
    if pair:
        _as_owner(case, pair[0])
        _set_path(case, doc_id=pair[1])


def _review_pick(status: tuple[str, ...], before: tuple[str, ...] = ()) -> str | None:
    """A seeded claim in one of `status`; left alone while an operation in `before` (which
    needs a claim in that status too) has not answered a 2xx yet and only one is left.
    Earlier statuses in `status` first."""
    ids = sorted((status.index(s), c) for c, s in DATA.review_status.items() if s in status)
    if not ids or (len(ids) < 2 and any(op not in SUCCEEDED for op in before)):
        return None
    return ids[0][1]


REVIEW = "POST /api/v1/review/claims/{id}/"


def _inject_review(action: str, status: tuple[str, ...], before: tuple[str, ...], who: str, body):
    def inject(case, n):
        # The demo seeds few claims in review: once an action has answered a 2xx, it leaves
        # the rest to the actions that have not (assign feeds them all, so it keeps going).
        if action != "assign" and REVIEW + action in SUCCEEDED:
            return
        cid = _review_pick(status, before)
        if cid is None:
            return
        _as(case, staff_token(who))
        _set_path(case, id=cid)
        if body is not None:
            case.body = dict(body)

    return inject


def _inject_demo_claim(label: str, pool_of):
    def inject(case, n):
        if label in SUCCEEDED:
            return
        pair = pick(pool_of(), 0)
        if pair:
            cid, session = pair
            _as(case, session.access)
            _set_path(case, id=cid)

    return inject


def inject_review_queue(case, n):
    _as(case, staff_token(["demo-reviewer", "demo-approver"][n % 2]))


def inject_claim_settings(case, n):
    org = pick(DATA.settings_orgs, n)
    if org:
        _as(case, ACCOUNTS.admin_token())
        _set_path(case, id=org)


# --- payouts
#
# Finance operations go out as demo-finance (or, where the two-person rule wants the other
# one, demo-approver). Each injection reads the payouts' state from the API first and picks
# one in the state its operation needs; when none is left it sends the case as generated.

def _finance(case, n: int = 0) -> None:
    _as(case, staff_token([FINANCE, APPROVER][n % 2]))


def _body_or(case, fallback: dict) -> dict:
    return dict(case.body) if isinstance(case.body, dict) else dict(fallback)


def _pick_payout(pool: list[str], ok) -> dict | None:
    for pid in pool:
        view = finance_payout(pid)
        if view and ok(view):
            return view
    return None


def _pending_request(v: dict) -> bool:
    return "payee_change_pending" in (v.get("blockers") or [])


def inject_finance_list(case, n):
    _finance(case, n)


def inject_finance_payout(case, n):
    _finance(case, n)
    pid = pick(PAY.all, n)
    if pid:
        _set_path(case, id=pid)


def inject_finance_batch(case, n):
    _finance(case, n)
    bid = pick(PAY.batches, n)
    if bid:
        _set_path(case, id=bid)


def inject_create_batch(case, n):
    headers = dict(case.headers or {})
    view = _pick_payout(PAY.free, lambda v: v["status"] == "pending" and not v.get("batch_id") and not v["blockers"])
    if view is not None:
        headers["Idempotency-Key"] = f"fuzz-batch-{n}-{view['id']}"
        case.body = {"channel": view["channel"], "payout_ids": [view["id"]]}
    elif PAY.replay:
        # Nothing left to batch: a repeat of a batch demo-finance built answers it as it is.
        headers["Idempotency-Key"], body = PAY.replay
        case.body = dict(body)
    else:
        return
    case.headers = headers
    _as(case, staff_token(FINANCE))


def inject_approve_batch(case, n):
    for bid in PAY.drafts:
        view = finance_batch(bid)
        if view and view["status"] == "draft":
            creator = next((u for u, i in PAY.staff_ids.items() if i == view["created_by"]), FINANCE)
            _as(case, staff_token(APPROVER if creator == FINANCE else FINANCE))
            _set_path(case, id=bid)
            return


def inject_bank_file(case, n):
    for bid in PAY.file_ready:
        view = finance_batch(bid)
        if view and view["status"] == "approved" and not view.get("file_taken_at"):
            _as(case, staff_token(FINANCE))
            _set_path(case, id=bid)
            return


def inject_bank_results(case, n):
    item = pick(list(PAY.results.items()), n)
    if item:
        _finance(case, n)
        _set_path(case, id=item[0])
        case.body = item[1]


def inject_reconciliation(case, n):
    _finance(case, n)
    rid = pick(REC.runs, n)
    if rid:
        _set_path(case, id=rid)


def inject_resolve_item(case, n):
    _finance(case, n)
    item = pick(REC.items, n)
    if item:
        _set_path(case, id=item[0], item=item[1])


def inject_upload_statement(case, n):
    _finance(case, n)


def inject_cancel_payout(case, n):
    view = _pick_payout(PAY.awaiting, lambda v: v["status"] == "awaiting_confirmation")
    if view:
        _as(case, staff_token(FINANCE))
        _set_path(case, id=view["id"])
        case.body = _body_or(case, {})


def inject_retry_payout(case, n):
    view = _pick_payout(PAY.all, lambda v: v["status"] in ("failed", "cancelled") and not v["blockers"]
                        and all(a.get("final_at") for a in v.get("attempts") or []))
    if view:
        _as(case, staff_token(FINANCE))
        _set_path(case, id=view["id"])
        case.body = _body_or(case, {})


def inject_switch_payee(case, n):
    view = _pick_payout(
        PAY.free + PAY.all,
        lambda v: v["payee"]["kind"] == "wechat_balance" and not _pending_request(v)
        and ((v["status"] == "pending" and not v.get("batch_id")) or v["status"] in ("failed", "cancelled")),
    )
    if view:
        _finance(case, n)
        _set_path(case, id=view["id"])
        body = _body_or(case, {})
        body.pop("from_claim_id", None)
        body["kind"] = "wechat_balance"
        body.setdefault("reason", "收款人要求转入微信零钱")
        case.body = body


def inject_payee_request(case, n):
    view = _pick_payout(
        PAY.requestable + PAY.all,
        lambda v: v["status"] in ("pending", "failed", "cancelled") and not _pending_request(v)
        and v["payee"]["kind"] == "wechat_balance",
    )
    if view:
        _as(case, staff_token(FINANCE))
        _set_path(case, id=view["id"])
        body = _body_or(case, BANK_PAYEE)
        body.update(account=BANK_PAYEE["account"])
        case.body = body


def inject_decide_payee(case, n):
    # The hook's payee requests are demo-finance's: demo-approver decides.
    view = _pick_payout(PAY.requestable + PAY.all, _pending_request)
    if view:
        _as(case, staff_token(APPROVER))
        _set_path(case, id=view["id"])
        case.body = _body_or(case, {"approve": True})


def inject_payout_settings(case, n):
    org = pick(PAY.settings_orgs, n)
    if not org:
        return
    _finance(case, n)
    _set_path(case, id=org)
    if case.operation.method.upper() == "PUT":
        # The templates that apply there now, as the view shows them (a round trip).
        status, view, _ = HTTP.call("GET", f"/finance/orgs/{org}/payout-settings", staff_token(FINANCE))
        if status == 200:
            case.body = {"bank_template": view["bank_template"], "result_template": view["result_template"]}


def inject_my_payouts(case, n):
    session = pick(PAY.members, n)
    if session is not None:
        _as(case, session.access)


INJECT = {
    "GET /api/v1/finance/payouts": inject_finance_list,
    "GET /api/v1/finance/payouts/{id}": inject_finance_payout,
    "GET /api/v1/finance/payouts/{id}/events": inject_finance_payout,
    "POST /api/v1/finance/payouts/{id}/retry": inject_retry_payout,
    "POST /api/v1/finance/payouts/{id}/cancel": inject_cancel_payout,
    "POST /api/v1/finance/payouts/{id}/payee": inject_switch_payee,
    "POST /api/v1/finance/payouts/{id}/payee-request": inject_payee_request,
    "POST /api/v1/finance/payouts/{id}/payee-request/decide": inject_decide_payee,
    CREATE_BATCH: inject_create_batch,
    "GET /api/v1/finance/payout-batches": inject_finance_list,
    "GET /api/v1/finance/payout-batches/{id}": inject_finance_batch,
    "POST /api/v1/finance/payout-batches/{id}/approve": inject_approve_batch,
    "GET /api/v1/finance/payout-batches/{id}/bank-file": inject_bank_file,
    "POST /api/v1/finance/payout-batches/{id}/bank-results": inject_bank_results,
    "GET /api/v1/finance/reconciliations": inject_finance_list,
    "GET /api/v1/finance/reconciliations/{id}": inject_reconciliation,
    "GET /api/v1/finance/reconciliations/{id}/items": inject_reconciliation,
    "GET /api/v1/finance/reconciliations/{id}/exceptions.csv": inject_reconciliation,
    "POST /api/v1/finance/reconciliations/{id}/rerun": inject_reconciliation,
    "POST /api/v1/finance/reconciliations/{id}/items/{item}/resolve": inject_resolve_item,
    "POST /api/v1/finance/statements": inject_upload_statement,
    "GET /api/v1/finance/orgs/{id}/payout-settings": inject_payout_settings,
    "PUT /api/v1/finance/orgs/{id}/payout-settings": inject_payout_settings,
    "GET /api/v1/me/payouts": inject_my_payouts,
    "POST /api/v1/claims": inject_create_claim,
    "PUT /api/v1/claims/{id}": inject_edit_claim,
    "GET /api/v1/claims/{id}": inject_read_claim,
    "GET /api/v1/claims/{id}/events": inject_read_claim,
    "GET /api/v1/me/claims": inject_my_claims,
    "POST /api/v1/claims/{id}/withdraw": inject_withdraw_claim,
    "POST /api/v1/claims/{id}/documents": inject_upload_document,
    "GET /api/v1/claims/{id}/documents/{doc_id}": inject_get_document,
    "DELETE /api/v1/claims/{id}/documents/{doc_id}": inject_delete_document,
    "GET /api/v1/review/claims": inject_review_queue,
    "POST /api/v1/claims/{id}/submit": _inject_demo_claim(
        "POST /api/v1/claims/{id}/submit", lambda: DATA.demo_submittable
    ),
    "POST /api/v1/claims/{id}/resubmit": _inject_demo_claim(
        "POST /api/v1/claims/{id}/resubmit", lambda: DATA.demo_resubmittable
    ),
    REVIEW + "assign": _inject_review("assign", ("submitted",), (), "demo-reviewer", None),
    REVIEW + "return": _inject_review(
        "return", ("under_review",), (REVIEW + "approve",), "demo-reviewer", {"reasons": ["documents_missing"], "note": "请补充事故证明"}
    ),
    REVIEW + "approve": _inject_review(
        "approve", ("under_review",), (), "demo-reviewer", {"note": "材料齐全"}
    ),
    REVIEW + "confirm": _inject_review("confirm", ("awaiting_confirmation",), (), "demo-approver", {}),
    REVIEW + "reject": _inject_review(
        "reject", ("awaiting_confirmation", "under_review"),
        (REVIEW + "confirm", REVIEW + "return", REVIEW + "approve"), "demo-reviewer",
        {"reason_code": "other", "note": "不符合保障范围"},
    ),
    "GET /api/v1/admin/orgs/{id}/claim-settings": inject_claim_settings,
    "PUT /api/v1/admin/orgs/{id}/claim-settings": inject_claim_settings,
    "POST /api/v1/admin/plans": inject_create_plan,
    "POST /api/v1/admin/plans/{code}/roster-imports": inject_roster,
    "GET /api/v1/admin/roster-imports/{id}": _path_id("id", lambda: DATA.roster_imports),
    "GET /api/v1/admin/roster-imports/{id}/errors": _path_id("id", lambda: DATA.roster_imports),
    "GET /api/v1/admin/plans/{code}": _path_id("code", lambda: DATA.plans),
    "GET /api/v1/admin/plans/{code}/roster-imports": _path_id("code", lambda: DATA.plans),
    "GET /api/v1/staff/names": inject_staff_names,
    "PATCH /api/v1/admin/plans/{code}": inject_edit_plan,
    "POST /api/v1/admin/plans/{code}/publish": _path_id("code", lambda: DATA.draft_plans),
    "POST /api/v1/admin/plans/{code}/versions": _path_id("code", lambda: DATA.published_plans[1:]),
    "POST /api/v1/admin/plans/{code}/close": _path_id("code", lambda: DATA.published_plans[1:]),
    "GET /api/v1/plans/{code}": _path_id("code", lambda: [DEMO_PLAN]),
    "GET /api/v1/plans/{code}/eligibility": _path_id("code", lambda: [DEMO_PLAN]),
    "POST /api/v1/plans/{code}/enrollments": _path_id("code", lambda: [DEMO_PLAN]),
    "POST /api/v1/admin/campaigns": inject_campaign,
    "GET /api/v1/admin/campaigns/{id}": _path_id("id", lambda: DATA.campaigns),
    "POST /api/v1/admin/jobs/{id}/retry": _path_id("id", lambda: DATA.jobs),
    "GET /api/v1/admin/members/{membership_id}": _path_id("membership_id", lambda: DATA.members),
    "POST /api/v1/admin/members/{membership_id}/identity-reads": _path_id("membership_id", lambda: DATA.members),
    "POST /api/v1/admin/members/{membership_id}/reinstate": _path_id(
        "membership_id", lambda: DATA.suspended_members
    ),
    "POST /api/v1/admin/members/{membership_id}/suspend": _path_id("membership_id", lambda: DATA.active_members),
    "POST /api/v1/admin/membership/applications/{id}/approve": _path_id("id", lambda: DATA.pending_apps),
    "POST /api/v1/admin/membership/applications/{id}/reject": _path_id("id", lambda: DATA.pending_apps),
    "POST /api/v1/admin/membership/transfers/{id}/approve": _path_id("id", lambda: DATA.pending_transfers),
    "POST /api/v1/admin/membership/transfers/{id}/reject": _path_id("id", lambda: DATA.pending_transfers),
    "GET /api/v1/admin/orgs/{id}/membership-settings": _path_id("id", lambda: [u["id"] for u in DATA.unions]),
    "PUT /api/v1/admin/orgs/{id}/membership-settings": inject_put_settings,
    "POST /api/v1/admin/staff": inject_create_staff,
    UPDATE_STAFF: inject_update_staff,
    "POST /api/v1/admin/stations": inject_create_station,
    "PUT /api/v1/admin/stations/{id}/managers": inject_managers,
    "POST /api/v1/auth/refresh": inject_refresh,
    "POST /api/v1/auth/sessions/password": inject_password,
    "POST /api/v1/auth/sessions/sms": inject_sms_sign_in,
    "POST /api/v1/auth/step-up": inject_step_up,
    "GET /api/v1/me/data-export": inject_data_export,
    CLOSE_ACCOUNT: inject_close_account,
    "POST /api/v1/me/membership/transfers": inject_transfer,
    "POST /api/v1/me/notifications/{id}/read": inject_read_notification,
    "POST /api/v1/membership/applications": inject_apply,
    "GET /api/v1/membership/applications/{id}": inject_get_application,
    WITHDRAW_APPLICATION: inject_withdraw_application,
    "POST /api/v1/membership/card-verifications": inject_verify_card,
    "POST /api/v1/orgs": inject_create_org,
    "GET /api/v1/orgs/{id}": _path_id("id", lambda: [o["id"] for o in DATA.orgs]),
    "PATCH /api/v1/orgs/{id}": _path_id("id", lambda: [o["id"] for o in DATA.orgs[1:]]),
    "GET /api/v1/stations": inject_within_box,
    "GET /api/v1/stations/{id}": _path_id("id", lambda: DATA.stations),
    "PATCH /api/v1/stations/{id}": inject_update_station,
    "POST /api/v1/stations/{id}/check-ins": inject_check_in,
    "PUT /api/v1/stations/{id}/location": _path_id("id", lambda: DATA.movable),
    "POST /api/v1/stations/{id}/photos": inject_photo,
    "GET /api/v1/stations/{id}/photos/{photo_id}": inject_get_photo,
    "GET /api/v1/stations/{id}/reports": _path_id("id", lambda: DATA.report_stations),
    "POST /api/v1/stations/{id}/reports": _path_id("id", lambda: DATA.stations),
    "POST /api/v1/stations/{id}/reports/{report_id}/resolve": inject_resolve,
    "GET /api/v1/stations/{id}/stats": _path_id("id", lambda: DATA.stations),
    ROTATE_CODE: _path_id("id", lambda: DATA.stations),
}

COUNTERS: dict[str, int] = {}
INJECTED: dict[str, int] = {}
SUCCEEDED: set[str] = set()  # operations that answered a 2xx


def _positive(case) -> bool:
    meta = case._meta
    if meta is None:
        return False
    return str(meta.generation.mode) == "positive" and str(meta.phase.name) != "stateful"


@schemathesis.hook
def before_call(context, case, kwargs):
    label = case.operation.label
    access = _bearer(case.headers)
    # 1. Never send a dead token of ours: swap in a live one (all phases).
    if access is not None and access in IDENTITIES.dead:
        _as(case, IDENTITIES.token())
        access = _bearer(case.headers)
    # 2. Guard the fuzzer's own staff account.
    if label == UPDATE_STAFF and DATA.staff_self and (case.path_parameters or {}).get("id") == DATA.staff_self:
        _set_path(case, id=pick(DATA.sacrificial_staff, COUNTERS.get(label, 0)))
        log("guard", op=label)
    # 3. Real values in every other positive case (not in the stateful phase, whose values
    #    come from earlier responses through links).
    inject = INJECT.get(label)
    if inject is None or not _positive(case):
        return
    n = COUNTERS.get(label, 0)
    COUNTERS[label] = n + 1
    if n % 2:
        return
    with IDENTITIES.lock:
        if inject is inject_photo or inject is inject_upload_document:
            inject(case, n // 2, kwargs)
        else:
            inject(case, n // 2)
    INJECTED[label] = INJECTED.get(label, 0) + 1


def _forget(items: list, value) -> None:
    if value in items:
        items.remove(value)


@schemathesis.hook
def after_call(context, case, response):
    label = case.operation.label
    status = response.status_code
    request = getattr(response, "request", None)
    access = _bearer(getattr(request, "headers", None))
    params = case.path_parameters or {}
    ok = 200 <= status < 300
    if ok:
        SUCCEEDED.add(label)
    # State changes that decide which ids later injections use.
    if ok and ("/claims" in label):
        try:
            _claim_seen(label, params, access, response.json())
        except Exception as exc:  # noqa: BLE001 - bookkeeping must never break the run
            log("claim_tracking_failed", op=label, error=repr(exc))
    if ok and label == CREATE_BATCH:
        try:
            batch = response.json()
            if batch["id"] not in PAY.batches:
                PAY.batches.append(batch["id"])
                if batch.get("status") == "draft":
                    PAY.drafts.append(batch["id"])
        except Exception as exc:  # noqa: BLE001 - bookkeeping must never break the run
            log("batch_tracking_failed", error=repr(exc))
    if ok:
        if label.endswith("/applications/{id}/approve") or label.endswith("/applications/{id}/reject"):
            _forget(DATA.pending_apps, params.get("id"))
        elif label.endswith("/transfers/{id}/approve") or label.endswith("/transfers/{id}/reject"):
            _forget(DATA.pending_transfers, params.get("id"))
        elif label.endswith("/{membership_id}/suspend"):
            _forget(DATA.active_members, params.get("membership_id"))
            DATA.suspended_members.append(params.get("membership_id"))
        elif label.endswith("/{membership_id}/reinstate"):
            _forget(DATA.suspended_members, params.get("membership_id"))
            DATA.active_members.append(params.get("membership_id"))
        elif label.endswith("/{report_id}/resolve"):
            _forget(DATA.open_reports, (params.get("id"), params.get("report_id")))
        elif label == ROTATE_CODE and params.get("id") in DATA.station_codes:
            # The old code stops working: read the new one, as a manager's app would.
            status, view, _ = HTTP.call("GET", f"/stations/{params['id']}", ACCOUNTS.admin_token())
            if status == 200 and view.get("station_code"):
                DATA.station_codes[params["id"]] = view["station_code"]
        elif label == "POST /api/v1/admin/plans/{code}/publish":
            code = params.get("code")
            _forget(DATA.draft_plans, code)
            if code not in DATA.published_plans:
                DATA.published_plans.append(code)
        elif label == "POST /api/v1/admin/plans/{code}/versions":
            if params.get("code") not in DATA.draft_plans:
                DATA.draft_plans.append(params.get("code"))
        elif label == "POST /api/v1/admin/plans/{code}/close":
            _forget(DATA.published_plans, params.get("code"))
        elif label == "POST /api/v1/admin/plans" and isinstance(case.body, dict):
            DATA.plans.append(case.body.get("code"))
            DATA.draft_plans.append(case.body.get("code"))
        elif label == WITHDRAW_APPLICATION:
            DATA.pending_applicants = [w for w in DATA.pending_applicants if w.application_id != params.get("id")]
        elif label == CLOSE_ACCOUNT:
            DATA.closable = [w for w in DATA.closable if w.session.access != access]
    # Our identity ended: signed out, or (worker) no longer a member.
    if access is None or not IDENTITIES.owns(access):
        return
    if label in (SIGN_OUT, CLOSE_ACCOUNT) and ok:
        IDENTITIES.retire(access, "signed_out" if label == SIGN_OUT else "closed")
    elif label == WITHDRAW and ok:
        IDENTITIES.retire(access, "withdrawn")
    elif status == 401 and access not in IDENTITIES.dead:
        check, _, _ = HTTP.call("GET", "/me", access)
        if check == 401:
            IDENTITIES.retire(access, f"401 on {label}")


def _claim_seen(label: str, params: dict, access: str | None, body) -> None:
    if not isinstance(body, dict):
        return
    if label == "POST /api/v1/claims/{id}/documents" and body.get("id") and params.get("id") in DATA.claims:
        DATA.documents.append((params["id"], body["id"]))
        return
    cid, status = body.get("id"), body.get("status")
    if not isinstance(cid, str) or not isinstance(status, str):
        return
    if cid in DATA.claims:
        DATA.claims[cid]["status"] = status
    elif label == "POST /api/v1/claims":
        owner = next((w for w in DATA.claimants if w.session.access == access), None)
        if owner is not None:
            DATA.claims[cid] = {"owner": owner, "enrollment": body.get("enrollment_id"),
                                "benefit": body.get("benefit_code"), "status": status}
            DATA.withdrawable.append(cid)
    if cid in DATA.review_status or label.startswith("POST /api/v1/review/"):
        DATA.review_status[cid] = status


def summary() -> dict:
    return {"identities": IDENTITIES.stats, "injected": INJECTED}


import atexit  # noqa: E402

atexit.register(lambda: log("summary", **summary()))
