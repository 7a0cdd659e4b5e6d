"""Every overlay rendered once per session, as an operator would build it on a fresh clone.

- ``dev`` builds straight from the repository (its secrets file holds only dev defaults).
- ``prod`` reads a git-ignored ``secrets.env`` and ``identity-signing-key.pem``: the build runs
  on a copy of deploy/k8s where those are written (from ``secrets.env.example``) with
  throwaway values.
- ``managed`` is the swap the README describes: the prod overlay without the operator
  components, DATABASE_URL and AMQP_URL in secrets.env (managed PostgreSQL and RabbitMQ).
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.deploy.manifests import K8S, Obj, fill_env_file, kustomize_build

MANAGED_OVERLAY = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: ehome
resources:
  - ../../base
secretGenerator:
  - name: ehome-secrets
    envs:
      - secrets.env
    files:
      - EHOME_IDENTITY_SIGNING_KEY=identity-signing-key.pem
"""


@pytest.fixture(scope="session")
def k8s_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/k8s copied without any secrets.env a developer may have locally."""
    target = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, target, ignore=shutil.ignore_patterns("secrets.env", "*.pem"))
    example = target / "overlays" / "prod" / "secrets.env.example"
    fill_env_file(example, target / "overlays" / "prod" / "secrets.env")
    for overlay in ("prod", "managed"):
        (target / "overlays" / overlay).mkdir(exist_ok=True)
        (target / "overlays" / overlay / "identity-signing-key.pem").write_text(
            "throwaway, not a key\n", encoding="utf-8"
        )
    managed = target / "overlays" / "managed"
    (managed / "kustomization.yaml").write_text(MANAGED_OVERLAY, encoding="utf-8")
    fill_env_file(
        example,
        managed / "secrets.env",
        {
            "DATABASE_URL": "postgresql://ehome:throwaway@db.example.internal:5432/ehome",
            "AMQP_URL": "amqps://ehome:throwaway@mq.example.internal:5671/",
        },
    )
    return target


@pytest.fixture(scope="session")
def overlays(k8s_copy: Path) -> dict[str, list[Obj]]:
    directories = {
        "dev": K8S / "overlays" / "dev",
        "prod": k8s_copy / "overlays" / "prod",
        "managed": k8s_copy / "overlays" / "managed",
    }
    with ThreadPoolExecutor(max_workers=len(directories)) as pool:  # each build waits on I/O
        built = {name: pool.submit(kustomize_build, path) for name, path in directories.items()}
        return {name: future.result() for name, future in built.items()}


@pytest.fixture(scope="session", params=["dev", "prod", "managed"])
def rendered(request: pytest.FixtureRequest, overlays: dict[str, list[Obj]]) -> list[Obj]:
    """Each overlay in turn (tests that hold for every overlay)."""
    return overlays[request.param]
