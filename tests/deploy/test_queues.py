"""KEDA scales consumers on the queues the code really declares.

The queue names are computed from ``services/<svc>/handlers.py:SUBSCRIPTIONS`` (and the
partner app's ``gateway/partner/handlers.py``) at test time, the way the apps compute them
(``ConsumerRunner(...).specs`` + ``Topology``), under the prefix the manifests configure. A
subscription added without its consumer Deployment, or a ScaledObject left watching a queue
nobody declares, fails here with what to do about it.
"""

from __future__ import annotations

from tests.deploy.manifests import (
    DeclaredQueue,
    Obj,
    app_container,
    by_name,
    container_env,
    declared_queues,
    name_of,
    of_kind,
    pod_labels,
)


def amqp_prefix(objects: list[Obj]) -> str:
    prefixes = {
        cm["data"]["EHOME_AMQP_PREFIX"]
        for cm in of_kind(objects, "ConfigMap")
        if "EHOME_AMQP_PREFIX" in cm.get("data", {})
    }
    assert len(prefixes) == 1, f"EHOME_AMQP_PREFIX configured as {prefixes}"
    return prefixes.pop()


def queue_problems(objects: list[Obj], declared: list[DeclaredQueue]) -> list[str]:
    problems: list[str] = []
    deployments = by_name(objects, "Deployment")
    declared_by_name = {q.name: q for q in declared}
    watched: dict[str, str] = {}  # queue → the Deployment scaled on it
    for scaled in of_kind(objects, "ScaledObject"):
        target = scaled["spec"]["scaleTargetRef"]["name"]
        target_service = pod_labels(deployments[target])["app.kubernetes.io/name"]
        for trigger in scaled["spec"]["triggers"]:
            queue = trigger["metadata"]["queueName"]
            if queue not in declared_by_name:
                problems.append(
                    f"ScaledObject {name_of(scaled)} watches {queue}, which no service declares "
                    f"(declared: {', '.join(sorted(declared_by_name)) or 'none'})"
                )
            elif declared_by_name[queue].service != target_service:
                problems.append(
                    f"ScaledObject {name_of(scaled)} scales {target} ({target_service}) on "
                    f"{queue}, which {declared_by_name[queue].service} consumes"
                )
            watched[queue] = target
    consumer_services = {
        pod_labels(d)["app.kubernetes.io/name"] for d in deployments.values()
        if pod_labels(d)["app.kubernetes.io/component"] == "consumer"
    }
    for queue in declared:
        if queue.name in watched:
            continue
        where = f"queue {queue.name} ({queue.declared_in} SUBSCRIPTIONS)"
        if queue.service in consumer_services:
            todo = (f"add a trigger for it to deploy/k8s/base/consumers/{queue.service}/"
                    "scaledobject.yaml")
        else:
            todo = (f"add deploy/k8s/base/consumers/{queue.service}/ and list it in "
                    "deploy/k8s/base/consumers/kustomization.yaml")
        problems.append(f"{where} has no ScaledObject: {todo} (README \"Consumers\")")
    consuming_services = {q.service for q in declared}
    for deployment in deployments.values():
        labels = pod_labels(deployment)
        service, role = labels["app.kubernetes.io/name"], labels["app.kubernetes.io/component"]
        env = container_env(app_container(deployment), objects).literal
        run_consumers = env.get("EHOME_RUN_CONSUMERS", "true").lower()
        if role == "consumer":
            if run_consumers != "true":
                problems.append(f"{name_of(deployment)} does not run its consumers")
            if service not in consuming_services:
                problems.append(f"{name_of(deployment)}: {service} declares no queue")
        elif role == "api" and service in consuming_services and run_consumers != "false":
            # Consumers in the API pods would be scaled by CPU, beside the KEDA-scaled ones.
            problems.append(
                f"{name_of(deployment)} still consumes; its queues belong to {service}-consumer "
                "(set EHOME_RUN_CONSUMERS=false)"
            )
    return problems


def test_every_declared_queue_has_a_scaled_consumer_and_every_scaled_queue_is_declared(
    rendered: list[Obj],
) -> None:
    declared = declared_queues(amqp_prefix(rendered))
    problems = queue_problems(rendered, declared)
    assert not problems, "\n".join(problems)


def test_consumer_pods_never_scale_on_a_parking_queue(rendered: list[Obj]) -> None:
    """Parked messages wait for a person (README "Reading the parking queue"); more replicas
    would not help them."""
    parking = {q.parking for q in declared_queues(amqp_prefix(rendered))}
    for scaled in of_kind(rendered, "ScaledObject"):
        for trigger in scaled["spec"]["triggers"]:
            assert trigger["metadata"]["queueName"] not in parking


def test_the_queue_check_names_what_is_missing_and_what_is_stale(rendered: list[Obj]) -> None:
    prefix = amqp_prefix(rendered)
    declared = declared_queues(prefix)
    newcomer = DeclaredQueue(
        "relief", f"{prefix}.relief.notices", f"{prefix}.relief.notices.parking"
    )
    stale_objects = [dict(o) for o in rendered]
    scaled = [o for o in stale_objects if o["kind"] == "ScaledObject"]
    assert scaled, "no ScaledObject to check"
    renamed = dict(scaled[0])
    renamed["spec"] = dict(renamed["spec"])
    renamed["spec"]["triggers"] = [
        {**renamed["spec"]["triggers"][0],
         "metadata": {**renamed["spec"]["triggers"][0]["metadata"],
                      "queueName": f"{prefix}.nobody.declares"}}
    ]
    stale_objects[stale_objects.index(scaled[0])] = renamed
    problems = "\n".join(queue_problems(stale_objects, [*declared, newcomer]))
    assert f"queue {prefix}.relief.notices (services/relief/handlers.py" in problems
    assert "add deploy/k8s/base/consumers/relief/" in problems
    assert f"watches {prefix}.nobody.declares, which no service declares" in problems
    # A new purpose of a service that already has its consumer Deployment.
    first = declared[0]
    extra = DeclaredQueue(first.service, f"{prefix}.{first.service}.extra", "unused")
    problems = "\n".join(queue_problems(rendered, [*declared, extra]))
    assert f"add a trigger for it to deploy/k8s/base/consumers/{first.service}/" in problems
