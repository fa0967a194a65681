"""The kustomize overlays in k8s/: each renders with `kubectl kustomize`, every object validates
offline (strict), every pod runs under Pod Security "restricted", and the rest of what the
manifests promise (least-privilege RBAC, Secrets without values, pinned images, GPU in production)."""

from __future__ import annotations

import copy
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from compclip import images
from compclip.deploy import build, find_service, render, storage_uri
from compclip.deploy.service import check_device

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
OVERLAYS = ("dev", "staging", "production")
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request) -> tuple[str, list[dict]]:
    return request.param, build(str(K8S / "overlays" / request.param))


def pod_specs(obj: dict) -> list[dict]:
    """The pod specs an object runs (an InferenceService's predictor is one, inline)."""
    kind, spec = obj["kind"], obj.get("spec", {})
    if kind == "Pod":
        return [spec]
    if kind in WORKLOADS:
        return [spec["template"]["spec"]]
    if kind == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    if kind == "InferenceService":
        return [part for part in (spec.get(k) for k in ("predictor", "transformer", "explainer")) if part]
    return []


def restricted_violations(pod: dict) -> list[str]:
    """What keeps a pod spec from Pod Security "restricted" (and from a read-only root filesystem)."""
    found = []
    pod_context = pod.get("securityContext", {})
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(flag):
            found.append(flag)
    for container in pod.get("containers", []) + pod.get("initContainers", []):
        name, context = container["name"], container.get("securityContext", {})
        if context.get("allowPrivilegeEscalation") is not False:
            found.append(f"{name}: allowPrivilegeEscalation not false")
        if context.get("readOnlyRootFilesystem") is not True:
            found.append(f"{name}: readOnlyRootFilesystem not true")
        if context.get("privileged"):
            found.append(f"{name}: privileged")
        capabilities = context.get("capabilities", {})
        if "ALL" not in capabilities.get("drop", []):
            found.append(f"{name}: capabilities not dropping ALL")
        if set(capabilities.get("add", [])) - {"NET_BIND_SERVICE"}:
            found.append(f"{name}: adds capabilities {capabilities['add']}")
        if context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is not True:
            found.append(f"{name}: runAsNonRoot not true")
        if context.get("runAsUser", pod_context.get("runAsUser")) == 0:
            found.append(f"{name}: runAsUser 0")
        seccomp = context.get("seccompProfile", pod_context.get("seccompProfile", {}))
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            found.append(f"{name}: seccompProfile not RuntimeDefault")
    return found


def by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def test_every_object_validates_offline(overlay, manifest_errors):
    name, objects = overlay
    assert {o["kind"] for o in objects} >= {"Namespace", "ServiceAccount", "Role", "RoleBinding", "Secret"}
    assert by_kind(objects, "InferenceService") and by_kind(objects, "NetworkPolicy")
    problems = {f"{o['kind']}/{o['metadata']['name']}": manifest_errors(o) for o in objects}
    assert not {k: v for k, v in problems.items() if v}, name


def test_the_validation_catches_mistakes(overlay, manifest_errors):
    _, objects = overlay
    service = copy.deepcopy(find_service(objects))
    service["spec"]["predictor"]["minReplica"] = 1  # a typo the API server would refuse
    assert any("minReplica" in e for e in manifest_errors(service))
    service = copy.deepcopy(find_service(objects))
    service["spec"]["predictor"]["containers"][0]["resources"] = "2 cpus"
    assert manifest_errors(service)
    policy = copy.deepcopy(by_kind(objects, "NetworkPolicy")[0])
    policy["spec"]["policyTypes"] = "Ingress"
    assert manifest_errors(policy)


def test_every_pod_runs_restricted(overlay):
    name, objects = overlay
    pods = [(o["kind"], pod) for o in objects for pod in pod_specs(o)]
    assert ("InferenceService", find_service(objects)["spec"]["predictor"]) in pods
    assert len(pods) == (2 if name == "dev" else 1)  # dev adds its SeaweedFS
    for kind, pod in pods:
        assert restricted_violations(pod) == [], f"{name}: {kind}"
    (namespace,) = by_kind(objects, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_restricted_check_finds_each_gap(overlay):
    pod = find_service(overlay[1])["spec"]["predictor"]
    for path, value in [
        (("capabilities", "drop"), []),
        (("allowPrivilegeEscalation",), True),
        (("readOnlyRootFilesystem",), False),
        (("runAsNonRoot",), False),
        (("seccompProfile", "type"), "Unconfined"),
    ]:
        changed = copy.deepcopy(pod)
        context = changed["containers"][0]["securityContext"]
        for key in path[:-1]:
            context = context[key]
        context[path[-1]] = value
        assert len(restricted_violations(changed)) == 1, path


def test_objects_live_in_the_overlay_namespace(overlay):
    name, objects = overlay
    (namespace,) = by_kind(objects, "Namespace")
    assert namespace["metadata"]["name"] == f"compclip-{name}"
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == f"compclip-{name}", obj["kind"]
    (binding,) = by_kind(objects, "RoleBinding")
    assert {s["namespace"] for s in binding["subjects"]} == {f"compclip-{name}"}


def test_rbac_is_least_privilege(overlay):
    _, objects = overlay
    assert not by_kind(objects, "ClusterRole") and not by_kind(objects, "ClusterRoleBinding")
    (role,) = by_kind(objects, "Role")
    for rule in role["rules"]:
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field]
        assert not {"list", "watch", "delete", "deletecollection", "escalate", "bind"} & set(rule["verbs"])
        assert "pods/log" not in rule["resources"] and "pods" not in rule["resources"]
        if set(rule["resources"]) & {"secrets", "configmaps"}:
            assert rule["resourceNames"] and rule["verbs"] == ["get"]
    (binding,) = by_kind(objects, "RoleBinding")
    assert [s["name"] for s in binding["subjects"]] == ["compclip-pipeline"]
    accounts = {a["metadata"]["name"]: a for a in by_kind(objects, "ServiceAccount")}
    serving = accounts["compclip-serving"]
    assert serving["automountServiceAccountToken"] is False
    service = find_service(objects)["spec"]["predictor"]
    assert service["serviceAccountName"] == "compclip-serving"
    assert service["automountServiceAccountToken"] is False
    # KServe's storage initializer takes the S3 keys from the Secret on the serving account: the
    # serving key (read-only on the registry), never the pipeline's, which only the pipeline reads.
    assert serving["secrets"] == [{"name": "compclip-s3-serving"}]
    secrets = {r for rule in role["rules"] if "secrets" in rule["resources"] for r in rule["resourceNames"]}
    assert secrets == {"compclip-s3"}


def secret(objects: list[dict], name: str = "compclip-s3-serving") -> dict:
    (found,) = [o for o in by_kind(objects, "Secret") if o["metadata"]["name"] == name]
    return found


def test_secrets_hold_no_values(overlay):
    _, objects = overlay
    assert {s["metadata"]["name"] for s in by_kind(objects, "Secret")} == {
        "compclip-s3",
        "compclip-s3-serving",
    }
    for found in by_kind(objects, "Secret"):
        assert not found.get("data") and not found.get("stringData")
    assert secret(objects)["metadata"]["annotations"]["serving.kserve.io/s3-endpoint"]


def test_images_name_versions(overlay):
    name, objects = overlay
    pods = [pod for o in objects for pod in pod_specs(o)]
    for container in (c for pod in pods for c in pod["containers"] + pod.get("initContainers", [])):
        repository = container["image"].rsplit("/", 1)[-1]
        assert ("@sha256:" in repository or ":" in repository) and not repository.endswith(":latest")
    image = find_service(objects)["spec"]["predictor"]["containers"][0]["image"]
    if name == "dev":  # a local cluster's own build, by tag
        assert image == images.image("serve")
    else:  # a registry's image by digest (the overlays' placeholder until a release sets it)
        assert re.fullmatch(r"registry\.example\.com/compclip/compclip-serve@sha256:[0-9a-f]{64}", image)


def test_the_serving_uid_is_the_images(overlay):
    _, objects = overlay
    user = re.search(r"^USER (\d+):(\d+)$", (REPO / "docker" / "Dockerfile").read_text(), re.M)
    context = find_service(objects)["spec"]["predictor"]["securityContext"]
    assert (str(context["runAsUser"]), str(context["runAsGroup"])) == user.groups()


def test_serving_shape_per_overlay(overlay):
    name, objects = overlay
    predictor = find_service(objects)["spec"]["predictor"]
    assert 1 <= predictor["minReplicas"] <= predictor["maxReplicas"]
    container = predictor["containers"][0]
    assert container["args"][:3] == ["serve", "--model", "/mnt/models"]
    gpus = {part.get("nvidia.com/gpu") for part in container["resources"].values()}
    assert gpus == ({"1"} if name == "production" else {None})
    check_device(container)  # the server runs on the GPU it asks for, and only then
    assert ("--device" in container["args"]) == (name == "production")
    assert storage_uri(find_service(objects)).startswith("s3://")
    assert "--manifest-sha256" in container["args"]


def test_production_keeps_a_replica_through_drains_and_spreads_over_nodes():
    objects = build(str(K8S / "overlays" / "production"))
    predictor = find_service(objects)["spec"]["predictor"]
    (budget,) = by_kind(objects, "PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 1 and predictor["minReplicas"] >= 2
    labels = {"serving.kserve.io/inferenceservice": find_service(objects)["metadata"]["name"]}
    assert budget["spec"]["selector"]["matchLabels"] == labels
    (term,) = predictor["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == labels


def test_network_policies_cover_the_service(overlay):
    _, objects = overlay
    policies = {p["metadata"]["name"]: p["spec"] for p in by_kind(objects, "NetworkPolicy")}
    assert policies["default-deny-ingress"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    service = find_service(objects)
    selector = policies["compclip-serving"]["podSelector"]["matchLabels"]
    assert selector == {"serving.kserve.io/inferenceservice": service["metadata"]["name"]}
    ports = {p["port"] for rule in policies["compclip-serving"]["ingress"] for p in rule["ports"]}
    assert ports == {8080}
    # out: DNS and the S3 endpoint, each rule naming where to, never "anywhere on this port"
    egress = policies["compclip-serving"]["egress"]
    assert all(rule.get("to") for rule in egress)
    assert len(egress) == 2 and egress[0]["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}


def test_dev_serves_s3_from_seaweedfs():
    objects = build(str(K8S / "overlays" / "dev"))
    assert secret(objects)["metadata"]["annotations"]["serving.kserve.io/s3-endpoint"] == "seaweedfs:8333"
    (deployment,) = by_kind(objects, "Deployment")
    (service,) = by_kind(objects, "Service")
    (claim,) = by_kind(objects, "PersistentVolumeClaim")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    pod = deployment["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert pod["containers"][0]["envFrom"] == [{"secretRef": {"name": "compclip-s3"}}]
    (egress,) = [p for p in by_kind(objects, "NetworkPolicy") if p["metadata"]["name"] == "compclip-serving"]
    ports = [p for rule in egress["spec"]["egress"] for p in rule["ports"]]
    assert {"protocol": "TCP", "port": 8333} in ports


def test_a_rendered_release_builds_to_itself(tmp_path, manifest_errors):
    """GitOps: a release folder (the overlay + the rendered InferenceService as a patch) renders
    exactly the rendered manifest, so what is committed is what the cluster gets."""
    overlay = K8S / "overlays" / "production"
    uri = "s3://models/registry/compclip/v7/"
    service = find_service(build(str(overlay)))
    service["spec"]["predictor"]["containers"][0]["image"] = "r.example/compclip-serve@sha256:" + "1f" * 32
    rendered = render(service, uri, "ab" * 32, "compclip", "production")
    release = tmp_path / "release"
    release.mkdir()
    (release / "inferenceservice.yaml").write_text(yaml.safe_dump(rendered))
    kustomization = {
        "resources": [os.path.relpath(overlay, release)],
        "patches": [{"path": "inferenceservice.yaml"}],
    }
    (release / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    assert find_service(build(str(release))) == rendered
    assert manifest_errors(rendered) == []


def test_the_credentials_file_is_ignored_by_git():
    done = subprocess.run(["git", "check-ignore", "-q", "k8s/s3.env"], cwd=REPO, check=False)
    assert done.returncode == 0
    example = (K8S / "s3.env.example").read_text()
    keys = [line.split("=")[0] for line in example.splitlines() if line and not line.startswith("#")]
    assert keys == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
    assert all(line.endswith("=") for line in example.splitlines() if line and not line.startswith("#"))


def test_the_pipeline_reads_its_s3_endpoint_from_the_configmap_where_kserve_and_kfp_look(overlay):
    """The ConfigMap compclip-s3 the pipeline's tasks read AWS_ENDPOINT_URL from names the same S3
    as the Secret's KServe annotation and the kfp-launcher providers."""
    name, objects = overlay
    maps = {m["metadata"]["name"]: m for m in by_kind(objects, "ConfigMap")}
    endpoint = maps["compclip-s3"]["data"]["AWS_ENDPOINT_URL"]
    annotations = secret(objects)["metadata"]["annotations"]
    host = endpoint.split("://", 1)[1]
    assert annotations["serving.kserve.io/s3-endpoint"] == host
    assert f"endpoint: {host}" in maps["kfp-launcher"]["data"]["providers"]
    https = annotations["serving.kserve.io/s3-usehttps"] == "1"
    assert endpoint.startswith("https://" if https else "http://")
    if name == "dev":
        assert endpoint == "http://seaweedfs:8333"
