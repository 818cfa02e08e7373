#!/usr/bin/env bash
# Validates deploy/k8s/*.yaml offline (issue 29): each resource against Kubernetes' own schema
# (the PyPI package kubernetes-validate, which bundles the schemas; no cluster, no network),
# then what this design needs beyond the schema: one replica, a volume claim, the webhook port
# alone in the Service, non-root with a read-only root, probes on /health, config from a
# Secret. Fails loudly.
set -euo pipefail
cd "$(dirname "$0")/../.."
kubernetes_version=1.33.0
if ! command -v kubernetes-validate >/dev/null 2>&1; then
  python3 -m pip install --quiet kubernetes-validate \
    || python3 -m pip install --quiet --break-system-packages kubernetes-validate
fi
for manifest in deploy/k8s/*.yaml; do
  kubernetes-validate --strict --kubernetes-version "$kubernetes_version" "$manifest"
  python3 - "$manifest" <<'PY'
import sys, yaml
path = sys.argv[1]
docs = {doc["kind"]: doc for doc in yaml.safe_load_all(open(path)) if doc}
problems = []
def need(ok, what):
    if not ok:
        problems.append(what)
sts, service = docs.get("StatefulSet"), docs.get("Service")
need(sts and service and "Secret" in docs, "a Secret, a Service and a StatefulSet")
spec = sts["spec"]
need(spec.get("replicas") == 1, "replicas: 1 (SQLite: one writer per location)")
need(any(t["metadata"]["name"] == "data" for t in spec.get("volumeClaimTemplates", [])), "a volume claim named data")
pod = spec["template"]["spec"]
[container] = pod["containers"]
security = container.get("securityContext", {})
need(pod["securityContext"].get("runAsNonRoot") and security.get("runAsNonRoot"), "runAsNonRoot")
need(security.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem: true")
need(security.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation: false")
for probe in ("livenessProbe", "readinessProbe"):
    need(container.get(probe, {}).get("httpGet", {}).get("path") == "/health", f"{probe} on /health")
need(any("secretRef" in source for source in container.get("envFrom", [])), "envFrom a Secret")
need(any(m["mountPath"] == "/var/lib/sentinel" for m in container.get("volumeMounts", [])), "the data at /var/lib/sentinel")
ports = [(p["port"], p.get("targetPort")) for p in service["spec"]["ports"]]
need(ports == [(8000, "webhook")], f"the Service exposes the webhook port only, not {ports}")
need([p["containerPort"] for p in container["ports"]] == [8000], "the container names port 8000 only (never the admin 8001)")
for problem in problems:
    print(f"{path}: missing or wrong: {problem}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
  echo "$manifest: valid for Kubernetes $kubernetes_version, one replica, webhook port only, non-root, read-only root"
done
