"""Send an InferenceService to a cluster with the kubernetes client (the edge: HTTP).

Server-side apply under the field manager ``compclip``: the object becomes what the manifest says,
and fields other managers own (KServe's status, its defaults) are left alone.
"""

from __future__ import annotations

import json
import os

import urllib3
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.config.config_exception import ConfigException

from compclip.deploy.service import KIND, PLURAL
from compclip.errors import UserError

FIELD_MANAGER = "compclip"
APPLY_PATCH = "application/apply-patch+yaml"
TIMEOUT = 30.0


def connect(kubeconfig: str | None = None, context: str | None = None) -> client.ApiClient:
    """A client for the cluster in ``kubeconfig``, else ``$KUBECONFIG``, else (inside a pod) the
    pod's own cluster, else ``~/.kube/config``."""
    path = kubeconfig or os.environ.get("KUBECONFIG")
    try:
        if path is None and "KUBERNETES_SERVICE_HOST" in os.environ:
            configuration = client.Configuration()
            config.load_incluster_config(client_configuration=configuration)
            return client.ApiClient(configuration)
        path = path or os.path.expanduser("~/.kube/config")
        return config.new_client_from_config(config_file=path, context=context)
    except (ConfigException, FileNotFoundError) as err:
        raise UserError(
            "no Kubernetes cluster configured: set KUBECONFIG or --kubeconfig to a kubeconfig "
            f"with a current context ({err})"
        ) from err


def _path(service: dict) -> str:
    """The API path of an InferenceService that names its namespace."""
    metadata = service.get("metadata", {})
    if service.get("kind") != KIND or not metadata.get("name") or not metadata.get("namespace"):
        raise UserError(f"the manifest must be an {KIND} with metadata.name and metadata.namespace")
    return f"/apis/{service['apiVersion']}/namespaces/{metadata['namespace']}/{PLURAL}/{metadata['name']}"


def apply(service: dict, api: client.ApiClient, dry_run: bool = False) -> dict:
    """Server-side apply ``service``; the object the API server answers with."""
    query = [("fieldManager", FIELD_MANAGER), ("force", "true")]
    if dry_run:
        query.append(("dryRun", "All"))
    try:
        return api.call_api(
            _path(service),
            "PATCH",
            query_params=query,
            header_params={"Content-Type": APPLY_PATCH, "Accept": "application/json"},
            body=service,
            auth_settings=["BearerToken"],
            response_type="object",
            _return_http_data_only=True,
            _request_timeout=TIMEOUT,
        )
    except ApiException as err:
        raise UserError(f"applying {service['kind']}/{service['metadata']['name']}: {_reason(err)}") from err
    except urllib3.exceptions.HTTPError as err:
        raise UserError(f"cannot reach the cluster at {api.configuration.host}: {err}") from err


def _reason(err: ApiException) -> str:
    try:
        message = json.loads(err.body or "{}").get("message")
    except ValueError:
        message = None
    return f"{err.status} {err.reason}" + (f": {message}" if message else "")
