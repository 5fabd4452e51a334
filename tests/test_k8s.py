"""The Kubernetes manifests (kubernetes=yes): valid, complete, wired together, no secrets.

kustomize is not installed here, so for every option set that enables the prompt:
- every manifest validates against the Kubernetes API schemas, offline and strictly
  (kubernetes-validate: unknown fields are errors);
- each kustomization lists every file of its folder, and only files that exist;
- the pieces refer to each other correctly: selectors match the pods' labels, the HPA,
  PDB, Service and Ingress point at what exists, the probes and WEB_CONCURRENCY at the
  web container, every container reads the ConfigMap and the Secret;
- no manifest holds a Secret or a secret value;
- the Celery worker (and beat) exist exactly when Celery is chosen.
The hook refuses kubernetes=yes without Docker or with SQLite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from cookiecutter.exceptions import FailedHookException

from support import bake

pytestmark = pytest.mark.slow

# The oldest Kubernetes minor still supported upstream when this was written: the
# manifests use nothing newer, so they apply to every current cluster.
KUBERNETES_VERSION = "1.32.0"
SLUG = "perf-service"
OPTION_SETS = {
    "default": {},
    "sync-mysql-no-celery": {
        "gunicorn_worker_class": "sync",
        "database": "mysql",
        "use_celery": "no",
    },
    "gevent-rabbitmq-no-cache": {
        "gunicorn_worker_class": "gevent",
        "celery_broker": "rabbitmq",
        "cache_backend": "none",
    },
    "no-example-api": {"example_api": "no"},
    "no-balancer": {"load_balancer": "none", "web_pages": "no"},
}
# Names of settings whose values are secrets: they belong in the Secret only.
SECRET_SETTINGS = {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}


@pytest.fixture(scope="module", params=sorted(OPTION_SETS))
def k8s(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/k8s of a bake with kubernetes=yes and the option set."""
    options = {"kubernetes": "yes", **OPTION_SETS[request.param]}
    project = bake(tmp_path_factory.mktemp(f"k8s-{request.param}"), **options)
    return project / "deploy" / "k8s"


def documents(path: Path) -> list[dict[str, Any]]:
    """The YAML documents of a file."""
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def manifests(k8s: Path) -> dict[Path, dict[str, Any]]:
    """Every Kubernetes object of the base and the overlay, by file."""
    found = {}
    for path in sorted(k8s.rglob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        (doc,) = documents(path)
        found[path] = doc
    return found


def objects(k8s: Path, kind: str) -> list[dict[str, Any]]:
    """The base's objects of one kind."""
    return [
        doc for path, doc in manifests(k8s).items() if doc["kind"] == kind and "base" in path.parts
    ]


def test_every_manifest_validates_against_the_kubernetes_schemas(k8s: Path) -> None:
    found = manifests(k8s)
    assert len(found) >= 8
    errors = []
    for path, doc in found.items():
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{path.relative_to(k8s)}: {error.message} at {list(error.path)}")
    assert not errors, "\n".join(errors)


def test_each_kustomization_lists_every_file_of_its_folder(k8s: Path) -> None:
    kustomizations = sorted(k8s.rglob("kustomization.yaml"))
    assert [path.parent.relative_to(k8s).as_posix() for path in kustomizations] == [
        "base",
        "overlays/production",
    ]
    for kustomization in kustomizations:
        (spec,) = documents(kustomization)
        assert spec["kind"] == "Kustomization"
        folder = kustomization.parent
        listed = list(spec.get("resources", [])) + [
            patch["path"] for patch in spec.get("patches", [])
        ]
        local = {entry for entry in listed if not entry.startswith("..")}
        files = {path.name for path in folder.glob("*.yaml")} - {"kustomization.yaml"}
        assert local == files, f"{kustomization.relative_to(k8s)} lists {sorted(local)}"
        for entry in listed:
            assert (folder / entry).exists(), f"{kustomization.relative_to(k8s)}: {entry}"


def test_the_pieces_refer_to_each_other(k8s: Path) -> None:
    (web,) = [d for d in objects(k8s, "Deployment") if d["metadata"]["name"] == f"{SLUG}-web"]
    pod_labels = web["spec"]["template"]["metadata"]["labels"]
    assert web["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    container = web["spec"]["template"]["spec"]["containers"][0]

    (service,) = objects(k8s, "Service")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    port_names = {port["name"] for port in container["ports"]}
    assert {port["targetPort"] for port in service["spec"]["ports"]} <= port_names
    (pdb,) = objects(k8s, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    (hpa,) = objects(k8s, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": web["metadata"]["name"],
    }
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    # A CPU utilisation target needs a CPU request to be a percentage of.
    assert container["resources"]["requests"]["cpu"]
    for path, ingress in manifests(k8s).items():
        if ingress["kind"] != "Ingress":
            continue
        for rule in ingress["spec"]["rules"]:
            for route in rule["http"]["paths"]:
                backend = route["backend"]["service"]
                assert backend["name"] == service["metadata"]["name"], path
                assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}

    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert container["lifecycle"]["preStop"]
    concurrency = next(env for env in container["env"] if env["name"] == "WEB_CONCURRENCY")
    field = concurrency["valueFrom"]["resourceFieldRef"]
    assert (field["containerName"], field["resource"]) == (container["name"], "limits.cpu")
    assert container["resources"]["limits"]["cpu"] and container["resources"]["limits"]["memory"]

    (config_map,) = objects(k8s, "ConfigMap")
    for doc in objects(k8s, "Deployment") + objects(k8s, "Job"):
        for each in doc["spec"]["template"]["spec"]["containers"]:
            sources = {
                (kind, source[kind]["name"]) for source in each["envFrom"] for kind in source
            }
            assert sources == {
                ("configMapRef", config_map["metadata"]["name"]),
                ("secretRef", f"{SLUG}-secrets"),
            }, doc["metadata"]["name"]


def test_no_manifest_holds_a_secret(k8s: Path) -> None:
    found = manifests(k8s)
    assert not [path for path, doc in found.items() if doc["kind"] == "Secret"]
    (config_map,) = objects(k8s, "ConfigMap")
    assert not SECRET_SETTINGS & set(config_map["data"])
    for path, doc in found.items():
        for key in SECRET_SETTINGS:
            assert f"name: {key}" not in yaml.safe_dump(doc), path


def test_celery_processes_exist_exactly_with_celery(k8s: Path) -> None:
    answers = (k8s.parent.parent / ".cookiecutter.json").read_text(encoding="utf-8")
    names = {doc["metadata"]["name"] for doc in objects(k8s, "Deployment")}
    with_celery = '"use_celery": "no"' not in answers
    with_api = '"example_api": "no"' not in answers
    assert (f"{SLUG}-worker" in names) == with_celery
    assert (f"{SLUG}-beat" in names) == (with_celery and with_api)


def test_the_default_bake_has_no_kubernetes_files(tmp_path: Path) -> None:
    assert not (bake(tmp_path) / "deploy" / "k8s").exists()


@pytest.mark.parametrize(
    "options", [{"use_docker": "no"}, {"database": "sqlite"}], ids=["no-docker", "sqlite"]
)
def test_kubernetes_needs_docker_and_a_shared_database(
    options: dict[str, str], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(FailedHookException):
        bake(tmp_path, kubernetes="yes", **options)
    assert "ERROR: kubernetes 'yes'" in capfd.readouterr().err
    assert not (tmp_path / SLUG).exists()
