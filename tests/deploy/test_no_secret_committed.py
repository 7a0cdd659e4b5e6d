"""No secret is committed: production's secretGenerator reads only git-ignored files, the
committed example holds no values, the committed dev file holds only the code's own dev-only
defaults, and no manifest carries a Secret's data."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from shared.settings import DEV_SECRET_MARKER
from tests.deploy.manifests import (
    K8S,
    ROOT,
    Obj,
    container_env,
    containers,
    env_file_items,
    env_file_keys,
    of_kind,
)

PROD = K8S / "overlays" / "prod"


def committable_files() -> list[Path]:
    """Files under deploy/ that git tracks or would add (not ignored)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "deploy"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=30,
    ).stdout.split()
    return [ROOT / name for name in listed if (ROOT / name).exists()]


def generator_inputs(kustomization: Path) -> list[Path]:
    spec = yaml.safe_load(kustomization.read_text(encoding="utf-8"))
    inputs = []
    for generator in spec.get("secretGenerator", []):
        for env_file in generator.get("envs", []):
            inputs.append(kustomization.parent / env_file)
        for entry in generator.get("files", []):
            inputs.append(kustomization.parent / entry.split("=", 1)[-1])
    return inputs


def is_ignored(path: Path) -> bool:
    return subprocess.run(
        ["git", "check-ignore", "-q", str(path.relative_to(ROOT))],
        cwd=ROOT, check=False, timeout=30,
    ).returncode == 0


def test_production_secrets_come_only_from_git_ignored_files() -> None:
    inputs = generator_inputs(PROD / "kustomization.yaml")
    assert inputs, "the prod overlay generates no Secret"
    for path in inputs:
        assert is_ignored(path), f"{path.relative_to(ROOT)} would be committed"


def test_no_secret_file_is_committable() -> None:
    for path in committable_files():
        assert path.name != "secrets.env", path
        assert path.suffix not in (".pem", ".key"), path


def test_the_committed_example_has_no_values_and_every_committed_env_file_is_dev_only() -> None:
    env_files = [p for p in committable_files() if p.name.endswith((".env", ".env.example"))]
    assert env_files
    for path in env_files:
        for key, value in env_file_items(path):
            where = f"{path.relative_to(ROOT)}: {key}"
            if path.name.endswith(".example"):
                assert value == "", f"{where} has a value in an example file"
            else:
                assert DEV_SECRET_MARKER in value, f"{where} is not a {DEV_SECRET_MARKER} value"


def test_no_committed_manifest_carries_secret_data() -> None:
    for path in committable_files():
        if path.suffix not in (".yaml", ".yml"):
            continue
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict) and doc.get("kind") == "Secret":
                assert not doc.get("data"), path
                assert not doc.get("stringData"), path


def test_the_example_lists_exactly_the_keys_production_reads(
    overlays: dict[str, list[Obj]],
) -> None:
    """Every key an operator fills in is used, and every key the prod (or the managed-service
    swap) manifests read from ehome-secrets is in the example or a generator file."""
    example = set(env_file_keys(PROD / "secrets.env.example"))
    spec = yaml.safe_load((PROD / "kustomization.yaml").read_text(encoding="utf-8"))
    from_files = {
        entry.split("=", 1)[0] for g in spec["secretGenerator"] for entry in g.get("files", [])
    }
    read: set[str] = set()
    for overlay in ("prod", "managed"):
        generated = {s["metadata"]["name"] for s in of_kind(overlays[overlay], "Secret")}
        for deployment in of_kind(overlays[overlay], "Deployment"):
            for container in containers(deployment):
                env = container_env(container, overlays[overlay])
                read |= {key for secret, key in env.from_secret.values() if secret in generated}
    assert read - example - from_files == set(), "read but not in secrets.env.example"
    assert example - read == set(), "in secrets.env.example but never read"
