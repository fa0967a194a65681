"""Submit and schedule the compiled pipeline on a Kubeflow Pipelines cluster through ``kfp.Client``."""

import re
from dataclasses import dataclass

from compclip.errors import UserError

# Six fields (seconds first), as KFP's scheduler (robfig/cron) reads them.
CRON_FIELDS = (("second", 0, 59), ("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31),
               ("month", 1, 12), ("day of week", 0, 6))  # fmt: skip
NAMES = {
    "month": ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
    "day of week": ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
}
ATOM = re.compile(r"(\*|\?|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?")


def validate_cron(expression: str) -> str:
    """``expression`` if it is a valid six-field cron expression; else a UserError naming the bad field."""
    fields = expression.split()
    if len(fields) != len(CRON_FIELDS):
        raise UserError(
            f"cron {expression!r} has {len(fields)} fields; KFP needs six: second minute hour "
            "day-of-month month day-of-week (e.g. '0 0 3 * * 0': Sundays at 03:00)"
        )
    for text, (name, low, high) in zip(fields, CRON_FIELDS, strict=True):
        for atom in text.split(","):
            if not ATOM.fullmatch(atom) or (atom == "?" and name not in ("day of month", "day of week")):
                raise UserError(f"cron {expression!r}: bad {name} field {text!r}")
            base = atom.split("/")[0]
            values = [] if base in ("*", "?") else base.split("-")
            for value in values:
                number = _number(value, name)
                if number is None or not low <= number <= high:
                    raise UserError(f"cron {expression!r}: {name} {value!r} is outside {low}-{high}")
    return expression


def _number(value: str, field: str) -> int | None:
    if value.isdigit():
        return int(value)
    names = NAMES.get(field, [])
    return names.index(value.upper()) + (1 if field == "month" else 0) if value.upper() in names else None


def client(host: str, token: str | None = None, namespace: str | None = None):
    """A ``kfp.Client`` for ``host``; an unreachable host is one clear error."""
    import kfp

    try:
        found = kfp.Client(host=host, existing_token=token, namespace=namespace or "kubeflow")
        found.get_kfp_healthz()
    except Exception as err:  # the client raises many kinds; the user needs the host and the cause
        raise UserError(f"cannot reach Kubeflow Pipelines at {host}: {_first_line(err)}") from err
    return found


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


@dataclass(frozen=True)
class RunSettings:
    """Where a run (or each run of a schedule) goes and as whom: ``service_account`` the pods use
    (None: the namespace's default for pipelines); ``pipeline_root`` None: the cluster's default
    (its kfp-launcher ConfigMap)."""

    experiment: str
    name: str
    namespace: str | None = None
    pipeline_root: str | None = None
    service_account: str | None = None


def submit(kfp_client, package: str, arguments: dict, run: RunSettings) -> str:
    """Start one run of the compiled ``package``; returns the run id."""
    result = kfp_client.create_run_from_pipeline_package(
        package, arguments=arguments, run_name=run.name, experiment_name=run.experiment,
        namespace=run.namespace, pipeline_root=run.pipeline_root, service_account=run.service_account,
    )  # fmt: skip
    return result.run_id


def schedule(kfp_client, package: str, arguments: dict, run: RunSettings, cron: str) -> str:
    """Create a recurring run of ``package`` on the six-field ``cron``; returns its id."""
    found = kfp_client.create_experiment(run.experiment, namespace=run.namespace)
    job = kfp_client.create_recurring_run(
        experiment_id=found.experiment_id, job_name=run.name, cron_expression=validate_cron(cron),
        params=arguments, pipeline_package_path=package, pipeline_root=run.pipeline_root, no_catchup=True,
        service_account=run.service_account,
    )  # fmt: skip
    return job.recurring_run_id
