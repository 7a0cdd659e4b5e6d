"""The Dockerfile: hadolint-clean, multi-stage, non-root, exec-form, one uvicorn per
container, building any service by build argument; the build context is an allow-list."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import subprocess
import tomllib

from tests.deploy.manifests import (
    ROOT,
    SERVE_COMMAND,
    SERVICES,
    Obj,
    app_container,
    by_name,
    of_kind,
    pod_labels,
    pod_spec,
    tool,
    uvicorn_option,
    uvicorn_target,
)

DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined, current = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("#") and not current:
            continue
        current += line.rstrip("\\").strip() + " " if line.endswith("\\") else line.strip()
        if not line.endswith("\\"):
            if current.strip():
                keyword, _, rest = current.strip().partition(" ")
                joined.append((keyword.upper(), rest.strip()))
            current = ""
    return joined


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (k, _) in enumerate(steps) if k == "FROM")
    return steps[last_from:]


def test_hadolint_passes_on_the_dockerfile() -> None:
    result = subprocess.run(
        [tool("hadolint"), str(DOCKERFILE)], capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_is_multi_stage_and_runs_one_uvicorn_as_a_non_root_user() -> None:
    steps = instructions()
    assert sum(1 for k, _ in steps if k == "FROM") >= 2, "not multi-stage"
    runtime = final_stage()
    users = [a for k, a in runtime if k == "USER"]
    assert users, "the runtime stage never leaves root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), f"USER {users[-1]} must be numeric (runAsNonRoot checks it)"
    assert int(uid) > 0, f"USER {users[-1]} is root"
    (cmd,) = [a for k, a in runtime if k == "CMD"]
    assert json.loads(cmd) == SERVE_COMMAND, "CMD must be exec form, running uvicorn"
    assert not [a for k, a in runtime if k == "ENTRYPOINT"], "no shell wrapper in front"
    env = " ".join(a for k, a in runtime if k == "ENV")
    assert "UVICORN_WORKERS" not in env, "one process per container; replicas scale"


def test_the_images_uid_and_port_are_the_ones_the_pods_expect(
    overlays: dict[str, list[Obj]],
) -> None:
    runtime = final_stage()
    uid = int([a for k, a in runtime if k == "USER"][-1].split(":")[0])
    exposed = {int(p) for k, a in runtime if k == "EXPOSE" for p in a.split()}
    for deployment in of_kind(overlays["prod"], "Deployment"):
        assert pod_spec(deployment)["securityContext"]["runAsUser"] == uid
        assert int(uvicorn_option(app_container(deployment)["args"], "--port") or 0) in exposed


def test_the_build_argument_selects_each_service_the_manifests_run(
    overlays: dict[str, list[Obj]],
) -> None:
    args = {a.split("=", 1)[0]: a.split("=", 1)[1] if "=" in a else None
            for k, a in final_stage() if k == "ARG"}
    template = args["APP"]
    assert template is not None
    assert "${SERVICE}" in template
    deployments = by_name(overlays["prod"], "Deployment")
    for service in SERVICES:
        target = template.replace("${SERVICE}", service)
        module, _, factory = target.partition(":")
        assert callable(getattr(importlib.import_module(module), factory)), target
        api = [d for d in deployments.values()
               if pod_labels(d)["app.kubernetes.io/name"] == service]
        assert api, service
        assert all(uvicorn_target(app_container(d)) == target for d in api), service
    # The gateway's and the partner app's factories are not under services/: their builds pass
    # APP explicitly, as the Dockerfile's header shows.
    dockerfile = DOCKERFILE.read_text(encoding="utf-8")
    others = {uvicorn_target(app_container(d)) for d in deployments.values()} - {
        template.replace("${SERVICE}", service) for service in SERVICES
    }
    assert {"gateway.distributed:create_gateway_from_env", "gateway.partner.app:create_app"} <= (
        others
    )
    for target in sorted(others):
        assert f"--build-arg APP={target}" in dockerfile, f"the Dockerfile never builds {target}"


def test_the_build_context_is_an_allow_list_of_what_the_dockerfile_copies() -> None:
    patterns = [
        line.strip() for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "start from nothing, then allow"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    for keyword, arguments in instructions():
        if keyword == "COPY" and "--from=" not in arguments:
            for source in arguments.split()[:-1]:
                assert source.rstrip("/") in allowed, f"COPY {source} is excluded by .dockerignore"
    for private in ("tests", ".git", ".venv", ".data", "deploy/k8s", "bench"):
        assert private not in allowed


def test_the_image_installs_the_runtime_dependencies_without_the_embedded_database() -> None:
    spec = importlib.util.spec_from_file_location(
        "image_requirements", ROOT / "deploy" / "docker" / "requirements.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    dependencies = declared["project"]["dependencies"]
    installed = module.image_requirements(ROOT / "pyproject.toml")
    assert [r for r in dependencies if r not in installed] == [
        r for r in dependencies if re.match(r"embedded[-_]postgres", r)
    ]
    assert installed
