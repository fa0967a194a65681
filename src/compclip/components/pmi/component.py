"""PMI counting as Kubeflow components: plan the fan-out, scan, merge the vocabulary, count pairs,
merge the table (the two map-reduce rounds of ``compclip.pmi.shards``). Both rounds fan out over
the plan's parts, and every task reads its inputs by their local paths: the pairs round scans its
part again rather than read a scan's output by its URI (a ``ParallelFor`` iterates over parameters,
not over artifacts), so the pipeline runs on any pipeline root (``minio://``, ``s3://``, ``gs://``)."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Output

from compclip.images import image


@dsl.component(base_image=image("core"), install_kfp_package=False)
def pmi_plan(corpus: str, world: Input[Dataset], shards: int) -> list[str]:
    """The non-empty parts ``I/N`` of the corpus (``corpus``: space-separated URIs or globs; empty:
    the world's captions) dealt into at most ``shards`` shards."""
    from compclip.pmi.shards import plan_parts

    return plan_parts(corpus.split() or [world.path], shards)


@dsl.component(base_image=image("core"), install_kfp_package=False)
def pmi_scan(
    corpus: str, world: Input[Dataset], part: str, config: dict, shard: Output[Dataset], work_root: str = ""
):
    """Map 1: scan part ``I/N`` of the corpus for its concept counts. ``work_root``: an s3:// prefix
    where scanned files wait, so the task run again resumes."""
    from compclip.config import from_dict
    from compclip.pmi.shards import CountConfig, scan_part
    from compclip.workfolders import task_work_dir

    work = task_work_dir(work_root, "pmi-scan", corpus, world.uri, part, config)
    scan_part(corpus.split() or [world.path], part, shard.path, from_dict(CountConfig, config, "pmi"), work)
    shard.metadata["part"] = part


@dsl.component(base_image=image("core"), install_kfp_package=False)
def pmi_merge_vocab(shards: Input[list[Dataset]], config: dict, vocab: Output[Dataset]):
    """Reduce 1: the corpus vocabulary from every scanned shard."""
    from compclip.config import from_dict
    from compclip.pmi.shards import CountConfig, merge_vocab

    merge_vocab([s.path for s in shards], vocab.path, from_dict(CountConfig, config, "pmi"))


@dsl.component(base_image=image("core"), install_kfp_package=False)
def pmi_pairs(
    corpus: str, world: Input[Dataset], part: str, vocab: Input[Dataset], config: dict, shard: Output[Dataset]
):
    """Map 2: the pair counts of part ``I/N`` of the corpus for ``vocab`` (the part scanned again)."""
    from compclip.config import from_dict
    from compclip.pmi.shards import CountConfig, count_part_pairs

    settings = from_dict(CountConfig, config, "pmi")
    count_part_pairs(corpus.split() or [world.path], part, vocab.path, shard.path, settings)
    shard.metadata["part"] = part


@dsl.component(base_image=image("core"), install_kfp_package=False)
def pmi_merge_table(
    shards: Input[list[Dataset]], vocab: Input[Dataset], config: dict, table: Output[Dataset]
):
    """Reduce 2: the PMI table from every shard's pair counts."""
    from compclip.config import from_dict
    from compclip.pmi.shards import CountConfig, merge_table

    merge_table([s.path for s in shards], vocab.path, table.path, from_dict(CountConfig, config, "pmi"))
