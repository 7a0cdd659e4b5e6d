"""The manifests agree with each other and with the code: selectors match labels, every
Deployment has its Service, PDB and NetworkPolicy, probes hit routes the app serves on the
port it listens on, every env name is a setting the code reads, and production's
configuration passes the code's own settings validation, with no setting left at a value that
only works on a developer's machine."""

from __future__ import annotations

import importlib
import os
import re
from functools import cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.deploy.manifests import (
    Obj,
    answers,
    app_container,
    by_name,
    container_env,
    containers,
    directly_read_env_names,
    interpolated_names,
    is_shared_config_map,
    name_of,
    of_kind,
    pod_labels,
    pod_spec,
    selector_matches,
    settings_class_for,
    settings_env_names,
    shadowed_env_names,
    uvicorn_option,
    uvicorn_target,
)

OPERATOR_POD_LABELS = {"cnpg.io/cluster", "app.kubernetes.io/name"}


@cache
def build_app(target: str) -> Any:
    """The app a container runs, built by the factory its command names."""
    module, _, factory = target.partition(":")
    return getattr(importlib.import_module(module), factory)()


@cache
def serves(target: str, path: str) -> bool:
    return answers(build_app(target), path)


def deployments_selected(objects: list[Obj], selector: Obj) -> list[str]:
    return [
        name_of(d) for d in of_kind(objects, "Deployment")
        if selector_matches(selector, pod_labels(d))
    ]


# -- selectors and companions ------------------------------------------------------------------


def test_each_deployment_selector_matches_its_own_pods(rendered: list[Obj]) -> None:
    for deployment in of_kind(rendered, "Deployment"):
        assert selector_matches(deployment["spec"]["selector"], pod_labels(deployment)), (
            name_of(deployment)
        )


def test_each_service_and_pdb_selects_exactly_one_deployment(rendered: list[Obj]) -> None:
    for kind in ("Service", "PodDisruptionBudget"):
        for obj in of_kind(rendered, kind):
            selector = obj["spec"]["selector"]
            if kind == "Service":
                selector = {"matchLabels": selector}
            selected = deployments_selected(rendered, selector)
            assert len(selected) == 1, f"{kind} {name_of(obj)} selects {selected}"


def test_every_deployment_has_its_service_pdb_and_network_policy(rendered: list[Obj]) -> None:
    services = of_kind(rendered, "Service")
    pdbs = of_kind(rendered, "PodDisruptionBudget")
    policies = [
        p for p in of_kind(rendered, "NetworkPolicy") if p["spec"]["podSelector"]  # not {}
    ]
    missing = []
    for deployment in of_kind(rendered, "Deployment"):
        labels = pod_labels(deployment)
        ports = {p["name"] for p in app_container(deployment).get("ports", [])}
        own_services = [
            s for s in services
            if selector_matches({"matchLabels": s["spec"]["selector"]}, labels)
            and all(p["targetPort"] in ports for p in s["spec"]["ports"])
        ]
        own_pdbs = [p for p in pdbs if selector_matches(p["spec"]["selector"], labels)]
        own_policies = [
            p for p in policies
            if selector_matches(p["spec"]["podSelector"], labels)
            and "Ingress" in p["spec"]["policyTypes"]
        ]
        for what, found in (("Service", own_services), ("PDB", own_pdbs),
                            ("NetworkPolicy", own_policies)):
            if not found:
                missing.append(f"{name_of(deployment)} has no {what}")
    assert not missing, "\n".join(missing)


def test_the_namespace_denies_by_default(rendered: list[Obj]) -> None:
    default_deny = [
        p for p in of_kind(rendered, "NetworkPolicy")
        if p["spec"]["podSelector"] == {} and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert default_deny, "no default-deny NetworkPolicy"
    assert set(default_deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}


def test_every_network_policy_selects_platform_or_operator_pods(rendered: list[Obj]) -> None:
    operator_names = {name_of(o) for o in of_kind(rendered, "Cluster")} | {
        name_of(o) for o in of_kind(rendered, "RabbitmqCluster")
    }
    for policy in of_kind(rendered, "NetworkPolicy"):
        selector = policy["spec"]["podSelector"]
        if selector == {}:
            continue
        match_labels = selector.get("matchLabels") or {}
        if any(match_labels.get(k) in operator_names for k in OPERATOR_POD_LABELS):
            continue
        assert deployments_selected(rendered, selector), f"{name_of(policy)} selects no pods"


def test_autoscalers_and_ingress_point_at_objects_that_exist(rendered: list[Obj]) -> None:
    deployments = by_name(rendered, "Deployment")
    services = by_name(rendered, "Service")
    for kind in ("HorizontalPodAutoscaler", "ScaledObject"):
        for obj in of_kind(rendered, kind):
            assert obj["spec"]["scaleTargetRef"]["name"] in deployments, name_of(obj)
    for ingress in of_kind(rendered, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["name"] in services
                port_names = {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
                assert backend["port"]["name"] in port_names


def test_no_deployment_has_both_an_hpa_and_a_scaled_object(rendered: list[Obj]) -> None:
    hpa_targets = [h["spec"]["scaleTargetRef"]["name"]
                   for h in of_kind(rendered, "HorizontalPodAutoscaler")]
    keda_targets = [s["spec"]["scaleTargetRef"]["name"] for s in of_kind(rendered, "ScaledObject")]
    assert len(hpa_targets) == len(set(hpa_targets))
    assert len(keda_targets) == len(set(keda_targets))
    assert not set(hpa_targets) & set(keda_targets)


def test_autoscaled_deployments_leave_the_replica_count_to_the_autoscaler(
    rendered: list[Obj],
) -> None:
    scaled = {o["spec"]["scaleTargetRef"]["name"]
              for o in of_kind(rendered, "HorizontalPodAutoscaler") + of_kind(rendered,
                                                                              "ScaledObject")}
    for deployment in of_kind(rendered, "Deployment"):
        assert name_of(deployment) in scaled, f"{name_of(deployment)} is not autoscaled"
        assert "replicas" not in deployment["spec"], name_of(deployment)


def test_every_http_service_has_an_hpa(rendered: list[Obj]) -> None:
    hpa_targets = {h["spec"]["scaleTargetRef"]["name"]
                   for h in of_kind(rendered, "HorizontalPodAutoscaler")}
    for deployment in of_kind(rendered, "Deployment"):
        if pod_labels(deployment)["app.kubernetes.io/component"] in ("api", "gateway"):
            assert name_of(deployment) in hpa_targets, name_of(deployment)


# -- probes, ports and routes ------------------------------------------------------------------


def test_probes_hit_routes_the_app_serves_on_the_port_it_listens_on(rendered: list[Obj]) -> None:
    for deployment in of_kind(rendered, "Deployment"):
        app = app_container(deployment)
        listen_port = uvicorn_option(app["args"], "--port")
        ports = {p["name"]: p["containerPort"] for p in app["ports"]}
        assert str(ports["http"]) == listen_port, name_of(deployment)
        assert not serves(uvicorn_target(app), "/no-such-route"), "the route check cannot fail"
        expected = {"startupProbe": "/healthz", "readinessProbe": "/readyz",
                    "livenessProbe": "/healthz"}
        for probe_name, path in expected.items():
            probe = app[probe_name]["httpGet"]
            assert probe["path"] == path, f"{name_of(deployment)} {probe_name}"
            assert serves(uvicorn_target(app), path), f"{name_of(deployment)}: app has no {path}"
            assert probe["port"] in ports or probe["port"] == int(listen_port or 0)


def test_services_target_the_port_the_pods_listen_on(rendered: list[Obj]) -> None:
    for service in of_kind(rendered, "Service"):
        (deployment_name,) = deployments_selected(
            rendered, {"matchLabels": service["spec"]["selector"]}
        )
        app = app_container(by_name(rendered, "Deployment")[deployment_name])
        port_names = {p["name"] for p in app["ports"]}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names, name_of(service)


def test_service_urls_in_the_configuration_name_services_and_routes_that_exist(
    rendered: list[Obj],
) -> None:
    """EHOME_JWKS_URL reaches identity's JWKS route; the gateway's upstreams are Services."""
    services = by_name(rendered, "Service")
    deployments = by_name(rendered, "Deployment")
    gateway_env = container_env(app_container(deployments["gateway"]), rendered)
    import json

    urls = list(json.loads(gateway_env.literal["EHOME_GATEWAY_UPSTREAM_URLS"]).values())
    jwks_url = gateway_env.literal["EHOME_JWKS_URL"]
    for url in [*urls, jwks_url]:
        parts = urlsplit(url)
        assert parts.hostname in services, f"{url}: no Service {parts.hostname}"
        service_ports = {p["port"] for p in services[parts.hostname]["spec"]["ports"]}
        assert parts.port in service_ports, url
    jwks_path = urlsplit(jwks_url).path
    identity = app_container(deployments["identity"])
    assert serves(uvicorn_target(identity), jwks_path), f"identity does not serve {jwks_path}"


# -- environment and settings ------------------------------------------------------------------


def test_every_env_name_in_the_manifests_is_a_setting_the_code_reads(rendered: list[Obj]) -> None:
    unknown = []
    for deployment in of_kind(rendered, "Deployment"):
        for container in containers(deployment):
            env = container_env(container, rendered)
            settings_cls = settings_class_for(container)
            known = settings_env_names(settings_cls) | directly_read_env_names(container)
            # A platform-wide value (shared ConfigMap) an app replaces with its own setting.
            known |= {
                name for name in shadowed_env_names(settings_cls)
                if is_shared_config_map(env.from_config_map.get(name, ""))
            }
            # A value may be composed from other entries ($(NAME)); those inputs are not
            # settings, but each must be defined before the value that uses it.
            inputs: set[str] = set()
            for name in env.order:
                value = env.literal.get(name, "")
                for ref in interpolated_names(value):
                    assert ref in env.order[: env.order.index(name)], (
                        f"{name_of(deployment)}/{container['name']}: {name} uses $({ref}) "
                        "before it is defined (Kubernetes would not expand it)"
                    )
                    inputs.add(ref)
            for name in sorted(env.names - known - inputs):
                unknown.append(
                    f"{name_of(deployment)}/{container['name']}: {name} is not read by "
                    f"{settings_cls.__module__}.{settings_cls.__name__}"
                )
    assert not unknown, "\n".join(unknown)


def test_the_env_name_check_knows_prefixed_and_aliased_settings() -> None:
    from services.booking.settings import Settings as BookingSettings
    from shared.settings import ServiceSettings

    names = settings_env_names(BookingSettings)
    assert {"DATABASE_URL", "AMQP_URL", "EHOME_ENV", "EHOME_DB_POOL_SIZE",
            "EHOME_BOOKING_PICKUP_CODE_SECRET"} <= names
    assert "EHOME_BOOKING_DATABASE_URL" not in names
    assert "EHOME_PICKUP_CODE_SECRET" not in names
    assert "EHOME_BOOKING_PICKUP_CODE_SECRET" not in settings_env_names(ServiceSettings)


def _expanded(env: dict[str, str], order: list[str]) -> dict[str, str]:
    values = dict(env)
    for name in order:
        if name in values:
            values[name] = re.sub(
                r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: values.get(m.group(1), ""),
                values[name],
            )
    return values


def test_production_configuration_passes_the_services_own_settings_validation(
    overlays: dict[str, list[Obj]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every container of the prod overlay, given its rendered environment (secrets filled
    with throwaway values), builds its settings with EHOME_ENV=prod: a secret a service
    requires in prod and the manifests forget would fail here, not at the first rollout."""
    objects = overlays["prod"]
    local_defaults: list[str] = []
    for deployment in of_kind(objects, "Deployment"):
        for container in containers(deployment):
            env = container_env(container, objects)
            values = dict(env.literal)
            for name, (_, key) in env.from_secret.items():
                values[name] = f"throwaway-{key}"
            values = _expanded(values, env.order)
            for name in list(os.environ):
                if name.startswith("EHOME_") or name in ("DATABASE_URL", "AMQP_URL"):
                    monkeypatch.delenv(name)
            for name, value in values.items():
                monkeypatch.setenv(name, value)
            settings = settings_class_for(container)()
            where = f"{name_of(deployment)}/{container['name']}"
            assert settings.environment == "prod", where  # type: ignore[attr-defined]
            mounts = [m["mountPath"] for m in container.get("volumeMounts", [])]
            for field_name, value in settings.model_dump().items():
                # A default meant for one machine would reach nothing inside a pod.
                if isinstance(value, str) and re.search(r"//(127\.0\.0\.1|localhost)\b", value):
                    local_defaults.append(f"{where}: {field_name}={value}")
                # The root filesystem is read-only: a directory setting needs a volume.
                on_volume = any(
                    str(value).startswith(m.rstrip("/") + "/") or value == m for m in mounts
                )
                if field_name.endswith("_dir") and not on_volume:
                    local_defaults.append(f"{where}: {field_name}={value} is not on a volume")
    assert not local_defaults, "\n".join(local_defaults)


# -- pod hardening and shutdown ----------------------------------------------------------------


def test_every_container_is_restricted_and_has_requests_and_limits(rendered: list[Obj]) -> None:
    for deployment in of_kind(rendered, "Deployment"):
        spec = pod_spec(deployment)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert spec["automountServiceAccountToken"] is False
        assert spec["serviceAccountName"] in by_name(rendered, "ServiceAccount")
        for container in containers(deployment):
            where = f"{name_of(deployment)}/{container['name']}"
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][bound]), where


def test_grace_period_outlasts_the_pre_stop_sleep_the_drain_and_the_shutdown(
    rendered: list[Obj],
) -> None:
    for deployment in of_kind(rendered, "Deployment"):
        spec = pod_spec(deployment)
        app = app_container(deployment)
        pre_stop = app["lifecycle"]["preStop"]["sleep"]["seconds"]
        drain = int(uvicorn_option(app["args"], "--timeout-graceful-shutdown") or 0)
        assert drain > 0, f"{name_of(deployment)}: uvicorn drains without a time limit"
        env = container_env(app, rendered)
        # After the drain the lifespan stops consumers and the relay, whose last publish may
        # wait for its confirm up to the publish timeout.
        publish = float(env.literal.get("EHOME_PUBLISH_TIMEOUT_SECONDS", 5))
        assert spec["terminationGracePeriodSeconds"] > pre_stop + drain + publish, (
            name_of(deployment)
        )


def test_migrations_run_before_the_app_and_never_inside_it(rendered: list[Obj]) -> None:
    for deployment in of_kind(rendered, "Deployment"):
        component = pod_labels(deployment)["app.kubernetes.io/component"]
        inits = pod_spec(deployment).get("initContainers", [])
        if component == "gateway":
            assert not inits
            continue
        service = pod_labels(deployment)["app.kubernetes.io/name"]
        (migrate,) = [c for c in inits if c["name"] == "migrate"]
        assert migrate["command"] == ["python", "-m", "shared.db.migrate", service]
        assert migrate["image"] == app_container(deployment)["image"]


# -- ingress -----------------------------------------------------------------------------------


def _nginx_size_bytes(size: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", size).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit.lower()]


def test_only_the_gateway_is_exposed_with_tls_and_its_own_body_limit(rendered: list[Obj]) -> None:
    from gateway.settings import GatewaySettings

    (ingress,) = of_kind(rendered, "Ingress")
    backends = {
        path["backend"]["service"]["name"]
        for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]
    }
    assert backends == {"gateway"}
    annotations = ingress["metadata"]["annotations"]
    assert annotations.get("cert-manager.io/cluster-issuer")
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    tls_hosts = {h for tls in ingress["spec"]["tls"] for h in tls["hosts"]}
    assert hosts <= tls_hosts
    assert all(t["secretName"] for t in ingress["spec"]["tls"])
    gateway_env = container_env(app_container(by_name(rendered, "Deployment")["gateway"]), rendered)
    # The edge admits the largest body the gateway accepts: an upload (videos).
    configured = int(
        gateway_env.literal.get("EHOME_GATEWAY_UPLOAD_MAX_BODY_BYTES")
        or GatewaySettings.model_fields["upload_max_body_bytes"].default
    )
    limit = _nginx_size_bytes(annotations["nginx.ingress.kubernetes.io/proxy-body-size"])
    assert limit == configured, f"ingress allows {limit} bytes, the gateway {configured}"
    assert gateway_env.literal["EHOME_PORT"] == uvicorn_option(
        app_container(by_name(rendered, "Deployment")["gateway"])["args"], "--port"
    )
    for service in of_kind(rendered, "Service"):
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", name_of(service)


# -- capacity ----------------------------------------------------------------------------------


def test_the_database_accepts_every_connection_the_autoscalers_can_open(
    overlays: dict[str, list[Obj]],
) -> None:
    """Each pod opens up to pool + overflow connections plus one for the outbox relay's
    LISTEN; at every autoscaler's maximum that must fit under max_connections with a reserve
    for the operator, replication and a human with psql."""
    reserve = 20
    for overlay in ("dev", "prod"):
        objects = overlays[overlay]
        (cluster,) = of_kind(objects, "Cluster")
        limit = int(cluster["spec"]["postgresql"]["parameters"]["max_connections"])
        maximum = {o["spec"]["scaleTargetRef"]["name"]: o["spec"]["maxReplicas"]
                   for o in of_kind(objects, "HorizontalPodAutoscaler")}
        maximum |= {o["spec"]["scaleTargetRef"]["name"]: o["spec"]["maxReplicaCount"]
                    for o in of_kind(objects, "ScaledObject")}
        needed = 0
        for deployment in of_kind(objects, "Deployment"):
            if "DATABASE_URL" not in container_env(app_container(deployment), objects).names:
                continue
            env = container_env(app_container(deployment), objects).literal
            per_pod = int(env["EHOME_DB_POOL_SIZE"]) + int(env["EHOME_DB_MAX_OVERFLOW"]) + 1
            needed += maximum[name_of(deployment)] * per_pod
        assert needed + reserve <= limit, (
            f"{overlay}: up to {needed} connections (+{reserve} reserve) > max_connections {limit}"
        )


# -- the partner app (/open/v1) ----------------------------------------------------------------

PARTNER_TARGET = "gateway.partner.app:create_app"
PARTNER_URL_ENV = "EHOME_GATEWAY_PARTNER_URL"  # where the gateway forwards /open/v1
# Where the cluster's own nodes, pods and Services live (and cloud metadata endpoints): a
# webhook must never reach them, whatever a partner's callback host resolves to.
PRIVATE_RANGES = (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7", "fe80::/10",
)


def partner_deployments(objects: list[Obj]) -> list[Obj]:
    found = [d for d in of_kind(objects, "Deployment")
             if uvicorn_target(app_container(d)) == PARTNER_TARGET]
    assert found, "no Deployment runs the partner app"
    return found


def policies_for(objects: list[Obj], deployment: Obj, direction: str) -> list[Obj]:
    return [
        p for p in of_kind(objects, "NetworkPolicy")
        if direction in p["spec"]["policyTypes"]
        and selector_matches(p["spec"]["podSelector"], pod_labels(deployment))
    ]


def covers(outer: IPv4Network | IPv6Network, inner: IPv4Network | IPv6Network) -> bool:
    return outer.version == inner.version and inner.subnet_of(outer)  # type: ignore[arg-type]


def rule_ports(rule: Obj) -> set[int | str]:
    return {p["port"] for p in rule.get("ports", [])}


def test_the_gateway_forwards_the_partner_api_to_the_partner_app(rendered: list[Obj]) -> None:
    services = by_name(rendered, "Service")
    deployments = by_name(rendered, "Deployment")
    gateway = app_container(deployments["gateway"])
    read = settings_env_names(settings_class_for(gateway)) | directly_read_env_names(gateway)
    assert PARTNER_URL_ENV in read, f"the gateway's code no longer reads {PARTNER_URL_ENV}"
    gateway_env = container_env(gateway, rendered)
    url = gateway_env.literal.get(PARTNER_URL_ENV)
    assert url, f"the gateway has no {PARTNER_URL_ENV}: /open/v1 would answer 404"
    parts = urlsplit(url)
    assert parts.hostname in services, f"{url}: no Service {parts.hostname}"
    assert parts.port in {p["port"] for p in services[parts.hostname]["spec"]["ports"]}, url
    (target,) = deployments_selected(
        rendered, {"matchLabels": services[parts.hostname]["spec"]["selector"]}
    )
    app = app_container(deployments[target])
    assert uvicorn_target(app) == PARTNER_TARGET, f"{url} reaches {target}"
    assert serves(PARTNER_TARGET, "/open/v1/events"), "the partner app has no /open/v1/events"


def test_in_cluster_base_urls_name_the_service_of_the_app_they_call(rendered: list[Obj]) -> None:
    """EHOME_PARTNER_IDENTITY_BASE_URL=http://identity:8000 reaches identity's API pods, and so
    on for every EHOME_<APP>_<TARGET>_BASE_URL that names a Service of the namespace."""
    services = by_name(rendered, "Service")
    deployments = by_name(rendered, "Deployment")
    checked = []
    for deployment in of_kind(rendered, "Deployment"):
        for container in containers(deployment, init=False):
            for name, value in container_env(container, rendered).literal.items():
                match = re.fullmatch(r"EHOME_[A-Z]+_([A-Z]+)_BASE_URL", name)
                host = urlsplit(value).hostname or ""
                if not match or "." in host:  # an external API, by its public name
                    continue
                where = f"{name_of(deployment)}: {name}={value}"
                assert host in services, f"{where}: no Service {host}"
                ports = {p["port"] for p in services[host]["spec"]["ports"]}
                assert urlsplit(value).port in ports, where
                (target,) = deployments_selected(
                    rendered, {"matchLabels": services[host]["spec"]["selector"]}
                )
                labels = pod_labels(deployments[target])
                assert labels["app.kubernetes.io/name"] == match.group(1).lower(), where
                assert labels["app.kubernetes.io/component"] == "api", where
                checked.append(where)
    partner_urls = [w for w in checked if "EHOME_PARTNER_" in w]
    assert len(partner_urls) >= 2 * len(partner_deployments(rendered)), checked


def test_only_the_gateway_and_prometheus_reach_the_partner_api(rendered: list[Obj]) -> None:
    deployments = by_name(rendered, "Deployment")
    for deployment in partner_deployments(rendered):
        for policy in policies_for(rendered, deployment, "Ingress"):
            for rule in policy["spec"].get("ingress", []):
                peers = rule.get("from")
                assert peers, f"{name_of(policy)}: an ingress rule without `from` admits anyone"
                for peer in peers:
                    if "podSelector" in peer and "namespaceSelector" not in peer:
                        selected = deployments_selected(rendered, peer["podSelector"])
                        assert set(selected) <= {"gateway"}, f"{name_of(policy)}: {selected}"
                    else:
                        namespace = peer["namespaceSelector"]["matchLabels"]
                        assert namespace == {"kubernetes.io/metadata.name": "monitoring"}, peer
    # ... and the gateway may reach it.
    (api,) = [d for d in partner_deployments(rendered)
              if pod_labels(d)["app.kubernetes.io/component"] == "api"]
    gateway_reaches = [
        rule for policy in policies_for(rendered, deployments["gateway"], "Egress")
        for rule in policy["spec"].get("egress", [])
        for peer in rule.get("to", [])
        if "podSelector" in peer and name_of(api) in deployments_selected(rendered,
                                                                           peer["podSelector"])
    ]
    assert gateway_reaches, "the gateway's NetworkPolicy does not let it reach the partner API"


def test_webhook_senders_reach_the_internet_but_never_the_clusters_private_ranges(
    rendered: list[Obj],
) -> None:
    """Webhooks go to partners' hosts outside the cluster (80/443, public addresses only);
    in-cluster the partner pods reach identity and events, nothing else. The API pods, which
    parse partners' requests, send no webhooks and get no internet at all."""
    senders = 0
    for deployment in partner_deployments(rendered):
        env = container_env(app_container(deployment), rendered).literal
        sends_webhooks = env.get("EHOME_RUN_WORKERS", "true").lower() == "true"
        senders += sends_webhooks
        rules = [r for p in policies_for(rendered, deployment, "Egress")
                 for r in p["spec"].get("egress", [])]
        web = [r for r in rules if rule_ports(r) & {80, 443}]
        where = name_of(deployment)
        if sends_webhooks:
            assert {80, 443} <= {p for r in web for p in rule_ports(r)}, where
        else:
            assert not web, f"{where} sends no webhooks but may reach the web"
        for rule in web:
            assert rule.get("to"), f"{where}: a 80/443 rule without `to` allows the cluster too"
            for peer in rule["to"]:
                assert set(peer) == {"ipBlock"}, f"{where}: 80/443 to in-cluster pods {peer}"
                network = ip_network(peer["ipBlock"]["cidr"])
                excluded = [ip_network(e) for e in peer["ipBlock"].get("except", [])]
                for private in map(ip_network, PRIVATE_RANGES):
                    if not covers(network, private):
                        continue
                    assert any(covers(e, private) for e in excluded), (
                        f"{where}: webhooks may reach {private}"
                    )
        for rule in rules:
            for peer in rule.get("to", []):
                if "podSelector" in peer and "namespaceSelector" not in peer:
                    selected = set(deployments_selected(rendered, peer["podSelector"]))
                    assert selected <= {"identity", "events"}, f"{where} may reach {selected}"
    assert senders == 1, "exactly one partner Deployment runs the webhook sender"
