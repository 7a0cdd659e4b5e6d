"""Every overlay builds with kustomize, every built object validates against the Kubernetes
1.30 schemas with ``kubernetes-validate --strict``, and the custom resources that have no
schema there (KEDA, RabbitMQ operator, CloudNativePG) are checked here field by field."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.manifests import (
    CRD_GROUPS,
    Obj,
    app_container,
    by_name,
    container_env,
    containers,
    group_of,
    name_of,
    of_kind,
    tool,
)

KUBERNETES_VERSION = "1.30.0"
MISSING_SCHEMA = re.compile(r"Couldn't find schema for kind (\S+) with api version (\S+)")

# Secrets the operators create, and the keys they hold.
CNPG_APP_SECRET_KEYS = {"username", "password", "host", "port", "dbname", "uri", "jdbc-uri"}
RABBITMQ_USER_SECRET_KEYS = {"username", "password", "host", "port", "provider", "type"}


def test_every_overlay_builds_with_kustomize(overlays: dict[str, list[Obj]]) -> None:
    for name, objects in overlays.items():
        kinds = {o["kind"] for o in objects}
        assert {"Deployment", "Service", "Ingress"} <= kinds, f"{name} built {sorted(kinds)}"


def test_every_object_validates_strictly_against_kubernetes_1_30(
    rendered: list[Obj], tmp_path: Path
) -> None:
    manifest = tmp_path / "built.yaml"
    manifest.write_text(yaml.safe_dump_all(rendered), encoding="utf-8")
    result = subprocess.run(
        [tool("kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, "--quiet",
         str(manifest)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    problems = []
    for line in output.splitlines():
        missing = MISSING_SCHEMA.search(line)
        if missing is not None:
            if missing.group(2).split("/")[0] not in CRD_GROUPS:
                problems.append(f"no schema (not allowed): {line}")
        elif line.strip():
            problems.append(line)
    assert result.returncode == 0 or problems, output
    assert not problems, "\n".join(problems)


def test_a_missing_schema_outside_the_crd_groups_is_reported(tmp_path: Path) -> None:
    """The validator only warns on an unknown kind; the test above turns that into a failure.
    This proves the warning text it relies on is still what the tool prints."""
    manifest = tmp_path / "unknown.yaml"
    manifest.write_text(
        "apiVersion: example.com/v1\nkind: Gadget\nmetadata:\n  name: x\n", encoding="utf-8"
    )
    result = subprocess.run(
        [tool("kubernetes-validate"), "--strict", "-k", KUBERNETES_VERSION, "--quiet",
         str(manifest)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert MISSING_SCHEMA.search(result.stdout + result.stderr)


# -- custom resources --------------------------------------------------------------------------


def crd_problems(objects: list[Obj]) -> list[str]:
    """Required fields and references of the KEDA, RabbitMQ and CloudNativePG objects."""
    problems: list[str] = []
    deployments = by_name(objects, "Deployment")
    trigger_auths = by_name(objects, "TriggerAuthentication")
    for obj in objects:
        if group_of(obj) in CRD_GROUPS and not obj.get("metadata", {}).get("name"):
            problems.append(f"{obj['kind']} without metadata.name")
    for auth_name, auth in trigger_auths.items():
        spec = auth.get("spec") or {}
        if not any(spec.get(k) for k in ("env", "secretTargetRef")):
            problems.append(f"TriggerAuthentication {auth_name}: no env or secretTargetRef")
        for entry in spec.get("env", []):
            for required in ("parameter", "name"):
                if not entry.get(required):
                    problems.append(f"TriggerAuthentication {auth_name}: env without {required}")
    for scaled in of_kind(objects, "ScaledObject"):
        name = name_of(scaled)
        spec = scaled.get("spec") or {}
        target = (spec.get("scaleTargetRef") or {}).get("name")
        if target not in deployments:
            problems.append(f"ScaledObject {name}: scaleTargetRef {target!r} is no Deployment")
            continue
        low, high = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
        if not (isinstance(low, int) and isinstance(high, int) and 0 <= low <= high):
            problems.append(f"ScaledObject {name}: replica counts {low}..{high}")
        triggers = spec.get("triggers") or []
        if not triggers:
            problems.append(f"ScaledObject {name}: no triggers")
        for trigger in triggers:
            metadata = trigger.get("metadata") or {}
            if trigger.get("type") != "rabbitmq":
                problems.append(f"ScaledObject {name}: trigger type {trigger.get('type')!r}")
                continue
            if not metadata.get("queueName"):
                problems.append(f"ScaledObject {name}: trigger without queueName")
            if metadata.get("mode") not in ("QueueLength", "MessageRate"):
                problems.append(f"ScaledObject {name}: mode {metadata.get('mode')!r}")
            if not re.fullmatch(r"\d+(\.\d+)?", str(metadata.get("value", ""))):
                problems.append(f"ScaledObject {name}: value {metadata.get('value')!r}")
            auth_ref = (trigger.get("authenticationRef") or {}).get("name")
            if auth_ref not in trigger_auths:
                problems.append(f"ScaledObject {name}: TriggerAuthentication {auth_ref!r} missing")
                continue
            # KEDA resolves an env-sourced parameter from the scaled Deployment's container.
            for entry in trigger_auths[auth_ref]["spec"].get("env", []):
                wanted = [
                    c for c in containers(deployments[target], init=False)
                    if c["name"] == entry.get("containerName", c["name"])
                ]
                if not wanted or entry["name"] not in container_env(wanted[0], objects).names:
                    problems.append(
                        f"ScaledObject {name}: {target} has no env {entry['name']} in container "
                        f"{entry.get('containerName')} for TriggerAuthentication {auth_ref}"
                    )
    for cluster in of_kind(objects, "Cluster"):
        spec = cluster.get("spec") or {}
        if not (isinstance(spec.get("instances"), int) and spec["instances"] >= 1):
            problems.append(f"Cluster {name_of(cluster)}: instances {spec.get('instances')!r}")
        if not (spec.get("storage") or {}).get("size"):
            problems.append(f"Cluster {name_of(cluster)}: no storage.size")
        initdb = (spec.get("bootstrap") or {}).get("initdb") or {}
        if not (initdb.get("database") and initdb.get("owner")):
            problems.append(f"Cluster {name_of(cluster)}: bootstrap.initdb database/owner")
    for rabbit in of_kind(objects, "RabbitmqCluster"):
        replicas = (rabbit.get("spec") or {}).get("replicas")
        # Quorum queues keep a majority through one node's loss only with an odd count.
        if not (isinstance(replicas, int) and replicas >= 1 and replicas % 2 == 1):
            problems.append(f"RabbitmqCluster {name_of(rabbit)}: replicas {replicas!r} not odd")
    return problems


def secret_reference_problems(objects: list[Obj]) -> list[str]:
    """Every secretKeyRef names a Secret of the build holding that key, or one an operator in
    the build creates (CloudNativePG ``<cluster>-app``, RabbitMQ ``<cluster>-default-user``)."""
    available: dict[str, set[str]] = {
        name_of(s): set((s.get("data") or {}) | (s.get("stringData") or {}))
        for s in of_kind(objects, "Secret")
    }
    for cluster in of_kind(objects, "Cluster"):
        available[f"{name_of(cluster)}-app"] = CNPG_APP_SECRET_KEYS
    for rabbit in of_kind(objects, "RabbitmqCluster"):
        available[f"{name_of(rabbit)}-default-user"] = RABBITMQ_USER_SECRET_KEYS
    problems = []
    for deployment in of_kind(objects, "Deployment"):
        for container in containers(deployment):
            env = container_env(container, objects)
            for variable, (secret, key) in env.from_secret.items():
                where = f"{name_of(deployment)}/{container['name']} {variable}"
                if secret not in available:
                    problems.append(f"{where}: Secret {secret} is not in the build")
                elif key not in available[secret]:
                    problems.append(f"{where}: Secret {secret} has no key {key}")
    return problems


def test_custom_resources_have_their_required_fields_and_references(rendered: list[Obj]) -> None:
    assert crd_problems(rendered) == []


def test_every_secret_reference_resolves(rendered: list[Obj]) -> None:
    assert secret_reference_problems(rendered) == []


def test_operator_overlays_use_the_operators_secrets(overlays: dict[str, list[Obj]]) -> None:
    for name in ("dev", "prod"):
        objects = overlays[name]
        (cluster,) = of_kind(objects, "Cluster")
        (rabbit,) = of_kind(objects, "RabbitmqCluster")
        for deployment in of_kind(objects, "Deployment"):
            if name_of(deployment) == "gateway":
                continue
            env = container_env(app_container(deployment), objects)
            assert env.from_secret["DATABASE_URL"] == (f"{name_of(cluster)}-app", "uri")
            assert env.from_secret["RABBITMQ_PASSWORD"][0] == f"{name_of(rabbit)}-default-user"
            # The operator's client Service carries the cluster's name.
            assert f"@{name_of(rabbit)}:5672/" in env.literal["AMQP_URL"]


def test_the_crd_checks_catch_broken_references() -> None:
    """The checks above on objects that are wrong in every way they look for."""
    broken: list[Obj] = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "feedback-consumer"},
         "spec": {"template": {"spec": {"containers": [{"name": "app", "env": [
             {"name": "X", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k"}}}]}]}}}},
        {"apiVersion": "keda.sh/v1alpha1", "kind": "TriggerAuthentication",
         "metadata": {"name": "auth"},
         "spec": {"env": [{"parameter": "host", "name": "AMQP_URL", "containerName": "app"}]}},
        {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "so"},
         "spec": {"scaleTargetRef": {"name": "feedback-consumer"}, "triggers": [
             {"type": "rabbitmq", "metadata": {"queueName": "q", "mode": "Length", "value": "x"},
              "authenticationRef": {"name": "auth"}},
             {"type": "rabbitmq", "metadata": {"queueName": "q", "mode": "QueueLength",
                                               "value": "10"},
              "authenticationRef": {"name": "missing"}}]}},
        {"apiVersion": "rabbitmq.com/v1beta1", "kind": "RabbitmqCluster",
         "metadata": {"name": "mq"}, "spec": {"replicas": 2}},
        {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg"},
         "spec": {"instances": 0}},
    ]
    problems = "\n".join(crd_problems(broken) + secret_reference_problems(broken))
    for expected in (
        "mode 'Length'",
        "value 'x'",
        "TriggerAuthentication 'missing' missing",
        "has no env AMQP_URL",
        "replicas 2 not odd",
        "Cluster pg: instances 0",
        "Cluster pg: no storage.size",
        "Secret gone is not in the build",
    ):
        assert expected in problems, f"{expected!r} not reported in:\n{problems}"


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_overlays_run_the_datastores_through_their_operators(
    overlays: dict[str, list[Obj]], overlay: str
) -> None:
    objects = overlays[overlay]
    assert len(of_kind(objects, "Cluster")) == 1
    assert len(of_kind(objects, "RabbitmqCluster")) == 1


def test_the_managed_swap_has_no_operator_objects_and_reads_urls_from_the_secret(
    overlays: dict[str, list[Obj]],
) -> None:
    objects = overlays["managed"]
    assert not of_kind(objects, "Cluster")
    assert not of_kind(objects, "RabbitmqCluster")
    for deployment in of_kind(objects, "Deployment"):
        if name_of(deployment) == "gateway":
            continue
        env = container_env(app_container(deployment), objects)
        assert env.from_secret["DATABASE_URL"][1] == "DATABASE_URL"
        assert env.from_secret["AMQP_URL"][1] == "AMQP_URL"
