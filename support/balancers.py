"""Run a baked project's loopback balancer (deploy/nginx or deploy/haproxy) with any upstreams.

scripts/stack.py renders these templates for `make stack` with loopback instances; tests
that place instances elsewhere (other ports, other network namespaces) render them here
with their own server lines, and get a config that differs from the stack's only there.
"""

from __future__ import annotations

import re
from pathlib import Path


def render_balancer_config(
    project: Path, kind: str, *, port: int, run_dir: Path, upstream_servers: str
) -> Path:
    """Fill the project's loopback `kind` template (nginx or haproxy) into `run_dir`.

    `upstream_servers` replaces @UPSTREAM_SERVERS@ as written (server lines in the
    balancer's own syntax). Fails on a placeholder this helper does not know, so a new
    one in the template is noticed here instead of reaching the balancer.
    """
    package = next(path for path in (project / "src").iterdir() if path.is_dir())
    values = {
        "LB_PORT": str(port),
        "RUN_DIR": str(run_dir),
        "LOG_DIR": str(run_dir),
        "UPSTREAM_SERVERS": upstream_servers,
        "STATIC_DIR": str(package / "web" / "static"),
    }
    if kind == "nginx":
        template = project / "deploy" / "nginx" / "local.conf.template"
        target = run_dir / "nginx.conf"
    else:
        template = project / "deploy" / "haproxy" / "local.cfg.template"
        target = run_dir / "haproxy.cfg"

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"{template}: no value for @{name}@"
        return values[name]

    run_dir.mkdir(parents=True, exist_ok=True)
    target.write_text(re.sub(r"@([A-Z_]+)@", substitute, template.read_text(encoding="utf-8")))
    return target


def nginx_command(config: Path, run_dir: Path) -> list[str]:
    """nginx in the foreground (the template says `daemon off`) on a rendered config."""
    return ["nginx", "-p", str(run_dir), "-c", str(config), "-e", str(run_dir / "error.log")]
