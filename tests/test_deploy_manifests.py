"""deploy/kubernetes/ is valid Kubernetes, checked offline with kubeconform (strict: no unknown fields).

kubeconform is built from its Go module into ~/.cache/zhangban/bin (like MinIO: once, then cached); the JSON
schemas come from the `kubernetes-validate` package (a dev dependency), whose files refer to one shared
definitions file by an absolute path kubeconform's loader does not follow — so each kind's schema is written out
self-contained (its definitions inlined) into a temporary folder. Without Go (or the package) the test is
skipped with the reason.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.servers import CACHE_BIN

KUBECONFORM = "github.com/yannh/kubeconform/cmd/kubeconform"
KUBECONFORM_VERSION = "v0.8.0"
KUBERNETES = "v1.37.0"
MANIFESTS = Path(__file__).resolve().parent.parent / "deploy" / "kubernetes"
KINDS = ("deployment-apps-v1", "service-v1", "configmap-v1", "persistentvolumeclaim-v1",
         "poddisruptionbudget-policy-v1")


def kubeconform_binary() -> str:
    found = shutil.which("kubeconform") or (str(CACHE_BIN / "kubeconform")
                                            if (CACHE_BIN / "kubeconform").exists() else None)
    if found:
        return found
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if not go:
        pytest.skip("no kubeconform on PATH or in ~/.cache/zhangban/bin, and no Go to build it")
    CACHE_BIN.mkdir(parents=True, exist_ok=True)
    print(f"building kubeconform {KUBECONFORM_VERSION} into {CACHE_BIN} (first time only)", flush=True)
    built = subprocess.run([go, "install", f"{KUBECONFORM}@{KUBECONFORM_VERSION}"], capture_output=True, text=True,
                           env={**os.environ, "GOBIN": str(CACHE_BIN), "GOFLAGS": "-trimpath"}, timeout=900)
    if built.returncode != 0 or not (CACHE_BIN / "kubeconform").exists():
        pytest.skip(f"go install of kubeconform failed: {built.stderr[-500:]}")
    return str(CACHE_BIN / "kubeconform")


def self_contained_schemas(into: Path) -> Path:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    source = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"{KUBERNETES}-local-strict"
    definitions = json.loads((source / "_definitions.json").read_text())["$defs"]
    for kind in KINDS:
        text = (source / f"{kind}.json").read_text().replace('"/api/_definitions.json#/$defs/', '"#/$defs/')
        schema = json.loads(text)
        schema["$defs"] = definitions
        (into / f"{kind}.json").write_text(json.dumps(schema))
    return into


def test_the_kubernetes_manifests_are_valid(tmp_path):
    binary = kubeconform_binary()
    schemas = self_contained_schemas(tmp_path)
    files = sorted(str(p) for p in MANIFESTS.glob("*.yaml"))
    done = subprocess.run([binary, "-strict", "-summary", "-output", "json",
                           "-schema-location", f"{schemas}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json", *files],
                          capture_output=True, text=True, timeout=120)
    out = json.loads(done.stdout)
    assert done.returncode == 0 and out["summary"]["invalid"] == out["summary"]["errors"] == 0, done.stdout[-3000:]
    kinds = {(r["kind"], r["name"]) for r in out.get("resources", [])} or None
    assert out["summary"]["valid"] >= 10, (out["summary"], kinds)


def test_the_api_deployment_probes_readyz_and_healthz():
    text = (MANIFESTS / "api.yaml").read_text()
    assert "readinessProbe:\n            httpGet: {path: /readyz" in text
    assert "livenessProbe:\n            httpGet: {path: /healthz" in text
    assert 'command: ["zhangban", "worker"]' in (MANIFESTS / "worker.yaml").read_text()
