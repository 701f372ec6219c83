#!/usr/bin/env python3
"""Checks the manifests as CI does: renders every overlay with
`kubectl kustomize`, validates the result against the Kubernetes schemas
offline (kubernetes-validate, strict), and runs `bigmember config check`
with each container's environment as the cluster would give it (the
ConfigMaps it names, stand-ins for the Secrets), so a key the binary does
not know or a setting that cannot work fails here, not at rollout.

usage: check.py BIGMEMBER_BINARY KUBERNETES_VALIDATE
"""

import os
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
OVERLAYS = ["dev", "production"]
# Stand-ins for the Secrets' values, by key (never real ones).
SECRET_STAND_INS = {
    "database-url": "postgres://bigmember@db.invalid:5432/bigmember",
    "platform-secret": "stand-in-platform-secret-0123456789abcdef",
    "jwt-secret": "stand-in-development-secret-0123456789abc",
}


def containers(doc):
    spec = doc.get("spec", {})
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec.get("template", {}).get("spec", {}).get("containers", [])


def main(binary, validate):
    failures = 0
    for overlay in OVERLAYS:
        rendered = subprocess.run(
            ["kubectl", "kustomize", os.path.join(HERE, "overlays", overlay)],
            check=True, capture_output=True, text=True,
        ).stdout
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(rendered)
        checked = subprocess.run([validate, "--strict", "--quiet", f.name])
        os.unlink(f.name)
        if checked.returncode != 0:
            print(f"{overlay}: kubernetes-validate failed")
            failures += 1
        docs = [d for d in yaml.safe_load_all(rendered) if d]
        config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
        for doc in docs:
            for container in containers(doc):
                env = {"PATH": os.environ.get("PATH", "")}
                for source in container.get("envFrom", []):
                    env.update(config_maps[source["configMapRef"]["name"]])
                for var in container.get("env", []):
                    if "value" in var:
                        env[var["name"]] = var["value"]
                    else:
                        key = var["valueFrom"]["secretKeyRef"]["key"]
                        env[var["name"]] = SECRET_STAND_INS[key]
                name = f'{overlay}/{doc["kind"]}/{doc["metadata"]["name"]}'
                with tempfile.TemporaryDirectory() as scratch:
                    result = subprocess.run(
                        [binary, "config", "check"], cwd=scratch, env=env,
                        capture_output=True, text=True,
                    )
                if result.returncode != 0:
                    print(f"{name}: bigmember config check failed:\n{result.stderr}")
                    failures += 1
                else:
                    print(f"{name}: configuration accepted")
    return failures


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(1 if main(sys.argv[1], sys.argv[2]) else 0)
