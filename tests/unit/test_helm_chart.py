"""The Helm chart: helm lint and helm template (helm built by deploy/build-tools.sh) with the
default values and with every switch on, and the rendered manifests against the Kubernetes
schemas (kubernetes-validate)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.unit.deploy_tools import tool

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "auditpipe"
FULL = CHART / "ci" / "full-values.yaml"
KUBE = "1.31.0"  # the chart's lowest tested Kubernetes; kubeVersion in Chart.yaml is >=1.25
# CRDs have no schema in kubernetes-validate: checked by hand below
CRDS = {"PodMonitor", "ScaledObject"}


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tool("helm")), *args], capture_output=True, text=True, check=False, cwd=ROOT
    )


def render(*values: Path, sets: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    args = ["template", "rel", str(CHART), "--namespace", "audit", "--kube-version", KUBE]
    for v in values:
        args += ["-f", str(v)]
    for s in sets:
        args += ["--set", s]
    result = helm(*args)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


@pytest.mark.parametrize("values", [(), (FULL,)], ids=["defaults", "full"])
def test_helm_lint(values: tuple[Path, ...]) -> None:
    args = ["lint", str(CHART), "--strict", "--kube-version", KUBE]
    for v in values:
        args += ["-f", str(v)]
    result = helm(*args)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("values", [(), (FULL,)], ids=["defaults", "full"])
def test_rendered_manifests_match_the_kubernetes_schemas(values: tuple[Path, ...]) -> None:
    docs = render(*values)
    for doc in docs:
        if doc["kind"] in CRDS:
            continue
        kubernetes_validate.validate(doc, KUBE, strict=True)


def test_a_deployment_per_stage_and_per_region_with_health_probes() -> None:
    deployments = by_kind(render(), "Deployment")
    assert set(deployments) == {
        f"rel-auditpipe-{n}"
        for n in ("sanitizer", "detector", "router", "archiver-us-east-1", "archiver-eu-central-1")
    }
    for name, dep in deployments.items():
        pod = dep["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        assert c["args"][0] == "run"
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert c["resources"]["requests"], name
        ann = dep["spec"]["template"]["metadata"]["annotations"]
        assert ann["prometheus.io/scrape"] == "true"
        env = {e["name"]: e for e in c["env"]}
        assert env["AUDITPIPE_HEALTH__HOST"]["value"] == "0.0.0.0"  # noqa: S104
        assert env["AUDITPIPE_HMAC_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "auditpipe-keys"
    archiver = deployments["rel-auditpipe-archiver-eu-central-1"]
    assert archiver["spec"]["template"]["spec"]["containers"][0]["args"][-2:] == [
        "--region",
        "eu-central-1",
    ]


def test_rules_configmap_holds_every_file_of_rules() -> None:
    docs = render()
    (cm,) = by_kind(docs, "ConfigMap").values()
    rules = ROOT / "rules"
    files = sorted(p.relative_to(rules) for p in rules.rglob("*") if p.is_file())
    assert sorted(cm["data"]) == sorted(str(f).replace("/", "__") for f in files)
    for f in files:
        assert cm["data"][str(f).replace("/", "__")] == (ROOT / "rules" / f).read_text().rstrip(
            "\n"
        )
    dep = by_kind(docs, "Deployment")["rel-auditpipe-detector"]
    (vol,) = [v for v in dep["spec"]["template"]["spec"]["volumes"] if v["name"] == "rules"]
    assert {i["path"] for i in vol["configMap"]["items"]} == {str(f) for f in files}


def test_replicas_beyond_partitions_are_refused() -> None:
    result = helm(
        "template", "rel", str(CHART), "--kube-version", KUBE, "--set", "sanitizer.replicas=4"
    )
    assert result.returncode != 0
    assert "replicas 4 > topics.partitions 3" in result.stderr


def test_full_values_turn_everything_on() -> None:
    docs = render(FULL)
    kinds = {d["kind"] for d in docs}
    assert {"Secret", "PodMonitor", "ScaledObject", "CronJob", "NetworkPolicy"} <= kinds
    assert {"PodDisruptionBudget", "ServiceAccount"} <= kinds
    scaled = by_kind(docs, "ScaledObject")["rel-auditpipe-archiver-us-east-1"]
    assert scaled["spec"]["maxReplicaCount"] == 6
    trigger = scaled["spec"]["triggers"][0]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"]["consumerGroup"] == "auditpipe-archiver-us-east-1"
    secret = by_kind(docs, "Secret")["rel-auditpipe-keys"]
    assert {"hmac-key", "dlq-key", "archive-signing-key.pem"} <= set(secret["stringData"])
    cron = by_kind(docs, "CronJob")["rel-auditpipe-verify-eu-central-1"]
    args = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:3] == ["verify", "--source", "s3://acme-audit-eu-central-1"]


def test_existing_secret_is_required_unless_created() -> None:
    result = helm(
        "template", "rel", str(CHART), "--kube-version", KUBE, "--set", "secrets.existingSecret="
    )
    assert result.returncode != 0
    assert "secrets.existingSecret" in result.stderr


def test_values_schema_rejects_unknown_keys() -> None:
    result = helm("template", "rel", str(CHART), "--kube-version", KUBE, "--set", "sanitiser.x=1")
    assert result.returncode != 0
    assert "sanitiser" in result.stderr


def test_chart_readme_documents_every_value() -> None:
    readme = (CHART / "README.md").read_text()
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    whole = {"podSecurityContext", "securityContext", "probes", "podAnnotations"}
    documented = []
    for key, value in values.items():
        if isinstance(value, dict) and value and key not in whole:
            documented.extend(f"{key}.{sub}" for sub in value)
        else:
            documented.append(key)

    missing = [k for k in documented if f"`{k}`" not in readme]
    assert not missing, f"chart README lacks {missing}"
