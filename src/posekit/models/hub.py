"""Hugging Face Hub ids and downloads: the local cache first, then one fast online attempt."""

from __future__ import annotations

import re
from pathlib import Path

from posekit.errors import ModelError

#: Files of a model repository that posekit needs (config, weights, posekit.json, processor config).
HUB_FILES = ["*.json", "*.safetensors"]


def looks_like_hub_id(source: str) -> bool:
    return bool(re.fullmatch(r"[\w.\-]+/[\w.\-]+", source)) and not source.startswith((".", "~"))


def download(repo_id: str) -> Path:
    """Hub snapshot (config + safetensors + posekit.json): the cache first, then one fast online attempt."""
    import huggingface_hub
    from huggingface_hub import constants
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    try:
        return Path(
            huggingface_hub.snapshot_download(repo_id, allow_patterns=HUB_FILES, local_files_only=True)
        )
    except OSError:
        pass  # not cached: go online below
    how = (
        f"Download it where there is internet (`hf download {repo_id} --local-dir DIR`) and pass DIR as "
        "--model / pretrained, or start from random weights with --pretrained none"
    )
    if constants.HF_HUB_OFFLINE:
        raise ModelError(f"{repo_id!r} is not in the Hugging Face cache and HF_HUB_OFFLINE is set. {how}.")
    try:  # one request without retries: huggingface_hub would otherwise retry an unreachable host for ~30 s
        huggingface_hub.get_hf_file_metadata(huggingface_hub.hf_hub_url(repo_id, "config.json"), timeout=10)
    except (RepositoryNotFoundError, GatedRepoError) as e:
        raise ModelError(
            f"{repo_id!r} is neither a local path nor a Hugging Face Hub model you can access ({e}). {how}."
        ) from e
    except HfHubHTTPError as e:
        raise ModelError(f"{repo_id!r}: the Hugging Face Hub answered with an error ({e}). {how}.") from e
    except Exception as e:  # noqa: BLE001 - any transport failure (DNS, proxy, TLS, timeout) means unreachable
        raise ModelError(
            f"cannot download {repo_id!r}: the Hugging Face Hub is unreachable ({e}). {how}."
        ) from e
    try:
        return Path(huggingface_hub.snapshot_download(repo_id, allow_patterns=HUB_FILES))
    except Exception as e:  # noqa: BLE001
        raise ModelError(f"downloading {repo_id!r} from the Hugging Face Hub failed ({e}). {how}.") from e
