"""The production-shaped stack holds together without Docker: docker-compose.yml, the Dockerfile,
Prometheus and Grafana provisioning are parsed and cross-checked, the IME services' environment
passes the production validation, and every metric a dashboard or alert reads is one the code
serves (the SDK's names checked against a real worker)."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import os
import re
import shlex
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
import pytest
import yaml
from cryptography import x509

from api.metrics import BUSINESS_METRICS, WORKER_SDK_METRICS
from codec import KeyRing, generate_key
from deploy import scrape_key
from deploy.certs import CertFiles, issue
from domain.keys import key_id_of
from domain.models import ConfirmAppointment, Referral, SafetyConcern
from domain.names import Action
from settings import PROJECT_ROOT, Settings
from store import api_keys
from tests.helpers.app import ApiHarness
from tests.helpers.claims import act, start_claim, terminate_leftovers, wait_for
from tests.helpers.markdown import heading_anchors
from tests.helpers.processes import free_port, kill, spawn_worker
from tests.helpers.referrals import referral_payload
from tests.helpers.stack import dev_address

DEPLOY = PROJECT_ROOT / "deploy"
GRAFANA = DEPLOY / "grafana"
COMPOSE: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]

# Metrics by the name on their `# TYPE` line and their type. The API's HTTP metrics (the business
# metrics, gauges and one counter, are api.metrics.BUSINESS_METRICS); both are checked against the
# real app's /metrics in test_the_scrape_key_reads_the_metrics_and_mends_itself_when_revoked.
HTTP_METRICS = {"ime_http_requests_total": "counter", "ime_http_request_seconds": "histogram"}
# The Temporal SDK's worker metrics the dashboard and alerts read (latencies in milliseconds);
# test_sdk_metric_names_are_what_a_real_worker_serves keeps this list true.
SDK_METRICS = {
    "temporal_workflow_task_schedule_to_start_latency": "histogram",
    "temporal_activity_schedule_to_start_latency": "histogram",
    "temporal_worker_task_slots_available": "gauge",
    "temporal_worker_task_slots_used": "gauge",
    "temporal_sticky_cache_size": "gauge",
}
# Prometheus's own series.
BUILTIN_SERIES = {"up"}

# The runbook the alert rules link to, and the sections of it they point at.
RUNBOOK = "docs/operations.md"
RUNBOOK_ANCHORS = {
    "alert-unacknowledged-safety-page",
    "alert-business-metrics-down",
    "alert-dead-deliveries",
    "alert-overdue-claims-rising",
    "alert-schedule-to-start-latency-high",
}


def known_series() -> set[str]:
    """Every series name a query may read."""
    typed = HTTP_METRICS | SDK_METRICS
    series = {
        name + suffix
        for name, kind in typed.items()
        for suffix in (("_bucket", "_sum", "_count") if kind == "histogram" else ("",))
    }
    return series | set(BUSINESS_METRICS) | BUILTIN_SERIES


# --------------------------------------------------------------------------- compose helpers


def mounts(service: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(source, target) of each volume entry: a named volume or a ./ path, and where it goes."""
    for entry in service.get("volumes", []):
        source, target = entry.split(":")[:2]
        yield source, target


def container_ports(service: dict[str, Any]) -> set[int]:
    ports = {int(p) for p in service.get("expose", [])}
    return ports | {int(str(p).rsplit(":", 1)[-1]) for p in service.get("ports", [])}


def target_of(service: dict[str, Any], source: str) -> str:
    found = [target for src, target in mounts(service) if src == source]
    assert len(found) == 1, f"{source} is not mounted once"
    return found[0]


def under_mount(service: dict[str, Any], path: str) -> str | None:
    """The named volume or ./ path `path` lives in, inside the service's container."""
    for source, target in mounts(service):
        if PurePosixPath(path).is_relative_to(target):
            return source
    return None


def dockerfile_sources() -> set[str]:
    sources: set[str] = set()
    for line in (PROJECT_ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            sources |= {s.rstrip("/") for s in shlex.split(line)[1:-1]}
    return sources


def in_image(path: str) -> bool:
    return any(path == s or path.startswith(s + "/") for s in dockerfile_sources())


_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value: str, given: Mapping[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?message}` (a required one is given)."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"] or "", match["arg"] or ""
        if name in given:
            return given[name]
        assert not op.endswith("?"), f"{name} is required: {arg}"
        return arg if op.endswith("-") else ""

    return _VARIABLE.sub(one, value)


def required_variables() -> set[str]:
    text = (PROJECT_ROOT / "docker-compose.yml").read_text()
    return {m["name"] for m in _VARIABLE.finditer(text) if (m["op"] or "").endswith("?")}


# --------------------------------------------------------------------------- compose


def test_every_image_is_pinned_and_temporal_images_are_official():
    for name, service in SERVICES.items():
        if "image" not in service:
            assert service.get("build") == ".", name
            continue
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image}"
        if "temporal" in repository:
            assert repository.startswith("temporalio/"), f"{name}: {image}"


def test_every_reference_resolves():
    volumes = set(COMPOSE.get("volumes") or {})
    for name, service in SERVICES.items():
        depends = service.get("depends_on", [])
        assert set(depends) <= set(SERVICES), name
        for source, _ in mounts(service):
            if source.startswith(("./", "/")):
                assert (PROJECT_ROOT / source).exists(), f"{name}: {source} is not in the repo"
            else:
                assert source in volumes, f"{name}: volume {source}"
        for kind in ("secrets", "configs"):
            for ref in service.get(kind, []):
                ref_name = ref if isinstance(ref, str) else ref["source"]
                assert ref_name in (COMPOSE.get(kind) or {}), f"{name}: {kind} {ref_name}"


def test_one_shot_steps_run_in_order():
    # What each long-running part waits for, so a first `up` comes up in one go.
    def waits(name: str) -> dict[str, str]:
        return {k: v["condition"] for k, v in SERVICES[name]["depends_on"].items()}

    assert waits("temporal")["certs"] == "service_completed_successfully"
    assert waits("temporal")["temporal-schema"] == "service_completed_successfully"
    assert waits("migrate")["temporal-namespace"] == "service_completed_successfully"
    for name in ("worker", "dispatcher", "api", "scrape-key"):
        assert waits(name) == {"migrate": "service_completed_successfully"}, name
    assert waits("prometheus") == {"scrape-key": "service_completed_successfully"}


def test_built_services_run_modules_that_are_in_the_image():
    assert in_image("pyproject.toml")
    built = {n: s for n, s in SERVICES.items() if s.get("build") == "."}
    assert {"certs", "migrate", "worker", "dispatcher", "api", "scrape-key"} <= set(built)
    for name, service in built.items():
        command = service["command"]
        assert command[0] == "python", name
        if command[1] == "-m" and command[2] == "uvicorn":
            module, _, attribute = next(a for a in command if ":" in a).partition(":")
            assert hasattr(importlib.import_module(module), attribute), name
        elif command[1] == "-m":
            module = command[2]
            assert importlib.util.find_spec(module) is not None, name
        else:
            module = command[1].removesuffix(".py")
            assert (PROJECT_ROOT / command[1]).is_file(), name
        assert in_image(module.replace(".", "/") + ".py"), f"{name}: {module} is not copied"


def test_the_image_holds_every_package_pyproject_installs():
    setuptools = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    for package in setuptools["packages"]:
        assert in_image(package.replace(".", "/") + "/__init__.py"), package
    for module in setuptools["py-modules"]:
        assert in_image(f"{module}.py"), module


def ime_services() -> dict[str, dict[str, Any]]:
    return {n: s for n, s in SERVICES.items() if s.get("environment", {}).get("IME_ENV")}


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertFiles:
    """What the compose `certs` service issues, made by the same generator."""
    command = SERVICES["certs"]["command"]
    assert command[:3] == ["python", "-m", "deploy.certs"]
    return issue(tmp_path_factory.mktemp("certs"))


def test_the_ime_services_environment_passes_production_validation(certs, monkeypatch):
    services = ime_services()
    assert {"migrate", "worker", "dispatcher", "api", "scrape-key"} <= set(services)
    certs_dir = PurePosixPath(SERVICES["certs"]["command"][3])
    assert target_of(SERVICES["certs"], "certs") == str(certs_dir)
    given = {name: "p" * 40 for name in required_variables()}
    given["IME_CODEC_KEYS"] = f"k1:{generate_key()}"
    KeyRing.parse(given["IME_CODEC_KEYS"])  # the placeholder is a real ring
    issued = {path.name for path in vars(certs).values()}
    for name, service in services.items():
        environment = {k: interpolate(str(v), given) for k, v in service["environment"].items()}
        for variable, value in environment.items():
            if variable.startswith("IME_TEMPORAL_TLS_") and variable.endswith("_FILE"):
                # A file the certs service issues, in the volume it issues into.
                assert under_mount(service, value) == "certs", f"{name}: {variable}"
                path = PurePosixPath(value)
                assert path.parent == certs_dir and path.name in issued, f"{name}: {variable}"
                environment[variable] = str(certs.ca.parent / path.name)
        for variable in [v for v in os.environ if v.startswith("IME_")]:
            monkeypatch.delenv(variable)
        for variable, value in environment.items():
            monkeypatch.setenv(variable, value)
        settings = Settings(_env_file=None)
        assert not settings.development and settings.temporal_tls_enabled, name
        assert settings.temporal_tls_cert_file is not None, f"{name}: mutual TLS"


def test_temporal_serves_mutual_tls_with_the_issued_files(certs):
    temporal = SERVICES["temporal"]
    environment = temporal["environment"]
    assert environment["TEMPORAL_TLS_REQUIRE_CLIENT_AUTH"] == "true"
    issued = {path.name for path in vars(certs).values()}
    for variable, value in environment.items():
        if variable.startswith("TEMPORAL_TLS_") and str(value).startswith("/"):
            assert under_mount(temporal, value) == "certs", variable
            assert PurePosixPath(value).name in issued, variable
    # The name the services dial is one the server certificate carries.
    host = ime_services()["api"]["environment"]["IME_TEMPORAL_ADDRESS"].split(":")[0]
    assert host in SERVICES and host == environment["TEMPORAL_TLS_FRONTEND_SERVER_NAME"]
    names = (
        x509.load_pem_x509_certificate(certs.server_cert.read_bytes())
        .extensions.get_extension_for_class(x509.SubjectAlternativeName)
        .value.get_values_for_type(x509.DNSName)
    )
    assert host in names
    ui = SERVICES["temporal-ui"]["environment"]
    assert ui["TEMPORAL_TLS_SERVER_NAME"] == host
    for variable in ("TEMPORAL_TLS_CA", "TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY"):
        assert under_mount(SERVICES["temporal-ui"], ui[variable]) == "certs", variable


# --------------------------------------------------------------------------- Prometheus


def prometheus_config() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())


def test_prometheus_reads_this_config():
    prometheus = SERVICES["prometheus"]
    target = target_of(prometheus, "./deploy/prometheus/prometheus.yml")
    assert f"--config.file={target}" in prometheus["command"]


def test_prometheus_scrapes_services_and_ports_that_exist():
    scraped: set[str] = set()
    for job in prometheus_config()["scrape_configs"]:
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                assert int(port) in container_ports(SERVICES[host]), target
                scraped.add(host)
        for discovery in job.get("dns_sd_configs", []):
            for host in discovery["names"]:
                assert discovery["port"] in container_ports(SERVICES[host]), host
                scraped.add(host)
    assert scraped == {"api", "worker"}
    metrics_address = SERVICES["worker"]["environment"]["IME_WORKER_METRICS_ADDRESS"]
    assert int(metrics_address.rsplit(":", 1)[1]) in container_ports(SERVICES["worker"])


def test_prometheus_scrapes_the_api_with_the_key_the_scrape_key_service_keeps():
    (api_job,) = [j for j in prometheus_config()["scrape_configs"] if j["job_name"] == "ime-api"]
    credentials = api_job["authorization"]["credentials_file"]
    volume = under_mount(SERVICES["prometheus"], credentials)
    assert volume is not None and not volume.startswith("./")
    writer = SERVICES["scrape-key"]
    assert writer["command"][-1] == credentials
    assert under_mount(writer, credentials) == volume


# --------------------------------------------------------------------------- Grafana


def grafana_yaml(*parts: str) -> list[dict[str, Any]]:
    folder = GRAFANA / "provisioning" / Path(*parts)
    return [yaml.safe_load(path.read_text()) for path in sorted(folder.glob("*.yml"))]


def datasource_uids() -> set[str]:
    return {ds["uid"] for doc in grafana_yaml("datasources") for ds in doc["datasources"]}


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in (GRAFANA / "dashboards").glob("*.json")}


def alert_rules() -> list[dict[str, Any]]:
    return [r for doc in grafana_yaml("alerting") for g in doc["groups"] for r in g["rules"]]


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def expressions() -> dict[str, str]:
    """Every PromQL expression of a dashboard panel or an alert rule, by where it is."""
    found: dict[str, str] = {}
    for file, dashboard in dashboards().items():
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                found[f"{file}: {panel['title']} {target['refId']}"] = target["expr"]
    for rule in alert_rules():
        for query in rule["data"]:
            if "expr" in query["model"]:
                found[f"alert {rule['uid']} {query['refId']}"] = query["model"]["expr"]
    return found


def test_grafana_provisioning_is_mounted_where_grafana_reads_it():
    grafana = SERVICES["grafana"]
    assert target_of(grafana, "./deploy/grafana/provisioning") == "/etc/grafana/provisioning"
    (provider,) = [p for doc in grafana_yaml("dashboards") for p in doc["providers"]]
    assert provider["options"]["path"] == target_of(grafana, "./deploy/grafana/dashboards")


def test_the_datasource_is_the_stacks_prometheus():
    (doc,) = grafana_yaml("datasources")
    (datasource,) = doc["datasources"]
    assert datasource["type"] == "prometheus"
    host, port = httpx.URL(datasource["url"]).host, httpx.URL(datasource["url"]).port
    assert port in container_ports(SERVICES[host]) and SERVICES[host] is SERVICES["prometheus"]


def test_every_datasource_a_dashboard_or_alert_names_is_provisioned():
    uids = datasource_uids()
    assert dashboards(), "no dashboard"
    for file, dashboard in dashboards().items():
        for panel in panels(dashboard):
            for holder in [panel, *panel.get("targets", [])]:
                if "datasource" in holder:
                    assert holder["datasource"]["uid"] in uids, f"{file}: {panel['title']}"
    for rule in alert_rules():
        for query in rule["data"]:
            assert query["datasourceUid"] in uids | {"__expr__"}, rule["uid"]


def test_the_dashboard_shows_what_operations_watch():
    (dashboard,) = dashboards().values()
    used = " ".join(expressions().values())
    for family in [*BUSINESS_METRICS, *HTTP_METRICS, *SDK_METRICS]:
        assert family in used, f"nothing shows {family}"
    assert len({p["id"] for p in panels(dashboard)}) == len(list(panels(dashboard)))


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_METRIC = re.compile(r"\b(?:ime|temporal)_[a-z0-9_]+\b|\bup\b(?=\s*[{\[)])")


def metrics_in(expr: str) -> set[str]:
    return set(_METRIC.findall(_STRING.sub('""', expr)))


def test_every_metric_a_dashboard_or_alert_reads_is_served():
    known = known_series()
    for where, expr in expressions().items():
        used = metrics_in(expr)
        assert used, f"{where}: no metric in {expr}"
        assert used <= known, f"{where}: unknown {used - known}"
        for opening, closing in ("()", "{}", "[]"):
            assert expr.count(opening) == expr.count(closing), f"{where}: unbalanced {expr}"


def test_the_metric_check_catches_a_misspelt_name():
    assert metrics_in('sum(rate(ime_http_request_total{route="/v1/claims"}[5m]))') == {
        "ime_http_request_total"
    }
    assert not metrics_in("sum(rate(ime_http_request_total[5m]))") <= known_series()


def test_every_alert_has_a_summary_a_runbook_and_a_condition():
    rules = alert_rules()
    assert len({r["uid"] for r in rules}) == len(rules)
    anchors = set()
    for rule in rules:
        assert rule["annotations"]["summary"], rule["uid"]
        page, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        assert page == RUNBOOK, rule["uid"]
        anchors.add(anchor)
        assert rule["condition"] in {q["refId"] for q in rule["data"]}, rule["uid"]
    assert anchors == RUNBOOK_ANCHORS


def test_every_runbook_link_resolves_to_a_heading():
    for rule in alert_rules():
        page, _, anchor = rule["annotations"]["runbook_url"].partition("#")
        assert (PROJECT_ROOT / page).is_file(), rule["uid"]
        assert anchor in heading_anchors((PROJECT_ROOT / page).read_text()), rule["uid"]


async def test_sdk_metric_names_are_what_a_real_worker_serves(dev_env, database_url, task_queue):
    metrics_address = f"127.0.0.1:{free_port()}"
    worker = spawn_worker(dev_address(dev_env), database_url, task_queue, metrics_address)
    try:
        handle = await start_claim(
            dev_env.client, Referral.model_validate(referral_payload("DEMO")), task_queue
        )
        await wait_for(handle, lambda s: s.appointment is not None)
        await act(handle, Action.CONFIRM_APPOINTMENT, ConfirmAppointment())
        # A safety concern runs a (non-local) activity: activity schedule-to-start is recorded.
        await act(handle, Action.SAFETY_CONCERN, SafetyConcern(level="imminent", toward="self"))
        async with httpx.AsyncClient() as http:
            for _ in range(100):
                scraped = (await http.get(f"http://{metrics_address}/metrics")).text
                families = dict(re.findall(r"^# TYPE (\S+) (\S+)$", scraped, re.MULTILINE))
                if SDK_METRICS.keys() <= families.keys():
                    break
                await asyncio.sleep(0.2)
        assert {name: families.get(name) for name in SDK_METRICS} == SDK_METRICS
        assert SDK_METRICS.keys() <= set(WORKER_SDK_METRICS)  # the list api.metrics documents
        # Milliseconds: the bucket bounds are whole numbers in the hundreds and thousands.
        assert "temporal_workflow_task_schedule_to_start_latency_bucket{" in scraped
        assert re.search(r'schedule_to_start_latency_bucket\{[^}]*le="1000"\}', scraped)
    finally:
        kill(worker)
        await terminate_leftovers()


async def test_the_scrape_key_reads_the_metrics_and_mends_itself_when_revoked(
    api: ApiHarness, tmp_path
):
    path = tmp_path / "scrape" / "sre-api-key"
    assert await scrape_key.ensure(api.pool, api.settings, path)
    key = path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    assert not await scrape_key.ensure(api.pool, api.settings, path)
    assert path.read_text() == key

    scraped = (await api.client(key).get("/metrics")).raise_for_status().text
    families = dict(re.findall(r"^# TYPE (\S+) (\S+)$", scraped, re.MULTILINE))
    for name, kind in HTTP_METRICS.items():
        assert families.get(name) == kind, name
    assert set(BUSINESS_METRICS) <= families.keys()

    key_id = key_id_of(key)
    assert key_id is not None
    await api_keys.revoke(api.pool, key_id)
    assert await scrape_key.ensure(api.pool, api.settings, path)
    assert path.read_text() != key
