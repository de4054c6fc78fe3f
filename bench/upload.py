"""A resident's report with a photo through the app's API: `POST /api/v1/photos` with a 2 MB JPEG, then
`POST /api/v1/tickets` naming it, beside a bare upload endpoint (bench/floor.py) on the same gunicorn in the same
run; and the resident set size of a web worker while 8 uploads are in flight at once.

The residents sign in as the mini-program does (a wx.login code from the WeChat stand-in, `POST /api/v1/session`),
so every report also asks the stand-in's msgSecCheck, as production asks Tencent's.
"""

from __future__ import annotations

import cProfile
import io
import json
import logging
import math
import pstats
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

from PIL import Image, ImageFilter
from sqlalchemy import func
from sqlmodel import Session, select
from werkzeug.serving import make_server

import policy
from api import CALLS_PER_MINUTE
from bench import harness
from bench.harness import HOST, BenchError, Environment, Options, Server, progress, tree_cpu
from bench.load import cpu_times
from bench.results import Report
from bench.stats import Run
from config import DEV_MP_APPID, DEV_SECRET, DEV_WECHAT_APPID
from demo.complaints import buildings, complaints, residents
from simulator.wechat_api import WeChatApi, create_wechat_api
from storage.models import Photo, Ticket

SECTION = "Resident report with a photo (API)"
PHOTOS, TICKETS, FLOOR_UPLOAD = "/api/v1/photos", "/api/v1/tickets", "/floor/upload"
# A phone's 12-megapixel photo, as a JPEG of about 2 MB.
PHOTO_SIZE = (4000, 3000)
# What the app keeps of it: a JPEG decoded at half size (handlers/photos.py, MIN_KEPT_SIDE).
KEPT = (2000, 1500)
PHOTO_TARGET_BYTES = 2_000_000
PHOTO_SEED = 16
BOUNDARY = "wgt-bench-photo"
MP_SECRET = "bench-mp-secret"
# Uploads per signed-in resident: under the API's per-resident limits (policy.PHOTOS_PER_HOUR uploads an hour and
# api.CALLS_PER_MINUTE calls a minute, an upload and a report being two calls), with room to spare.
PER_RESIDENT = min(policy.PHOTOS_PER_HOUR, CALLS_PER_MINUTE // 2) - 10
# The RSS study: this many uploads in flight at once, each client sending its next as soon as it is answered.
IN_FLIGHT = 8
BURST_ROUNDS = 3
RSS_SAMPLE_SECONDS = 0.005
# A worker's first report builds the classifier, its first upload loads Pillow's JPEG codecs: warm until each worker
# has answered this many of each.
WARM_PER_WORKER = 3
WARM_BURSTS = 30
CLIENT_TIMEOUT = 60.0
PROFILE_RUNS = 5

INTRO = f"""What the issue asks: "`POST /api/v1/tickets` with one 2 MB photo, p99 and CPU per ticket beside a bare
upload endpoint in the same run; RSS of a web worker while {IN_FLIGHT} uploads run at once."

The photo is one JPEG made once per run with Pillow, the same bytes for every request: {PHOTO_SIZE[0]} x
{PHOTO_SIZE[1]} px (a phone's 12 MP), colour gradients under blurred seeded noise, saved at the JPEG quality
whose size comes nearest {PHOTO_TARGET_BYTES / 1e6:.0f} MB, no EXIF (so no GPS: the place is read from the text).
The app checks it (`handlers/photos.py`): a JPEG decoded at half size (Pillow's draft mode: 2000 x 1500 keeps
more than the 1,600 px the app wants on the long side, so no resize follows), re-encoded at quality 85 with
`optimize`, then written to the photo store (a directory in the temp dir, fsync'd) and its row. Until 2026-12-03
it decoded all 12 MP and scaled them to 2,560 px with LANCZOS: the same run then measured 290 ms of CPU per
upload (58x the floor; 160 of them the resize) and a worker's peak 140 MiB above idle with 8 uploads in flight.

A report is what the mini-program does: one `POST /api/v1/photos` (multipart, field `photo`, as `wx.uploadFile`
sends it), then one `POST /api/v1/tickets` `{{text, photos: [id]}}` with a fresh Idempotency-Key, both with the
resident's bearer token. The residents sign in as a mini-program does (a `wx.login` code from the WeChat
stand-in, `simulator.wechat_api`, served from this process; `POST /api/v1/session`), so each report also asks the
stand-in's msgSecCheck over loopback. Every text is a different problem (one building x unit x fault of
`demo/complaints.py`, such as "幸福小区3栋2单元楼道灯坏了好几天了"), so none is linked to an earlier ticket;
each resident sends at most {PER_RESIDENT} uploads, under the API's limits of {policy.PHOTOS_PER_HOUR} uploads an
hour and {CALLS_PER_MINUTE} calls a minute per resident (the sender limits are lifted, as in the other
benchmarks). No rq worker runs, so the group card's delivery is not measured.

One client sends the reports one after another (`http.client`, a new connection per request, as gunicorn's sync
workers close each one). "report" is the upload's time plus the ticket's, each from request to the last byte of
the answer: what a resident waits for, without the client's own work in between. Every answer is checked: the
upload 201 with the photo's id and the size the app keeps ({KEPT[0]} x {KEPT[1]}), the report 201, not linked,
naming one photo. CPU is that gunicorn's (master and workers, utime + stime from /proc) over the measured
requests, divided by their number; a step's share is the sum of the deltas read around its requests. The floor
is `bench/floor.py`'s `POST {FLOOR_UPLOAD}` on the same gunicorn with the same worker count and the same
multipart body: werkzeug's form parser (which spools a file over 500 KB to a temporary file, for the app as for
the floor) reads the file to its end and the answer is its length, nothing decoded. "÷ floor" divides by its
figure in the same run. "in-worker" is gunicorn's own timer from its access log (`%(D)s`); with 2 CPUs shared by
the client and both servers, a worker can be descheduled before it stops that clock, so it may exceed the
client's figure.

Memory: {IN_FLIGHT} clients each send {BURST_ROUNDS} uploads back to back, so {IN_FLIGHT} are in flight at once
(sync workers take one at a time: the rest wait in the listen queue). Each worker's VmRSS is sampled every
{RSS_SAMPLE_SECONDS * 1000:.0f} ms from /proc, and its VmHWM (reset through /proc/PID/clear_refs just before) gives
the exact peak; "fresh" is right after gunicorn started (the app is preloaded in the master and forked), "idle" just
before the burst, after the measured reports, "after" a second after it. The floor's workers get the same burst."""


# ---- the photo -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SamplePhoto:
    """The JPEG every request sends, and what it is."""

    data: bytes = field(repr=False)
    width: int
    height: int
    quality: int


def make_photo() -> SamplePhoto:
    """A phone-sized photo that compresses as a photo does: gradients under seeded, blurred noise; the JPEG quality
    whose size comes nearest the target (noise compresses badly, flat colour far too well)."""
    rng = random.Random(PHOTO_SEED)
    width, height = PHOTO_SIZE
    ramp = Image.linear_gradient("L").resize((width, height))
    bases = (ramp, ramp.transpose(Image.Transpose.ROTATE_180), ramp.transpose(Image.Transpose.ROTATE_90))
    bands = []
    for base in bases:
        noise = Image.frombytes("L", (width, height), rng.randbytes(width * height))
        bands.append(Image.blend(base.resize((width, height)), noise.filter(ImageFilter.GaussianBlur(1.2)), 0.5))
    image = Image.merge("RGB", bands)
    sizes: dict[int, bytes] = {}

    def encoded(quality: int) -> bytes:
        if quality not in sizes:
            out = io.BytesIO()
            image.save(out, "JPEG", quality=quality)
            sizes[quality] = out.getvalue()
        return sizes[quality]

    low, high = 50, 95  # the size grows with the quality: the first quality at or over the target
    while low < high:
        middle = (low + high) // 2
        if len(encoded(middle)) < PHOTO_TARGET_BYTES:
            low = middle + 1
        else:
            high = middle
    quality = min((low - 1, low), key=lambda q: abs(len(encoded(q)) - PHOTO_TARGET_BYTES))
    return SamplePhoto(encoded(quality), width, height, quality)


def multipart(data: bytes) -> tuple[bytes, str]:
    """One file in a multipart body, field `photo`, as wx.uploadFile sends it; and its Content-Type."""
    head = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="photo"; filename="photo.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{BOUNDARY}--\r\n".encode(), f"multipart/form-data; boundary={BOUNDARY}"


@dataclass(frozen=True)
class Profile:
    """Where handlers.photos.inspect spends its CPU on the photo, in this process (median of PROFILE_RUNS), ms."""

    total: float
    parts: dict[str, float]


# Pillow's C calls, by what they do; flattening an image that is already RGB is a copy of it.
PROFILE_PARTS = {
    "decode": ("'decode' of 'ImagingDecoder'",),
    "resize": ("'resize' of 'ImagingCore'",),
    "encode": ("'encode' of 'ImagingEncoder'",),
    "RGB copy/convert": ("'copy' of 'ImagingCore'", "'convert' of 'ImagingCore'"),
}


def profile(data: bytes, runs: int = PROFILE_RUNS) -> Profile:
    """cProfile on the process's CPU clock; Pillow's C calls named by what they do."""
    from handlers import photos as photo_rules

    photo_rules.inspect(data)  # the plugins' first use, as a warm worker has had
    totals: list[float] = []
    parts: dict[str, list[float]] = {name: [] for name in PROFILE_PARTS}
    for _ in range(runs):
        profiler = cProfile.Profile(time.process_time)
        profiler.runcall(photo_rules.inspect, data)
        stats: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
        for (filename, _, name), (_, _, _, cumulative, _) in stats.items():
            if name == "inspect" and filename.endswith(str(Path("handlers", "photos.py"))):
                totals.append(cumulative * 1000)
        for part, needles in PROFILE_PARTS.items():
            own = sum(entry[2] for key, entry in stats.items() if any(needle in key[2] for needle in needles))
            parts[part].append(own * 1000)
    return Profile(
        statistics.median(totals) if totals else math.nan,
        {part: statistics.median(values) for part, values in parts.items()},
    )


# ---- the WeChat stand-in and the residents -------------------------------------------------------------------------


@contextmanager
def wechat_stand_in() -> Iterator[tuple[str, WeChatApi]]:
    """The stand-in for api.weixin.qq.com on a loopback port, threaded, in this process: its API base and state."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per msgSecCheck on stderr
    stand_in = create_wechat_api(DEV_WECHAT_APPID, DEV_SECRET, mp_appid=DEV_MP_APPID, mp_secret=MP_SECRET)
    server = make_server(HOST, 0, stand_in, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_port}/cgi-bin/", stand_in.extensions["wechat_api"]
    finally:
        server.shutdown()
        server.server_close()


def send(server: Server, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    return harness.post(server.port, path, body, headers, CLIENT_TIMEOUT)


class Residents:
    """Residents signed in through the mini-program's code, each used for PER_RESIDENT uploads at most."""

    def __init__(self, server: Server, wechat: WeChatApi) -> None:
        self.server, self.wechat = server, wechat
        self.tokens: list[str] = []
        self.uploads = 0
        self.lock = threading.Lock()

    def ensure(self, uploads: int) -> None:
        """Enough residents signed in for `uploads` more (done before a measured phase, never inside one)."""
        while len(self.tokens) * PER_RESIDENT < self.uploads + uploads:
            self.tokens.append(self.sign_in(f"o-bench-upload-{len(self.tokens):04d}"))

    def sign_in(self, openid: str) -> str:
        for _ in range(3):
            body = json.dumps({"code": self.wechat.wx_login(openid)}).encode()
            status, reply = send(self.server, "/api/v1/session", body, {"Content-Type": "application/json"})
            if status == 200:
                token: str = json.loads(reply)["token"]
                return token
            if status != 429:
                break
            # Sign-ins are limited per address (api.SIGN_INS_PER_MINUTE a minute): wait for the next window.
            time.sleep(61 - time.time() % 60)
        raise BenchError(f"sign-in of {openid} failed: HTTP {status} {reply[:300]!r}\n{self.server.log_tail()}")

    def next(self) -> dict[str, str]:
        """The bearer header of the resident whose turn it is."""
        with self.lock:
            index = self.uploads // PER_RESIDENT
            if index >= len(self.tokens):
                raise BenchError("more uploads than residents signed in for them (Residents.ensure)")
            self.uploads += 1
            return {"Authorization": f"Bearer {self.tokens[index]}"}


# ---- one report ----------------------------------------------------------------------------------------------------


def upload_ok(status: int, reply: bytes) -> tuple[str | None, int]:
    """The app's upload answer: a problem, or None and the photo's id."""
    try:
        data = json.loads(reply) if status == 201 else {}
    except ValueError:
        data = {}
    if status != 201 or not isinstance(data.get("id"), int):
        return f"upload: HTTP {status}: {reply[:200]!r}", 0
    if (data.get("width"), data.get("height")) != KEPT:
        return f"upload: kept as {data.get('width')} x {data.get('height')}, not {KEPT[0]} x {KEPT[1]}", 0
    return None, data["id"]


def ticket_ok(status: int, reply: bytes) -> str | None:
    try:
        data = json.loads(reply)
    except ValueError:
        data = {}
    ticket = data.get("ticket") if isinstance(data, dict) else None
    if status != 201 or not isinstance(ticket, dict):
        return f"report: HTTP {status}: {reply[:200]!r}"
    if data.get("linked"):
        return f"report: linked to an earlier ticket: {data.get('message')!r}"
    if len(ticket.get("photos", ())) != 1:
        return f"report: ticket {ticket.get('id')} names {len(ticket.get('photos', ()))} photos, not 1"
    return None


def floor_ok(size: int) -> Callable[[int, bytes], str | None]:
    def check(status: int, reply: bytes) -> str | None:
        try:
            got = json.loads(reply).get("size") if status == 201 else None
        except ValueError:
            got = None
        return None if got == size else f"floor upload: HTTP {status}: {reply[:200]!r}"

    return check


@dataclass
class Steps:
    """What one report took: each step's client seconds and the gunicorn's CPU seconds read around it."""

    upload: float = 0.0
    ticket: float = 0.0
    upload_cpu: float = 0.0
    ticket_cpu: float = 0.0
    problem: str | None = None


class Reporter:
    """The app's side of one report: upload the photo, then report the problem naming it."""

    def __init__(self, app: Server, people: Residents, body: bytes, content_type: str) -> None:
        self.app, self.residents = app, people
        self.body, self.content_type = body, content_type
        # demo.complaints' texts, each a different problem; its residents only draw them (the app's report here).
        places = buildings()
        self.texts = iter(c.text for c in complaints(places, residents(places)))
        self.lock = threading.Lock()

    def text(self) -> str:
        with self.lock:
            found = next(self.texts, None)
        if found is None:
            raise BenchError("out of distinct complaints in demo/complaints.py")
        return found

    def report(self, metered: bool = False) -> Steps:
        steps = Steps()
        auth, text = self.residents.next(), self.text()
        pid = self.app.proc.pid
        cpu0 = tree_cpu(pid) if metered else 0.0
        t0 = time.perf_counter()
        status, reply = send(self.app, PHOTOS, self.body, {**auth, "Content-Type": self.content_type})
        steps.upload = time.perf_counter() - t0
        cpu1 = tree_cpu(pid) if metered else 0.0
        steps.upload_cpu = cpu1 - cpu0
        steps.problem, photo_id = upload_ok(status, reply)
        if steps.problem:
            return steps
        payload = json.dumps({"text": text, "photos": [photo_id]}, ensure_ascii=False).encode()
        headers = {**auth, "Content-Type": "application/json", "Idempotency-Key": f"bench-{time.time_ns()}"}
        t1 = time.perf_counter()
        status, reply = send(self.app, TICKETS, payload, headers)
        steps.ticket = time.perf_counter() - t1
        steps.ticket_cpu = (tree_cpu(pid) - cpu1) if metered else 0.0
        steps.problem = ticket_ok(status, reply)
        return steps


# ---- warming up, measuring -----------------------------------------------------------------------------------------


def warm_up(server: Server, paths: tuple[str, ...], one: Callable[[], None], options: Options) -> tuple[int, float]:
    """`options.warmup` actions one at a time, then bursts of one per worker until every worker has answered
    WARM_PER_WORKER requests to each path; how many actions, and the slowest one's ms."""
    times: list[float] = []
    lock = threading.Lock()

    def timed() -> None:
        t0 = time.perf_counter()
        one()
        with lock:
            times.append(time.perf_counter() - t0)

    for _ in range(options.warmup):
        timed()
    with ThreadPoolExecutor(max_workers=options.workers) as pool:
        for _ in range(WARM_BURSTS):
            time.sleep(0.1)  # a worker logs just after answering
            answered = [Counter(a.pid for a in server.accesses(path)) for path in paths]
            if all(len(c) >= options.workers and min(c.values()) >= WARM_PER_WORKER for c in answered):
                break
            list(pool.map(lambda _: timed(), range(options.workers)))
    return len(times), max(times, default=0.0) * 1000


@dataclass
class Measured:
    """A measured pass: client timings, CPU seconds of the gunicorn, and what gunicorn logged of it."""

    run: Run
    cpu: float = 0.0
    logged: list[harness.Access] = field(default_factory=list)

    def cpu_ms(self) -> float:
        return self.cpu / len(self.run.seconds) * 1000 if self.run.seconds else math.nan


def measure_floor(floor: Server, body: bytes, content_type: str, size: int, options: Options) -> Measured:
    check = floor_ok(size)
    headers = {"Content-Type": content_type}

    def one() -> None:
        if problem := check(*send(floor, FLOOR_UPLOAD, body, headers)):
            raise BenchError(f"floor: warm-up upload: {problem}\n{floor.log_tail()}")

    progress(f"floor: warming up, then {options.messages} bare uploads")
    warmed = warm_up(floor, (FLOOR_UPLOAD,), one, options)
    result = Measured(Run("floor: bare upload (reads the 2 MB file)"))
    result.run.warmup, result.run.warmup_max_ms = warmed
    before = len(floor.accesses(FLOOR_UPLOAD))
    cpu0, started = tree_cpu(floor.proc.pid), time.perf_counter()
    for number in range(1, options.messages + 1):
        t0 = time.perf_counter()
        status, reply = send(floor, FLOOR_UPLOAD, body, headers)
        result.run.seconds.append(time.perf_counter() - t0)
        if problem := check(status, reply):
            result.run.errors.append(f"upload {number}: {problem}")
    result.run.wall = time.perf_counter() - started
    result.logged = wait_logged(floor, FLOOR_UPLOAD, before + options.messages)[before:]
    result.cpu = tree_cpu(floor.proc.pid) - cpu0
    return result


@dataclass
class AppPass:
    upload: Measured
    ticket: Measured
    report: Measured
    machine_busy: float  # CPUs busy on the whole machine over the pass, of all of them
    app_share: float  # the app's gunicorn's CPU over the pass's wall time, in CPUs
    content_checks: int


def measure_app(app: Server, reporter: Reporter, wechat: WeChatApi, options: Options) -> AppPass:
    def one() -> None:
        if problem := reporter.report().problem:
            raise BenchError(f"app: warm-up report: {problem}\n{app.log_tail()}")

    progress(f"app: warming up, then {options.messages} reports with a photo")
    reporter.residents.ensure(options.warmup + WARM_BURSTS * options.workers)
    warmed = warm_up(app, (PHOTOS, TICKETS), one, options)
    reporter.residents.ensure(options.messages)
    upload, ticket = Measured(Run("app: POST /photos (2 MB JPEG)")), Measured(Run("app: POST /tickets (names it)"))
    report = Measured(Run("app: report (upload + ticket)"))
    report.run.warmup, report.run.warmup_max_ms = warmed
    uploads_before, tickets_before = len(app.accesses(PHOTOS)), len(app.accesses(TICKETS))
    checks_before = max((r["seq"] for r in wechat.received), default=0)
    busy0, total0 = cpu_times()
    cpu0, started = tree_cpu(app.proc.pid), time.perf_counter()
    for number in range(1, options.messages + 1):
        steps = reporter.report(metered=True)
        upload.run.seconds.append(steps.upload)
        ticket.run.seconds.append(steps.ticket)
        report.run.seconds.append(steps.upload + steps.ticket)
        upload.cpu += steps.upload_cpu
        ticket.cpu += steps.ticket_cpu
        if steps.problem:
            report.run.errors.append(f"report {number}: {steps.problem}")
            step = upload if steps.problem.startswith("upload:") else ticket
            step.run.errors.append(f"report {number}: {steps.problem}")
    wall = time.perf_counter() - started
    report.cpu = tree_cpu(app.proc.pid) - cpu0
    busy1, total1 = cpu_times()
    for measured in (upload, ticket, report):
        measured.run.wall = wall
    upload.logged = wait_logged(app, PHOTOS, uploads_before + options.messages)[uploads_before:]
    ticket.logged = wait_logged(app, TICKETS, tickets_before + options.messages)[tickets_before:]
    checks = sum(1 for r in wechat.received if r["seq"] > checks_before and r["path"] == "/wxa/msg_sec_check")
    cpus = (total1 - total0) / wall if wall else math.nan
    return AppPass(
        upload,
        ticket,
        report,
        machine_busy=(busy1 - busy0) / (total1 - total0) * cpus if total1 > total0 else math.nan,
        app_share=report.cpu / wall if wall else math.nan,
        content_checks=checks,
    )


def wait_logged(server: Server, path: str, count: int, timeout: float = 5.0) -> list[harness.Access]:
    deadline = time.monotonic() + timeout
    while True:
        logged = server.accesses(path)
        if len(logged) >= count or time.monotonic() > deadline:
            return logged
        time.sleep(0.05)


# ---- memory --------------------------------------------------------------------------------------------------------


def workers(server: Server) -> list[int]:
    """The gunicorn master's worker processes: every process whose parent it is (/proc/PID/task/TID/children may
    miss some, proc(5) warns)."""
    found: list[int] = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])  # the name, in parentheses, may hold spaces
        except (OSError, ValueError, IndexError):
            continue
        if parent == server.proc.pid:
            found.append(int(stat.parent.name))
    return sorted(found)


def boots(server: Server) -> int:
    """How many workers gunicorn has started so far (a worker that timed out or died is replaced: one more)."""
    try:
        return server.log.read_text(errors="replace").count("Booting worker")
    except OSError:
        return 0


def status_kb(pid: int, key: str) -> int:
    """A line of /proc/PID/status in kB (VmRSS, VmHWM); 0 when the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (Linux >= 4.0); False where that is not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass
class Memory:
    """One worker's resident set, kB."""

    pid: int
    fresh: int
    idle: int = 0
    sampled_peak: int = 0
    hwm_peak: int | None = None
    after: int = 0
    answered: int = 0


@dataclass
class Burst:
    server: str
    memory: list[Memory]
    run: Run
    restarted: bool = False
    # What gunicorn logged of a worker's end (timeout, signal), when one was replaced.
    why: list[str] = field(default_factory=list)


def burst(server: Server, path: str, send_one: Callable[[], str | None], fresh: dict[int, int], rounds: int) -> Burst:
    """IN_FLIGHT clients, each sending `rounds` uploads back to back, while every worker's VmRSS is sampled."""
    time.sleep(0.5)
    pids = workers(server)
    memory = [Memory(pid, fresh.get(pid, 0), idle=status_kb(pid, "VmRSS")) for pid in pids]
    exact = all([reset_peak(m.pid) for m in memory])
    before = len(server.accesses(path))
    result = Burst(server.name, memory, Run(f"{server.name}: {IN_FLIGHT} in flight"))
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for m in memory:
                m.sampled_peak = max(m.sampled_peak, status_kb(m.pid, "VmRSS"))
            stop.wait(RSS_SAMPLE_SECONDS)

    lock = threading.Lock()

    def client(_: int) -> None:
        for _ in range(rounds):
            t0 = time.perf_counter()
            problem = send_one()
            with lock:
                result.run.seconds.append(time.perf_counter() - t0)
                if problem:
                    result.run.errors.append(problem)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
            list(pool.map(client, range(IN_FLIGHT)))
    finally:
        result.run.wall = time.perf_counter() - started
        stop.set()
        sampler.join()
    answered = Counter(a.pid for a in wait_logged(server, path, before + IN_FLIGHT * rounds)[before:])
    time.sleep(1.0)
    for m in memory:
        m.hwm_peak = status_kb(m.pid, "VmHWM") if exact else None
        m.after = status_kb(m.pid, "VmRSS")
        m.answered = answered.get(m.pid, 0)
    result.restarted = boots(server) > len(fresh) or any(m.pid not in fresh for m in memory)
    if result.restarted:
        ends = ("TIMEOUT", "SIGKILL", "signal", "exited", "Error")
        result.why = [line.strip()[:160] for line in server.log_tail(200).splitlines() if any(w in line for w in ends)]
    return result


def rss_of(server: Server) -> dict[int, int]:
    return {pid: status_kb(pid, "VmRSS") for pid in workers(server)}


# ---- the run -------------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    photo: SamplePhoto
    profile: Profile
    floor: Measured
    app: AppPass
    bursts: list[Burst]
    made: dict[str, int]


def run(options: Options) -> list[Report]:
    progress("upload: making the photo")
    photo = make_photo()
    body, content_type = multipart(photo.data)
    progress(
        f"upload: {len(photo.data):,} bytes, {photo.width} x {photo.height}, quality {photo.quality}; profiling "
        "handlers.photos.inspect in this process"
    )
    where = profile(photo.data, 1 if options.smoke else PROFILE_RUNS)
    rounds = 1 if options.smoke else BURST_ROUNDS
    with harness.environment(options) as base, wechat_stand_in() as (api_base, wechat):
        env = replace(base, env={**base.env, "WECHAT_API_BASE": api_base, "WECHAT_MP_SECRET": MP_SECRET})
        harness.seed_demo(env)
        with (
            harness.gunicorn(env, "app:create_app()", "app", options.workers) as app,
            harness.gunicorn(env, "bench.floor:create_app()", "floor", options.workers) as floor,
        ):
            fresh_app, fresh_floor = rss_of(app), rss_of(floor)
            floor_pass = measure_floor(floor, body, content_type, len(photo.data), options)
            signed_in = Residents(app, wechat)
            reporter = Reporter(app, signed_in, body, content_type)
            app_pass = measure_app(app, reporter, wechat, options)

            def app_upload() -> str | None:
                headers = {**signed_in.next(), "Content-Type": content_type}
                return upload_ok(*send(app, PHOTOS, body, headers))[0]

            def floor_upload() -> str | None:
                return floor_ok(len(photo.data))(*send(floor, FLOOR_UPLOAD, body, {"Content-Type": content_type}))

            progress(f"memory: {IN_FLIGHT} uploads in flight, {rounds} each, app then floor")
            signed_in.ensure(IN_FLIGHT * rounds)
            bursts = [
                burst(app, PHOTOS, app_upload, fresh_app, rounds),
                burst(floor, FLOOR_UPLOAD, floor_upload, fresh_floor, rounds),
            ]
        made = counts(env)
    outcome = Outcome(photo, where, floor_pass, app_pass, bursts, made)
    return [report(env, options, outcome)]


def counts(env: Environment) -> dict[str, int]:
    """What the run left in the database: tickets, those routed to a grid, photos and those a ticket names."""
    with harness.engine(env) as engine, Session(engine) as session:
        return {
            "tickets": session.exec(select(func.count()).select_from(Ticket)).one(),
            "routed": session.exec(select(func.count()).select_from(Ticket).where(Ticket.grid_id.is_not(None))).one(),  # type: ignore[union-attr]
            "photos": session.exec(select(func.count()).select_from(Photo)).one(),
            "attached": session.exec(select(func.count()).select_from(Photo).where(Photo.ticket_id.is_not(None))).one(),  # type: ignore[union-attr]
        }


# ---- the report ----------------------------------------------------------------------------------------------------


def mb(kb: int | None) -> str:
    return "-" if not kb else f"{kb / 1024:.0f}"


def restart(b: Burst) -> str:
    if not b.restarted:
        return ""
    return f" (a worker had been replaced: {' / '.join(b.why[-3:]) or 'nothing logged'})"


def times(ratio: float) -> str:
    return f"{ratio:.1f}x" if ratio < 10 else f"{ratio:.0f}x"


def report(env: Environment, options: Options, outcome: Outcome) -> Report:
    floor, app = outcome.floor, outcome.app
    photo = outcome.photo
    header = (
        "| run | requests | errors | p50 ms | p95 ms | p99 ms | max ms | in-worker p50 / p99 ms | CPU ms each "
        "| p99 ÷ floor | CPU ÷ floor |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    )
    rows = [header]
    for measured, ratio in ((floor, None), (app.upload, True), (app.ticket, False), (app.report, True)):
        r = measured.run
        r.server_micros = [a.micros for a in measured.logged]
        in_worker = f"{r.server_ms(50):.1f} / {r.server_ms(99):.1f}" if r.server_micros else "-"
        p99_ratio = "1" if ratio is None else (times(r.ms(99) / floor.run.ms(99)) if ratio else "-")
        cpu_ratio = "1" if ratio is None else (times(measured.cpu_ms() / floor.cpu_ms()) if ratio else "-")
        rows.append(
            f"| {r.name} | {len(r.seconds)} | {len(r.errors)} | {r.ms(50):.1f} | {r.ms(95):.1f} | {r.ms(99):.1f} "
            f"| {r.max_ms:.1f} | {in_worker} | {measured.cpu_ms():.1f} | {p99_ratio} | {cpu_ratio} |"
        )
    memory_rows = [
        "| server | worker | fresh MiB | idle MiB | peak MiB (sampled) | peak MiB (VmHWM) | after MiB "
        "| uploads it answered | peak - idle MiB |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for b in outcome.bursts:
        for m in b.memory:
            peak = max(m.sampled_peak, m.hwm_peak or 0)
            memory_rows.append(
                f"| {b.server} | {m.pid} | {mb(m.fresh)} | {mb(m.idle)} | {mb(m.sampled_peak)} | {mb(m.hwm_peak)} "
                f"| {mb(m.after)} | {m.answered} | {(peak - m.idle) / 1024:.0f} |"
            )
    bursts = "; ".join(
        f"{b.server}: {len(b.run.seconds)} uploads in {b.run.wall:.1f} s, p50 {b.run.ms(50):.0f} ms, max "
        f"{b.run.max_ms:.0f} ms, {len(b.run.errors)} errors{restart(b)}"
        for b in outcome.bursts
    )
    where = outcome.profile
    parts = ", ".join(f"{name} {ms:.0f}" for name, ms in where.parts.items())
    rest = where.total - sum(where.parts.values())
    made = outcome.made
    spread = "; ".join(
        f"{name}: {len({a.pid for a in m.logged})}" for name, m in (("floor", floor), ("app", app.upload))
    )
    upload_ratio = app.upload.cpu_ms() / floor.cpu_ms()
    block = "\n".join(
        [
            *harness.provenance(options, env),
            f"- Servers: gunicorn {version('gunicorn')}, {options.workers} sync workers each (the app preloaded, "
            "gunicorn.conf.py), 127.0.0.1; app and floor both up for the whole run; the WeChat stand-in in the "
            "benchmark's process",
            f"- Photo: {len(photo.data):,} bytes ({len(photo.data) / 1e6:.2f} MB), {photo.width} x {photo.height} "
            f"JPEG at quality {photo.quality}, no EXIF, the same bytes every request; the app keeps it as "
            f"{KEPT[0]} x {KEPT[1]}",
            f"- Warm-up, not counted ({options.warmup} one at a time, then bursts of one per worker until each had "
            f"answered {WARM_PER_WORKER}): floor {floor.run.warmup} uploads (slowest {floor.run.warmup_max_ms:.0f} "
            f"ms); app {app.report.run.warmup} reports (slowest {app.report.run.warmup_max_ms:.0f} ms)",
            f"- Workers that answered the measured uploads: {spread}",
            f"- During the app's measured reports the machine was busy {app.machine_busy:.2f} CPUs on average, the "
            f"app's gunicorn {app.app_share:.2f} of them; the stand-in answered {app.content_checks} msgSecCheck "
            "calls",
            f"- Left in the database (warm-up and memory study included): {made['tickets']} tickets, "
            f"{made['routed']} routed to a grid; {made['photos']} photos, {made['attached']} named by a ticket",
            "",
            *rows,
            "",
            f"The photo upload costs **{times(upload_ratio)} the floor's CPU** ({app.upload.cpu_ms():.0f} ms against "
            f"{floor.cpu_ms():.1f} ms) and **{times(app.upload.run.ms(99) / floor.run.ms(99))} its p99**; a whole "
            f"report costs {app.report.cpu_ms():.0f} ms of the web tier's CPU, p99 {app.report.run.ms(99):.0f} ms.",
            "",
            f"Where the upload's CPU goes (`handlers.photos.inspect` on the same photo in the benchmark's process, "
            f"cProfile on the CPU clock, median of {PROFILE_RUNS}): {where.total:.0f} ms, of which {parts}, "
            f"the rest {rest:.0f} ms.",
            "",
            f"Memory, {IN_FLIGHT} uploads in flight: {bursts}.",
            "",
            *memory_rows,
        ]
    )
    problems = [
        *(f"{m.run.name}: {e}" for m in (floor, app.report) for e in m.run.errors[:5]),
        *(f"{b.run.name}: {e}" for b in outcome.bursts for e in b.run.errors[:5]),
    ]
    if made["attached"] < options.messages:
        problems.append(f"only {made['attached']} photos named by a ticket, for {options.messages} reports")
    return Report(SECTION, INTRO, env.variant, block, valid=not problems, errors=problems)
