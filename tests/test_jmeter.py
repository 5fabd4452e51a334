"""The JMeter plan (loadtests/jmeter/<slug>.jmx) and the gate's reading of JTL files.

JMeter itself is not installed here, so what can be checked without it is:
- the plan of every option set parses as XML and names one thread group per Locust user
  class, with the class's weight (its share of the users) and think time;
- every sampler is labelled "METHOD /route" and its path, variables filled in, is a route
  of the app's URL map for that method; every route slo.toml budgets has a sampler;
- (live) the gate judges a JTL written by a real Locust run (loadtests/jtl.py) exactly as
  it judges that run's own stats CSV: the same verdict, the same counts, and percentiles
  and rates equal within Locust's rounding.
"""

from __future__ import annotations

import csv
import json
import re
import sys
import tomllib
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from support import bake, free_port, run_in_project, run_python

SLUG = "perf-service"
PACKAGE = "perf_service"
OPTION_SETS = {
    "default": {},
    "no-celery": {"use_celery": "no"},
    "no-web-pages": {"web_pages": "no"},
    "no-example-api": {"example_api": "no"},
    "no-balancer": {"load_balancer": "none", "use_celery": "no"},
}


@pytest.fixture(scope="module", params=sorted(OPTION_SETS))
def baked(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One bake per option set."""
    return bake(tmp_path_factory.mktemp(f"jmeter-{request.param}"), **OPTION_SETS[request.param])


def plan_of(project: Path) -> ElementTree.Element:
    """The parsed JMeter plan of a bake."""
    return ElementTree.parse(project / "loadtests" / "jmeter" / f"{SLUG}.jmx").getroot()


def prop(element: ElementTree.Element, name: str) -> str:
    """A stringProp's text ('' when empty)."""
    found = element.find(f"stringProp[@name='{name}']")
    assert found is not None, f"{element.get('testname')}: no {name}"
    return found.text or ""


def without_variables(text: str) -> str:
    """Replace each outermost JMeter ${...} (functions nest) with 1."""
    result, depth, index = [], 0, 0
    while index < len(text):
        if text.startswith("${", index):
            if depth == 0:
                result.append("1")
            depth += 1
            index += 2
            continue
        if depth and text[index] == "{":
            depth += 1
        elif depth and text[index] == "}":
            depth -= 1
        elif not depth:
            result.append(text[index])
        index += 1
    return "".join(result)


def samplers(plan: ElementTree.Element) -> list[tuple[str, str, str]]:
    """(method, path, label) of every HTTP sampler."""
    return [
        (
            prop(element, "HTTPSampler.method"),
            prop(element, "HTTPSampler.path"),
            element.get("testname") or "",
        )
        for element in plan.iter("HTTPSamplerProxy")
    ]


def kit_path(project: Path) -> dict[str, str]:
    """PYTHONPATH that imports the load-test kit (loadtests.*) and the app, as make does."""
    return {"PYTHONPATH": f"{project}:{project / 'src'}"}


def locust_classes(project: Path) -> dict[str, dict[str, float]]:
    """Weight, fixed count and think time of each user class the locustfile runs."""
    script = """
import inspect, json
import loadtests.locustfile as locustfile
classes = {}
for name in locustfile.__all__:
    cls = getattr(locustfile, name)
    if name == "LoadShape" or not hasattr(cls, "wait_time"):
        continue
    waits = inspect.getclosurevars(cls.wait_time).nonlocals
    classes[name] = {"weight": cls.weight, "fixed_count": cls.fixed_count,
                     "min_wait": waits["min_wait"], "max_wait": waits["max_wait"]}
print(json.dumps(classes))
"""
    completed = run_python(project, "-c", script, env=kit_path(project))
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_the_plan_has_a_thread_group_per_locust_user_with_its_weight_and_think_time(
    baked: Path,
) -> None:
    plan = plan_of(baked)
    groups = {group.get("testname"): group for group in plan.iter("ThreadGroup")}
    classes = locust_classes(baked)
    assert set(groups) == set(classes)

    weighted = {name: spec for name, spec in classes.items() if not spec["fixed_count"]}
    total_weight = sum(spec["weight"] for spec in weighted.values())
    for name, spec in classes.items():
        threads = prop(groups[name], "ThreadGroup.num_threads")
        if spec["fixed_count"]:
            assert threads == str(spec["fixed_count"]), name
        else:
            assert f"* {spec['weight']} / {total_weight}.0" in threads, (name, threads)
    # Every think time in the plan is the Locust class's own, in seconds.
    hash_trees = list(plan.iter("hashTree"))
    for name, spec in classes.items():
        group = groups[name]
        tree = next(t for t in hash_trees if any(c is group for c in t))
        body = list(tree)[list(tree).index(group) + 1]
        timers = {timer.get("testname") for timer in body.iter("UniformRandomTimer")}
        assert timers == {f"between {spec['min_wait']:.1f} and {spec['max_wait']:.1f} s"}, name


def test_the_plan_has_the_shape_jmeter_loads(baked: Path) -> None:
    """JMeter reads a plan as pairs: each element, then a hashTree of its children."""
    plan = plan_of(baked)
    assert plan.tag == "jmeterTestPlan"
    for tree in plan.iter("hashTree"):
        children = list(tree)
        elements, subtrees = children[0::2], children[1::2]
        assert len(elements) == len(subtrees), [child.tag for child in children]
        assert all(element.tag != "hashTree" for element in elements)
        assert all(subtree.tag == "hashTree" for subtree in subtrees)
    # Every ${...} is closed: none is left once variables and functions are filled in.
    for element in plan.iter():
        if element.text and "${" in element.text:
            assert "${" not in without_variables(element.text), element.text
            assert element.text.count("{") == element.text.count("}"), element.text


def test_every_sampler_is_a_route_of_the_app_and_every_budget_has_one(baked: Path) -> None:
    found = samplers(plan_of(baked))
    assert found
    requests = []
    for method, path, label in found:
        assert label.startswith(f"{method} /"), label
        concrete = without_variables(path).split("?", 1)[0]
        route = label.split(" ", 1)[1]
        # The label names the route the path takes: its {placeholders} are the ${...} parts.
        assert re.fullmatch(re.sub(r"\\{[a-z_]+\\}", "1", re.escape(route)), concrete), (
            label,
            path,
        )
        requests.append((method, concrete))
    script = f"""
import json, sys
from {PACKAGE} import create_app
adapter = create_app("testing").url_map.bind("localhost")
missing = []
for method, path in json.loads(sys.argv[1]):
    try:
        adapter.match(path, method=method)
    except Exception as error:
        missing.append(f"{{method}} {{path}}: {{type(error).__name__}}")
print(json.dumps(missing))
"""
    completed = run_python(baked, "-c", script, json.dumps(requests))
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == []

    budgets = tomllib.loads((baked / "loadtests" / "slo.toml").read_text(encoding="utf-8"))
    labels = {label for _, _, label in found}
    assert set(budgets.get("routes", {})) <= labels


def bucket_step(milliseconds: float) -> float:
    """The width of Locust's histogram bucket at this response time."""
    if milliseconds < 100:
        return 1
    if milliseconds < 1000:
        return 10
    if milliseconds < 10000:
        return 100
    return 1000


@pytest.mark.live
@pytest.mark.slow
def test_the_gate_judges_a_locust_runs_jtl_as_it_judges_its_csv(tmp_path: Path) -> None:
    project = bake(
        tmp_path / "bake", database="sqlite", cache_backend="none", use_celery="no", ci="none"
    )
    port = free_port()
    results = tmp_path / "results"
    run_in_project(
        project,
        sys.executable,
        "loadtests/with_app.py",
        "--port",
        str(port),
        "--",
        sys.executable,
        "-m",
        "locust",
        "-f",
        "loadtests/locustfile.py",
        "--headless",
        "--host",
        f"http://127.0.0.1:{port}",
        "-u",
        "13",
        "-r",
        "13",
        "-t",
        "15s",
        "--only-summary",
        "--slo-gate",
        "report",
        "--csv",
        str(results / "locust"),
        "--jtl",
        str(results / "run.jtl"),
        timeout=240,
    )
    stats_csv, jtl = results / "locust_stats.csv", results / "run.jtl"
    with jtl.open(newline="", encoding="utf-8") as file:
        assert sum(1 for _ in csv.DictReader(file)) > 0

    def judge(path: Path) -> tuple[int, str]:
        completed = run_python(
            project, "-m", "loadtests.gate", str(path), check=False, env=kit_path(project)
        )
        return completed.returncode, completed.stdout

    csv_code, csv_table = judge(stats_csv)
    jtl_code, jtl_table = judge(jtl)
    assert csv_code == jtl_code, f"{csv_table}\n{jtl_table}"
    assert csv_table.splitlines()[-1] == jtl_table.splitlines()[-1]  # the same misses, if any

    script = """
import json, sys
from dataclasses import asdict
from loadtests.result_files import read_snapshot
print(json.dumps({path: {route: asdict(m) for route, m in read_snapshot(path).items()}
                  for path in sys.argv[1:]}))
"""
    completed = run_python(project, "-c", script, str(stats_csv), str(jtl), env=kit_path(project))
    snapshots = json.loads(completed.stdout.strip().splitlines()[-1])
    from_csv, from_jtl = snapshots[str(stats_csv)], snapshots[str(jtl)]
    assert set(from_csv) == set(from_jtl)
    for route, measured in from_csv.items():
        other = from_jtl[route]
        assert (measured["requests"], measured["failures"]) == (
            other["requests"],
            other["failures"],
        ), route
        for metric in ("p50_ms", "p95_ms", "p99_ms"):
            step = bucket_step(max(measured[metric], other[metric]))
            assert abs(measured[metric] - other[metric]) <= step, (route, metric)
        assert other["rps"] == pytest.approx(measured["rps"], rel=0.03), route
