"""The Kubernetes manifests under deploy/k8s, offline: every resource validates against the bundled Kubernetes
JSON schemas (kubernetes-validate, strict: an unknown field is an error), and the structure a running deploy needs
holds: probes on /health and /ready, resource requests, settings from the ConfigMap and the Secret, the
setup job and the worker's wait for it, a PodDisruptionBudget and an HPA per Deployment, non-root pods."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.variables import noshow_names_in, setting_variables

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30.0"


def kustomization() -> dict[str, Any]:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())  # type: ignore[no-any-return]


def resources() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for name in kustomization()["resources"]:
        docs += [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]
    return docs


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in resources() if d["kind"] == kind}


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def engine_containers() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for doc in [*of_kind("Deployment").values(), *of_kind("Job").values()]:
        spec = pod_spec(doc)
        out += [(doc["metadata"]["name"], c) for c in spec.get("initContainers", []) + spec["containers"]]
    return out


def test_every_listed_file_exists_and_generated_inputs_are_not_committed() -> None:
    k = kustomization()
    for name in k["resources"]:
        assert (K8S / name).is_file(), name
    ignored = (K8S / ".gitignore").read_text().split()
    assert [g["envs"] for g in k["secretGenerator"]] == [["secrets.env"]] and "secrets.env" in ignored
    assert [g["files"] for g in k["configMapGenerator"]] == [["policy.yaml"]] and "policy.yaml" in ignored


@pytest.mark.parametrize("doc", resources(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_each_resource_validates_against_the_kubernetes_schema(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_validator_rejects_a_misspelt_field() -> None:
    doc = of_kind("Deployment")["noshow-api"]
    broken = yaml.safe_load(yaml.safe_dump(doc))
    pod_spec(broken)["containers"][0]["readinessProbe"]["httpGett"] = {"path": "/ready", "port": "http"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_the_api_is_probed_on_health_and_ready_and_served() -> None:
    api = of_kind("Deployment")["noshow-api"]
    [container] = pod_spec(api)["containers"]
    assert container["command"] == ["noshow", "api"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    service = of_kind("Service")["noshow-api"]
    assert service["spec"]["selector"] == api["spec"]["selector"]["matchLabels"]
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= {p["name"] for p in container["ports"]}


def test_the_worker_waits_for_the_setup_and_is_probed() -> None:
    worker = of_kind("Deployment")["noshow-worker"]
    spec = pod_spec(worker)
    assert [c["command"] for c in spec["initContainers"]] == [["noshow", "setup-temporal"]]
    [container] = spec["containers"]
    assert container["command"] == ["noshow", "worker"]
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] == "metrics"
    [job] = of_kind("Job").values()
    assert pod_spec(job)["containers"][0]["command"] == ["noshow", "setup-temporal"]
    assert pod_spec(job)["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] >= 1


def test_every_engine_container_reads_the_config_and_the_secret_has_requests_and_drops_root() -> None:
    for owner, container in engine_containers():
        refs = [next(iter(e)) for e in container["envFrom"]]
        names = [e[r]["name"] for e, r in zip(container["envFrom"], refs, strict=True)]
        assert refs == ["configMapRef", "secretRef"] and names == ["noshow-config", "noshow-secrets"], owner
        assert {"cpu", "memory"} <= set(container["resources"]["requests"]), owner
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, owner
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, owner
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert "/etc/noshow" in mounts and mounts["/etc/noshow"]["readOnly"] is True, owner
    for doc in [*of_kind("Deployment").values(), *of_kind("Job").values()]:
        security = pod_spec(doc)["securityContext"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] != 0
        volumes = {v["name"]: v for v in pod_spec(doc)["volumes"]}
        assert volumes["policy"]["configMap"]["name"] == "noshow-policy"
    config = of_kind("ConfigMap")["noshow-config"]["data"]
    assert config["NOSHOW_ENV"] == "production" and config["NOSHOW_POLICY_FILE"] == "/etc/noshow/policy.yaml"


def test_each_deployment_has_a_disruption_budget_and_an_autoscaler() -> None:
    deployments = of_kind("Deployment")
    budgets = of_kind("PodDisruptionBudget")
    scalers = of_kind("HorizontalPodAutoscaler")
    for name, deployment in deployments.items():
        labels = deployment["spec"]["selector"]["matchLabels"]
        assert labels == deployment["spec"]["template"]["metadata"]["labels"]
        assert [b for b in budgets.values() if b["spec"]["selector"]["matchLabels"] == labels], name
        targets = [s for s in scalers.values() if s["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1", "kind": "Deployment", "name": name}]
        assert targets and targets[0]["spec"]["minReplicas"] >= 2, name
        budget = next(b for b in budgets.values() if b["spec"]["selector"]["matchLabels"] == labels)
        assert budget["spec"]["minAvailable"] < targets[0]["spec"]["minReplicas"], "a drain must be able to proceed"


def test_every_variable_the_manifests_name_is_a_real_setting() -> None:
    known = setting_variables()
    for path in sorted(K8S.glob("*.yaml")):
        unknown = noshow_names_in(path) - known
        assert not unknown, f"{path.name} names variables no setting reads: {sorted(unknown)}"
    for key in of_kind("ConfigMap")["noshow-config"]["data"]:
        assert key in known, f"noshow-config: {key} is no setting"


def test_the_manifests_and_compose_give_the_engine_the_same_settings() -> None:
    """Compose's engine environment and the ConfigMap name the same variables with the same values, apart from
    where each platform puts things: compose passes the database URL inline (its password from .env), the
    manifests from the Secret; the namespace comes from .env in compose and from the ConfigMap here."""
    compose = yaml.safe_load((K8S.parents[1] / "docker-compose.yml").read_text())["services"]
    engine: dict[str, str] = {}
    for name in ("worker", "api"):
        engine |= {k: str(v) for k, v in compose[name]["environment"].items()}
    config = of_kind("ConfigMap")["noshow-config"]["data"]
    assert set(engine) - {"NOSHOW_DATABASE_URL"} == set(config) - {"TEMPORAL_NAMESPACE"}
    placed = {"TEMPORAL_ADDRESS"}  # the Temporal frontend's address differs by platform
    for key in set(config) & set(engine) - placed:
        assert config[key] == engine[key], f"{key}: compose {engine[key]!r}, manifests {config[key]!r}"
