"""`make bench`: the generated service side by side with a raw-WSGI ceiling and a naive app.

Bakes the default project into a temporary directory, points it at a throwaway
PostgreSQL database and a dedicated Redis DB, seeds it, then measures each row with wrk
for a bounded time, one server at a time, on loopback. Writes bench/results/latest.md
and latest.json. Exits non-zero when a server does not come up or any request fails;
never because of a figure. Settings: BENCH_DURATION, BENCH_WARMUP, BENCH_CONNECTIONS,
BENCH_ITEMS, BENCH_KEEP=1 (keep the build directory and server logs).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # `python bench/run.py`: make the bench package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import report
from bench.loadgen import WrkError, WrkResult, run_wrk
from bench.project import (
    VENV_BIN,
    BakedProject,
    SetupError,
    app_environment,
    bake,
    create_database,
    drop_database,
    flush_redis,
    migrate_and_seed,
    redis_url,
    tried_settings,
)
from bench.servers import (
    Server,
    ServerError,
    free_port,
    http_get,
    render_local_nginx,
    start_server,
    stop_server,
    wait_until_up,
    worker_rss_megabytes,
)

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
LIST_PATH = "/api/items?page=1&per_page=20"
BIG_PAGE_PATH = "/api/items?page=1&per_page=100"
# The server-rendered catalogue's first page, as an anonymous visitor gets it (cached HTML).
CATALOGUE_PATH = "/?page=1"


@dataclass(frozen=True)
class Settings:
    """How long and how hard each row is measured."""

    duration_s: float = 10.0
    warmup_s: float = 2.0
    connections: int = 32
    wrk_threads: int = 1
    items: int = 10_000
    keep_build_dir: bool = False

    @classmethod
    def from_env(cls) -> Settings:
        """Defaults, overridden by BENCH_* variables."""
        env = os.environ
        return cls(
            duration_s=float(env.get("BENCH_DURATION", cls.duration_s)),
            warmup_s=float(env.get("BENCH_WARMUP", cls.warmup_s)),
            connections=int(env.get("BENCH_CONNECTIONS", cls.connections)),
            items=int(env.get("BENCH_ITEMS", cls.items)),
            keep_build_dir=env.get("BENCH_KEEP", "") == "1",
        )


@dataclass
class Run:
    """One benchmark run: its settings, build directory and every server it started."""

    settings: Settings
    build_dir: Path
    servers: list[Server] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)
    compression: list[dict] = field(default_factory=list)
    memory: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def log_dir(self) -> Path:
        """Where each server's output goes."""
        return self.build_dir / "logs"

    def start(
        self, name: str, argv: list[str], *, port: int, env: dict, cwd: Path, ready_path: str
    ) -> Server:
        """Start a server, remember it for the final cleanup, and wait until it answers."""
        say(f"starting {name} on 127.0.0.1:{port}")
        server = start_server(name, argv, port=port, env=env, cwd=cwd, log_dir=self.log_dir)
        self.servers.append(server)
        wait_until_up(server, ready_path)
        return server

    def stop(self, *servers: Server) -> None:
        """Stop servers by PID and forget them; note any worker gunicorn recycled meanwhile."""
        for server in servers:
            stop_server(server)
            self.servers.remove(server)
            recycled = server.log_tail(lines=1_000_000).count("Autorestarting worker")
            if recycled:
                self.notes.append(
                    f"{server.name}: gunicorn recycled {recycled} worker(s) during its rows "
                    "(max_requests); each restart re-imports the app."
                )

    def load(self, port: int, path: str, headers: dict[str, str] | None = None) -> WrkResult:
        """Warm up, then measure one URL with wrk; any failed request raises WrkError."""
        url = f"http://127.0.0.1:{port}{path}"
        settings = self.settings
        run_wrk(url, seconds=settings.warmup_s, connections=settings.connections, headers=headers)
        return run_wrk(
            url, seconds=settings.duration_s, connections=settings.connections, headers=headers
        )

    def measure_row(self, number: str, key: str, label: str, port: int, path: str) -> WrkResult:
        """Measure one table row and record it."""
        say(f"row {number}: {label}")
        result = self.load(port, path)
        self.rows.append(
            {"number": number, "key": key, "label": label, "path": path, **result.as_dict()}
        )
        return result

    def record_memory(self, name: str, server: Server) -> None:
        """Record VmRSS of each worker of a gunicorn master."""
        self.memory[name] = worker_rss_megabytes(server.pid)


def say(message: str) -> None:
    """Progress on stderr, so stdout carries only the report."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def gunicorn_argv(config: Path, app: str, port: int, run: Run, name: str) -> list[str]:
    """gunicorn with the project's config, bound to our port with its own control socket."""
    return [
        str(VENV_BIN / "gunicorn"),
        "--config",
        str(config),
        "--bind",
        f"127.0.0.1:{port}",
        "--control-socket",
        str(run.build_dir / f"{name}.ctl"),
        app,
    ]


def expect_ok(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[dict, bytes]:
    """GET path and fail loudly unless it answers 200; return headers and raw body."""
    status, response_headers, body = http_get(port, path, headers)
    if status != 200:
        raise ServerError(f"GET {path} on :{port} answered {status}: {body[:300]!r}")
    return response_headers, body


def start_generated_app(run: Run, project: BakedProject, env: dict, name: str) -> Server:
    """The baked app under its own gunicorn config on a free port, up once /healthz answers."""
    port = free_port()
    return run.start(
        name,
        gunicorn_argv(project.gunicorn_config, f"{project.package}.wsgi:app", port, run, name),
        port=port,
        env=env,
        cwd=project.root,
        ready_path="/healthz",
    )


def measure_cached_app(run: Run, project: BakedProject, env: dict) -> bytes:
    """Rows 2, 2b and 6 plus memory: the generated app direct to gunicorn; returns the list body."""
    server = start_generated_app(run, project, env, "app-cached")
    port = server.port
    expect_ok(port, LIST_PATH)  # fill the cache before warming up
    headers, body = expect_ok(port, LIST_PATH)
    run.notes.append(
        f"Row 2 answers X-Cache: {headers.get('x-cache', '(no header)')} after the first request."
    )
    run.measure_row(
        "2", report.CACHED, "generated app, cached list, direct to gunicorn", port, LIST_PATH
    )
    expect_ok(port, CATALOGUE_PATH)  # fill the page cache before warming up
    page_headers, _ = expect_ok(port, CATALOGUE_PATH)
    run.notes.append(
        f"Row 2b answers X-Cache: {page_headers.get('x-cache', '(no header)')} after the first "
        "request."
    )
    run.measure_row(
        "2b",
        report.CATALOGUE,
        "generated app, cached catalogue page (HTML), direct to gunicorn",
        port,
        CATALOGUE_PATH,
    )
    measure_compression(run, port)
    run.record_memory("generated app (cached rows 2, 2b and 6)", server)
    run.stop(server)
    return body


def measure_compression(run: Run, port: int) -> None:
    """Row 6: body bytes on the wire and throughput for each Accept-Encoding."""
    for encoding in ("identity", "gzip", "br"):
        request_headers = {} if encoding == "identity" else {"Accept-Encoding": encoding}
        headers, body = expect_ok(port, BIG_PAGE_PATH, request_headers)
        sent_encoding = headers.get("content-encoding", "identity")
        if sent_encoding != encoding:
            run.notes.append(
                f"Accept-Encoding: {encoding} was answered with {sent_encoding}; row skipped."
            )
            continue
        say(f"row 6: per_page=100, Accept-Encoding {encoding}")
        result = run.load(port, BIG_PAGE_PATH, request_headers)
        run.compression.append({"encoding": encoding, "body_bytes": len(body), **result.as_dict()})


def measure_ceiling(run: Run, project: BakedProject, env: dict, body: bytes) -> None:
    """Row 1: raw WSGI callable returning the same bytes, under the same gunicorn config."""
    body_file = run.build_dir / "ceiling-body.json"
    body_file.write_bytes(body)
    port = free_port()
    ceiling_env = {**env, "BENCH_CEILING_BODY": str(body_file), "PYTHONPATH": str(BENCH_DIR)}
    server = run.start(
        "ceiling",
        gunicorn_argv(project.gunicorn_config, "ceiling_app:app", port, run, "ceiling"),
        port=port,
        env=ceiling_env,
        cwd=project.root,
        ready_path=LIST_PATH,
    )
    _, served = expect_ok(port, LIST_PATH)
    if served != body:
        raise ServerError("the ceiling app does not serve the app's bytes")
    run.measure_row(
        "1",
        report.CEILING,
        "ceiling: raw WSGI callable, same bytes, same gunicorn config",
        port,
        LIST_PATH,
    )
    run.record_memory("ceiling (raw WSGI, for reference)", server)
    run.stop(server)


def measure_uncached(run: Run, project: BakedProject, env: dict) -> None:
    """Row 3: the same endpoint baked with cache_backend=none (NullCache: a query every time)."""
    server = start_generated_app(run, project, env, "app-uncached")
    port = server.port
    expect_ok(port, LIST_PATH)
    headers, _ = expect_ok(port, LIST_PATH)
    run.notes.append(
        f"Row 3 answers X-Cache: {headers.get('x-cache', '(no header)')} on a repeated request."
    )
    run.measure_row(
        "3",
        report.UNCACHED,
        "generated app, caching disabled (cache_backend=none)",
        port,
        LIST_PATH,
    )
    run.record_memory("generated app (caching disabled, row 3)", server)
    run.stop(server)


def measure_behind_nginx(run: Run, project: BakedProject, env: dict) -> None:
    """Row 4: two app instances behind the project's own loopback nginx config."""
    # Two workers per instance, as `make stack` runs them (scripts/stack.py).
    env = {**env, "WEB_CONCURRENCY": "2"}
    instances = [
        start_generated_app(run, project, env, f"app-instance-{number}") for number in (1, 2)
    ]
    nginx_dir = run.build_dir / "nginx"
    nginx_dir.mkdir()
    lb_port = free_port()
    config = nginx_dir / "nginx.conf"
    config.write_text(
        render_local_nginx(
            (project.root / "deploy" / "nginx" / "local.conf.template").read_text(),
            run_dir=nginx_dir,
            log_dir=run.log_dir,
            lb_port=lb_port,
            upstream_ports=[instance.port for instance in instances],
        )
    )
    nginx = run.start(
        "nginx",
        ["nginx", "-p", str(nginx_dir), "-c", str(config), "-e", str(run.log_dir / "nginx.err")],
        port=lb_port,
        env=env,
        cwd=nginx_dir,
        ready_path="/healthz",
    )
    expect_ok(lb_port, LIST_PATH)
    run.measure_row(
        "4",
        report.NGINX,
        "generated app via nginx upstream, 2 instances x 2 workers (as make stack)",
        lb_port,
        LIST_PATH,
    )
    for number, instance in enumerate(instances, start=1):
        run.record_memory(f"generated app (instance {number} behind nginx, row 4)", instance)
    run.stop(nginx, *instances)


def measure_naive(run: Run, env: dict) -> None:
    """Row 5: the hand-written naive app under `flask run`, then under default gunicorn."""
    naive_env = {
        key: value
        for key, value in env.items()
        if not key.startswith(("WEB_CONCURRENCY", "GUNICORN_"))
    }
    naive_env["PYTHONPATH"] = str(BENCH_DIR)
    port = free_port()
    flask_run = run.start(
        "naive-flask-run",
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "naive_app",
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        port=port,
        env=naive_env,
        cwd=BENCH_DIR,
        ready_path=LIST_PATH,
    )
    run.measure_row(
        "5a", report.NAIVE_FLASK_RUN, "naive Flask + SQLAlchemy, `flask run`", port, LIST_PATH
    )
    run.stop(flask_run)
    port = free_port()
    gunicorn = run.start(
        "naive-gunicorn",
        [
            str(VENV_BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--control-socket",
            str(run.build_dir / "naive.ctl"),
            "naive_app:app",
        ],
        port=port,
        env=naive_env,
        cwd=BENCH_DIR,
        ready_path=LIST_PATH,
    )
    run.measure_row(
        "5b",
        report.NAIVE_GUNICORN,
        "naive app, gunicorn default settings (1 sync worker)",
        port,
        LIST_PATH,
    )
    run.record_memory("naive app under gunicorn (reference)", gunicorn)
    run.stop(gunicorn)


def collect_results(run: Run, project: BakedProject) -> dict:
    """Everything measured plus the verdicts, as one dict for both reports."""
    rps = {row["key"]: row["rps"] for row in run.rows}
    body_bytes = {row["encoding"]: row["body_bytes"] for row in run.compression}
    app_memory = {
        name: sizes for name, sizes in run.memory.items() if name.startswith("generated app")
    }
    verdicts = [
        *report.throughput_verdicts(rps),
        *report.compression_verdicts(body_bytes),
        report.memory_verdict(app_memory),
    ]
    order = {"1": 0, "2": 1, "3": 2, "4": 3, "5a": 4, "5b": 5}
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    settings = run.settings
    return {
        "meta": {
            "started_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "cpus": os.cpu_count(),
            # Other work on the host steals cores from the rows: show how busy it was.
            "load_average_at_end": [round(load, 2) for load in os.getloadavg()],
            "wrk_version": (wrk_version.stdout or wrk_version.stderr).split()[1],
            "connections": settings.connections,
            "wrk_threads": settings.wrk_threads,
            "warmup_s": settings.warmup_s,
            "duration_s": settings.duration_s,
            "items": settings.items,
            "redis_db": redis_url().rsplit("/", 1)[1],
            "bake": ", ".join(f"{k}={v}" for k, v in project.context.items())
            or "the default answers",
            "tried_settings": tried_settings(),
            "gunicorn": "workers, threads, keep-alive, max_requests as the baked defaults",
        },
        "rows": sorted(run.rows, key=lambda row: order[row["number"]]),
        "compression": run.compression,
        "memory": run.memory,
        "verdicts": verdicts,
        "notes": run.notes,
    }


def benchmark(run: Run) -> dict:
    """Bake, set up the services, measure every row; return the results."""
    say(f"baking into {run.build_dir}")
    project = bake(run.build_dir / "cached")
    uncached = bake(run.build_dir / "uncached", cache_backend="none")
    run.log_dir.mkdir(parents=True, exist_ok=True)
    flush_redis()
    database = create_database()
    run.notes.append(f"Throwaway database {database} (dropped at the end).")
    try:
        env = app_environment(project, database)
        say(f"migrating and seeding {run.settings.items} items into {database}")
        migrate_and_seed(project, env, run.settings.items)
        body = measure_cached_app(run, project, env)
        measure_ceiling(run, project, env, body)
        measure_uncached(run, uncached, app_environment(uncached, database))
        measure_behind_nginx(run, project, env)
        measure_naive(run, env)
        return collect_results(run, project)
    finally:
        for server in list(run.servers):
            run.stop(server)
        drop_database(database)


def main() -> int:
    """Run the benchmark; 0 when every server came up and every request succeeded."""
    settings = Settings.from_env()
    run = Run(settings=settings, build_dir=Path(tempfile.mkdtemp(prefix="flask-perf-bench-")))
    failed = True
    try:
        results = benchmark(run)
        failed = False
    except (SetupError, ServerError, WrkError, OSError) as exc:
        print(f"\nBENCHMARK FAILED: {exc}\nserver logs kept in {run.log_dir}", file=sys.stderr)
        return 1
    finally:
        for server in list(run.servers):
            run.stop(server)
        flush_redis()
        if not (settings.keep_build_dir or failed):
            shutil.rmtree(run.build_dir, ignore_errors=True)
    # A run with tried settings never overwrites the committed default figures.
    stem = "tried" if results["meta"]["tried_settings"] else "latest"
    markdown_path, json_path = report.write_reports(results, RESULTS_DIR, stem)
    print(report.render_markdown(results))
    say(f"wrote {markdown_path} and {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
