"""`make bench`: the generated service side by side with its floors and its alternatives.

Bakes the default project, seeds a throwaway PostgreSQL database (BENCH_ITEMS rows,
100 000 by default), starts every server of every row at once, then measures in
interleaved rounds: each round runs every row once, starting one row further along, so
a burst of load from elsewhere on the host lands on different rows each round. Each
measurement records req/s and latency from wrk (through a Lua done() hook printing
JSON) and the server's CPU time per request from /proc (master and workers, nginx and
the app instances behind it where a balancer is in front). The report gives medians
with min-max over the rounds, ratios taken within each round, RSS per worker, cold
start and bake time, and where each target stands.

Exits non-zero when a server does not come up or any request fails; never because of
a figure. Knobs: BENCH_ROUNDS (3), BENCH_DURATION (3 s per measurement), BENCH_WARMUP,
BENCH_CONNECTIONS (32), BENCH_ITEMS, BENCH_KEEP=1 (keep the build directory and logs),
BENCH_ONLY (comma-separated row keys).
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

import psycopg
import redis

from bench import report, stats
from bench.cpu import cpu_seconds, process_tree
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
    http_get,
    render_local_nginx,
    start_server,
    stop_server,
    wait_until_up,
)
from bench.wrk import WrkError, WrkResult, run_wrk, write_hook
from support.processes import free_port

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
LIST_PATH = "/api/items?page=1&per_page=20"
REDIS_BODY_KEY = "bench:body"
# The server-rendered catalogue's first page, as an anonymous visitor gets it (cached HTML).
CATALOGUE_PATH = "/?page=1"
BROWSER_ENCODING = {"Accept-Encoding": "gzip, br"}
DEEP_PAGES = (1, 400, 4000)
PER_PAGE = 20


@dataclass(frozen=True)
class Settings:
    """How long, how hard and how often each row is measured."""

    rounds: int = 3
    duration_s: float = 3.0
    warmup_s: float = 1.0
    connections: int = 32
    items: int = 100_000
    keep_build_dir: bool = False
    only: tuple[str, ...] = ()

    @classmethod
    def from_env(cls) -> Settings:
        """Defaults, overridden by BENCH_* variables."""
        env = os.environ
        only = tuple(key for key in env.get("BENCH_ONLY", "").split(",") if key)
        return cls(
            rounds=max(1, int(env.get("BENCH_ROUNDS", cls.rounds))),
            duration_s=float(env.get("BENCH_DURATION", cls.duration_s)),
            warmup_s=float(env.get("BENCH_WARMUP", cls.warmup_s)),
            connections=int(env.get("BENCH_CONNECTIONS", cls.connections)),
            items=int(env.get("BENCH_ITEMS", cls.items)),
            keep_build_dir=env.get("BENCH_KEEP", "") == "1",
            only=only,
        )


@dataclass
class Row:
    """One line of the table: a URL on a port, and the processes whose CPU it costs."""

    key: str
    label: str
    port: int
    path: str
    servers: list[Server]
    headers: dict[str, str] = field(default_factory=dict)
    expected_status: int = 200

    @property
    def url(self) -> str:
        """What wrk loads."""
        return f"http://127.0.0.1:{self.port}{self.path}"


@dataclass
class Run:
    """One benchmark run: settings, build directory, servers, rows and what they measured."""

    settings: Settings
    build_dir: Path
    servers: list[Server] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    samples: list[dict] = field(default_factory=list)
    memory: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    timings: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    hook: Path | None = None

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

    def stop_all(self) -> None:
        """Stop every server by its PID; note workers gunicorn recycled during the run."""
        for server in list(self.servers):
            stop_server(server)
            self.servers.remove(server)
            recycled = server.log_tail(lines=1_000_000).count("Autorestarting worker")
            if recycled:
                self.notes.append(
                    f"{server.name}: gunicorn recycled {recycled} worker(s) during the run "
                    "(max_requests); each restart re-imports the app."
                )

    def add_row(self, row: Row) -> None:
        """Check the row answers as expected, then keep it for the rounds."""
        if self.settings.only and row.key not in self.settings.only:
            return
        status, headers, _ = http_get(row.port, row.path, row.headers)
        if status != row.expected_status:
            raise ServerError(f"{row.key}: {row.url} answered {status}, not {row.expected_status}")
        self.rows.append(row)

    def measure(self, row: Row, round_index: int) -> None:
        """One measurement: wrk for the duration, server CPU before and after."""
        roots = [server.pid for server in row.servers]
        before = cpu_seconds(roots)
        result = self.load(row, self.settings.duration_s)
        spent = cpu_seconds(roots) - before
        self.samples.append(
            {
                "key": row.key,
                "round": round_index,
                **result.as_dict(),
                "cpu_us_per_request": stats.cpu_us_per_request(spent, result.requests),
            }
        )

    def load(self, row: Row, seconds: float) -> WrkResult:
        """wrk against a row; any failed request raises WrkError."""
        assert self.hook is not None
        return run_wrk(
            row.url,
            script=self.hook,
            seconds=seconds,
            connections=self.settings.connections,
            headers=row.headers,
        )


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


def start_generated_app(
    run: Run, project: BakedProject, env: dict, name: str, **overrides: str
) -> Server:
    """The baked app under its own gunicorn config on a free port, up once /healthz answers."""
    port = free_port()
    return run.start(
        name,
        gunicorn_argv(project.gunicorn_config, f"{project.package}.wsgi:app", port, run, name),
        port=port,
        env={**env, **overrides},
        cwd=project.root,
        ready_path="/healthz",
    )


def start_reference(
    run: Run, project: BakedProject, env: dict, name: str, module: str, **extra: str
) -> Server:
    """A reference app from bench/apps under the project's own gunicorn settings."""
    port = free_port()
    reference_env = {**env, "PYTHONPATH": with_apps(env), **extra}
    return run.start(
        name,
        gunicorn_argv(project.gunicorn_config, f"{module}:app", port, run, name),
        port=port,
        env=reference_env,
        cwd=project.root,
        ready_path=LIST_PATH,
    )


def with_apps(env: dict) -> str:
    """PYTHONPATH with bench/apps first; the project's package stays importable, as its
    gunicorn.conf.py reads the project's settings."""
    return os.pathsep.join([str(BENCH_DIR / "apps"), env["PYTHONPATH"]])


def start_fastapi(run: Run, env: dict, workers: int) -> Server:
    """FastAPI under uvicorn with as many workers as the app has, no access log."""
    port = free_port()
    argv = [
        str(VENV_BIN / "uvicorn"),
        "fastapi_redis:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    fastapi_env = {
        **env,
        "PYTHONPATH": str(BENCH_DIR / "apps"),
        "BENCH_REDIS_URL": redis_url(),
        "BENCH_REDIS_KEY": REDIS_BODY_KEY,
    }
    return run.start(
        "fastapi", argv, port=port, env=fastapi_env, cwd=BENCH_DIR, ready_path=LIST_PATH
    )


def start_nginx(run: Run, name: str, config_text: str, ready_path: str) -> Server:
    """nginx in the foreground on a rendered config of its own."""
    nginx_dir = run.build_dir / name
    nginx_dir.mkdir()
    port = free_port()
    config = nginx_dir / "nginx.conf"
    config.write_text(config_text.replace("@PORT@", str(port)).replace("@DIR@", str(nginx_dir)))
    return run.start(
        name,
        ["nginx", "-p", str(nginx_dir), "-c", str(config), "-e", str(run.log_dir / f"{name}.err")],
        port=port,
        env={"PATH": os.environ.get("PATH", "")},
        cwd=nginx_dir,
        ready_path=ready_path,
    )


# `user root`: started as root, nginx's worker would otherwise be nobody, who cannot read
# the private (0700) build directory; started by anyone else, nginx ignores the line.
STATIC_NGINX = """\
daemon off;
user root;
worker_processes 1;
pid @DIR@/nginx.pid;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path @DIR@/client_body;
    proxy_temp_path @DIR@/proxy;
    fastcgi_temp_path @DIR@/fastcgi;
    uwsgi_temp_path @DIR@/uwsgi;
    scgi_temp_path @DIR@/scgi;
    server {
        listen 127.0.0.1:@PORT@;
        location = /api/items {
            default_type application/json;
            alias @BODY@;
        }
    }
}
"""


def balancer_config(project: BakedProject, run: Run, name: str, ports: list[int]) -> str:
    """The project's own loopback nginx config, rendered for these instances."""
    nginx_dir = run.build_dir / name
    rendered = render_local_nginx(
        (project.root / "deploy" / "nginx" / "local.conf.template").read_text(),
        run_dir=nginx_dir,
        log_dir=run.log_dir,
        lb_port=0,
        upstream_ports=ports,
        static_dir=project.root / "src" / project.package / "web" / "static",
    )
    return rendered.replace("127.0.0.1:0;", "127.0.0.1:@PORT@;")


def seed_ids_at(database_url: str, positions: list[int]) -> dict[int, int]:
    """The item id just before each 0-based position in id order (the keyset cursor)."""
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    ids = {}
    with psycopg.connect(dsn) as connection:
        for position in positions:
            if position == 0:
                ids[position] = 0
                continue
            row = connection.execute(
                "SELECT id FROM items ORDER BY id OFFSET %s LIMIT 1", (position - 1,)
            ).fetchone()
            if row is None:
                raise SetupError(f"fewer than {position} items: raise BENCH_ITEMS")
            ids[position] = row[0]
    return ids


def store_body_in_redis(body: bytes) -> None:
    """The list page's bytes under the key the bare Flask + Redis and FastAPI rows read."""
    client = redis.Redis.from_url(redis_url())
    try:
        client.set(REDIS_BODY_KEY, body)
    finally:
        client.close()


def measure_cold_start(
    run: Run, name: str, argv: list[str], env: dict, cwd: Path, path: str, times: int = 3
) -> None:
    """Seconds from spawning a one-worker server to its first 200, `times` times."""
    seconds = []
    for attempt in range(times):
        port = free_port()
        bound = [part if part != "@PORT@" else f"127.0.0.1:{port}" for part in argv]
        started = time.perf_counter()
        server = start_server(
            f"{name}-cold-{attempt}", bound, port=port, env=env, cwd=cwd, log_dir=run.log_dir
        )
        try:
            while True:
                if server.process.poll() is not None:
                    raise ServerError(f"{name} exited before answering:\n{server.log_tail()}")
                try:
                    status, _, _ = http_get(port, path, timeout=2.0)
                except OSError:
                    status = None
                if status == 200:
                    break
                if time.perf_counter() - started > 30:
                    raise ServerError(f"{name} did not answer within 30 s")
                time.sleep(0.005)
            seconds.append(time.perf_counter() - started)
        finally:
            stop_server(server)
    run.timings[f"cold start: {name}"] = seconds


def worker_memory(server: Server) -> dict[str, list[float]]:
    """RSS and PSS (shared pages split between sharers) of each worker, in MB."""
    workers = [pid for pid in process_tree(server.pid) if pid != server.pid]
    rss, pss = [], []
    for pid in workers:
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        fields = {line.split(":")[0]: line.split()[1] for line in rollup.splitlines()[1:]}
        rss.append(round(int(fields["Rss"]) / 1024, 1))
        pss.append(round(int(fields["Pss"]) / 1024, 1))
    return {"rss_mb": rss, "pss_mb": pss}


def setup_rows(
    run: Run, project: BakedProject, micro_project: BakedProject, env: dict, database_url: str
) -> None:
    """Start every server and define every row."""
    app = start_generated_app(run, project, env, "app")
    workers = len(process_tree(app.pid)) - 1
    http_get(app.port, LIST_PATH)  # the first request stores the page
    status, headers, body = http_get(app.port, LIST_PATH)
    if status != 200 or headers.get("x-cache") != "HIT":
        raise ServerError(f"the cached list answered {status}, X-Cache {headers.get('x-cache')}")
    body_file = run.build_dir / "list-page.json"
    body_file.write_bytes(body)
    store_body_in_redis(body)
    etag = headers["etag"]

    static = start_nginx(
        run, "nginx-static", STATIC_NGINX.replace("@BODY@", str(body_file)), "/api/items"
    )
    raw = start_reference(run, project, env, "raw-wsgi", "raw_wsgi", BENCH_BODY=str(body_file))
    flask = start_reference(
        run, project, env, "bare-flask", "bare_flask", BENCH_BODY=str(body_file)
    )
    flask_redis = start_reference(
        run,
        project,
        env,
        "bare-flask-redis",
        "bare_flask",
        BENCH_REDIS_URL=redis_url(),
        BENCH_REDIS_KEY=REDIS_BODY_KEY,
    )
    fastapi = start_fastapi(run, env, workers)
    # The same app without gunicorn's access log: what a line costs, side by side.
    quiet = start_generated_app(run, project, env, "app-no-access-log", GUNICORN_ACCESS_LOG="off")
    # Pages not stored, in a key space of its own (the fast path would otherwise find the
    # pages the cached instance stored); the item count is still cached, as in production.
    uncached = start_generated_app(
        run,
        project,
        env,
        "app-uncached",
        ITEMS_LIST_CACHE_SECONDS="0",
        CACHE_KEY_PREFIX="bench-uncached:",
    )

    # Behind the balancer, as `make stack` runs them: two instances of two workers, with
    # no access log of their own (nginx logs each request).
    stack_env = {**env, "WEB_CONCURRENCY": "2", "GUNICORN_ACCESS_LOG": "off"}
    behind = [start_generated_app(run, project, stack_env, f"app-lb-{n}") for n in (1, 2)]
    balancer = start_nginx(
        run,
        "nginx-balancer",
        balancer_config(project, run, "nginx-balancer", [s.port for s in behind]),
        "/healthz",
    )
    # The same bake with microcache=yes: its nginx caches the list for the app's s-maxage.
    micro_env = {
        **stack_env,
        "PYTHONPATH": str(micro_project.root / "src"),
        "ITEMS_SHARED_CACHE_SECONDS": "1",
    }
    micro = [start_generated_app(run, micro_project, micro_env, f"app-micro-{n}") for n in (1, 2)]
    microcache = start_nginx(
        run,
        "nginx-microcache",
        balancer_config(micro_project, run, "nginx-microcache", [s.port for s in micro]),
        "/healthz",
    )

    run.add_row(
        Row("static", "nginx, the same bytes as a static file", static.port, "/api/items", [static])
    )
    run.add_row(
        Row(
            "raw_wsgi", "raw WSGI callable, project's gunicorn settings", raw.port, LIST_PATH, [raw]
        )
    )
    run.add_row(
        Row("bare_flask", "bare Flask view returning the bytes", flask.port, LIST_PATH, [flask])
    )
    run.add_row(
        Row(
            "bare_flask_redis",
            "bare Flask + one Redis GET",
            flask_redis.port,
            LIST_PATH,
            [flask_redis],
        )
    )
    run.add_row(
        Row(
            "fastapi_redis",
            f"FastAPI, uvicorn ({workers} workers) + redis.asyncio GET",
            fastapi.port,
            LIST_PATH,
            [fastapi],
        )
    )
    run.add_row(
        Row("cached", "generated app, cached, no Accept-Encoding", app.port, LIST_PATH, [app])
    )
    run.add_row(
        Row(
            "cached_no_access_log",
            "same, gunicorn access log off (GUNICORN_ACCESS_LOG=off, as behind a balancer)",
            quiet.port,
            LIST_PATH,
            [quiet],
        )
    )
    run.add_row(
        Row(
            "cached_br",
            "generated app, cached, Accept-Encoding: gzip, br",
            app.port,
            LIST_PATH,
            [app],
            dict(BROWSER_ENCODING),
        )
    )
    run.add_row(
        Row(
            "revalidated",
            "generated app, If-None-Match: current ETag (304)",
            app.port,
            LIST_PATH,
            [app],
            {"If-None-Match": etag},
            304,
        )
    )
    run.add_row(
        Row(
            "balancer",
            "generated app via the project's nginx, 2 instances x 2 workers",
            balancer.port,
            LIST_PATH,
            [balancer, *behind],
        )
    )
    run.add_row(
        Row(
            "microcache",
            "same, nginx microcache on (app sends s-maxage=1)",
            microcache.port,
            LIST_PATH,
            [microcache, *micro],
        )
    )
    if (project.root / "src" / project.package / "web").is_dir():
        http_get(app.port, CATALOGUE_PATH)  # the first request stores the page
        run.add_row(
            Row(
                "catalogue",
                "generated app, cached catalogue page (HTML), no Accept-Encoding",
                app.port,
                CATALOGUE_PATH,
                [app],
            )
        )
    ids = seed_ids_at(database_url, [(page - 1) * PER_PAGE for page in DEEP_PAGES])
    for page in DEEP_PAGES:
        offset_path = f"/api/items?page={page}&per_page={PER_PAGE}"
        key_path = f"/api/items?after={ids[(page - 1) * PER_PAGE]}&per_page={PER_PAGE}"
        run.add_row(
            Row(
                f"offset_{page}",
                f"uncached page {page} by number (OFFSET)",
                uncached.port,
                offset_path,
                [uncached],
            )
        )
        run.add_row(
            Row(
                f"keyset_{page}",
                f"uncached page {page} by key (after=<id>)",
                uncached.port,
                key_path,
                [uncached],
            )
        )

    run.memory["generated app (default settings)"] = worker_memory(app)
    run.memory["raw WSGI (same gunicorn settings)"] = worker_memory(raw)
    run.memory["bare Flask"] = worker_memory(flask)
    run.memory["FastAPI under uvicorn"] = worker_memory(fastapi)
    run.notes.append(
        f"The cached page is {len(body)} bytes; X-Cache: HIT before the rounds; the 304 row "
        f"sends If-None-Match: {etag}."
    )


def measure_startup(run: Run, project: BakedProject, env: dict) -> None:
    """Cold start of one worker (generated app and bare Flask) and preload's memory."""
    one = {**env, "WEB_CONCURRENCY": "1"}
    config = str(project.gunicorn_config)
    measure_cold_start(
        run,
        "generated app",
        [
            str(VENV_BIN / "gunicorn"),
            "-c",
            config,
            "--bind",
            "@PORT@",
            f"{project.package}.wsgi:app",
        ],
        one,
        project.root,
        "/healthz",
    )
    bare_env = {
        **one,
        "PYTHONPATH": with_apps(env),
        "BENCH_BODY": str(run.build_dir / "list-page.json"),
    }
    measure_cold_start(
        run,
        "bare Flask",
        [str(VENV_BIN / "gunicorn"), "-c", config, "--bind", "@PORT@", "bare_flask:app"],
        bare_env,
        project.root,
        LIST_PATH,
    )
    preloaded = start_generated_app(run, project, env, "app-preload", GUNICORN_PRELOAD="1")
    for _ in range(50):  # touch every worker's code paths a little before reading memory
        http_get(preloaded.port, LIST_PATH)
    run.memory["generated app, GUNICORN_PRELOAD=1"] = worker_memory(preloaded)


def run_rounds(run: Run) -> None:
    """Warm every row once, then every row once per round, starting one further each round."""
    by_key = {row.key: row for row in run.rows}
    keys = list(by_key)
    for row in run.rows:
        run.load(row, run.settings.warmup_s)
    for round_index in range(run.settings.rounds):
        order = stats.round_order(keys, round_index)
        say(f"round {round_index + 1}/{run.settings.rounds}: {', '.join(order)}")
        for key in order:
            run.measure(by_key[key], round_index)


def collect_results(run: Run, bake_seconds: float) -> dict:
    """Everything measured, aggregated, with the targets' verdicts, as one dict."""
    aggregated = stats.aggregate(run.samples)
    settings = run.settings
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    return {
        "meta": {
            "started_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "cpus": os.cpu_count(),
            "load_average_at_end": [round(load, 2) for load in os.getloadavg()],
            "wrk_version": (wrk_version.stdout or wrk_version.stderr).split()[1],
            "rounds": settings.rounds,
            "duration_s": settings.duration_s,
            "connections": settings.connections,
            "items": settings.items,
            "bake_seconds": round(bake_seconds, 2),
            "tried_settings": tried_settings(),
        },
        "rows": [
            {
                "key": row.key,
                "label": row.label,
                "path": row.path,
                "headers": row.headers,
                **{figure: spread.as_dict() for figure, spread in aggregated[row.key].items()},
            }
            for row in run.rows
            if row.key in aggregated
        ],
        "samples": run.samples,
        "targets": report.target_verdicts(run.samples, run.memory, run.timings),
        "memory": run.memory,
        "timings": run.timings,
        "notes": run.notes,
    }


def benchmark(run: Run) -> dict:
    """Bake, set up the services, start the servers, measure; return the results."""
    say(f"baking into {run.build_dir}")
    started = time.perf_counter()
    project = bake(run.build_dir / "app")
    bake_seconds = time.perf_counter() - started
    micro_project = bake(run.build_dir / "microcache", microcache="yes")
    run.log_dir.mkdir(parents=True, exist_ok=True)
    run.hook = write_hook(run.build_dir)
    flush_redis()
    database = create_database()
    try:
        env = app_environment(project, database)
        say(f"migrating and seeding {run.settings.items} items into {database}")
        migrate_and_seed(project, env, run.settings.items)
        setup_rows(run, project, micro_project, env, env["DATABASE_URL"])
        run_rounds(run)
        measure_startup(run, project, env)
        return collect_results(run, bake_seconds)
    finally:
        run.stop_all()
        drop_database(database)


def main() -> int:
    """Run the benchmark; 0 when every server came up and every request succeeded."""
    settings = Settings.from_env()
    run = Run(settings=settings, build_dir=Path(tempfile.mkdtemp(prefix="flask-perf-bench-")))
    failed = True
    try:
        results = benchmark(run)
        failed = False
    except (SetupError, ServerError, WrkError, OSError, psycopg.Error, redis.RedisError) as exc:
        print(f"\nBENCHMARK FAILED: {exc}\nserver logs kept in {run.log_dir}", file=sys.stderr)
        return 1
    finally:
        run.stop_all()
        flush_redis()
        if not (settings.keep_build_dir or failed):
            shutil.rmtree(run.build_dir, ignore_errors=True)
    # A partial or tried-settings run never overwrites the committed figures.
    partial = results["meta"]["tried_settings"] or settings.only
    stem = "tried" if partial else "latest"
    markdown_path, json_path = report.write_reports(results, RESULTS_DIR, stem)
    print(report.render_markdown(results))
    say(f"wrote {markdown_path} and {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
