"""Fidelity of the top-down pipeline: posekit's decoder against the reference (mmpose's DARK-UDP) in AP
and in pixels, and transformers' ``VitPoseImageProcessor`` recipe against posekit on the same weights,
images and boxes.

    python benchmarks/fidelity.py --model runs/train/exp/weights/best [--quick]

``--model`` is a model trained on the built-in sample (``posekit train``); no real ViTPose weights can be
downloaded here. Tables:

1. AP of each decoder (``posekit val --decode posekit|reference``) on the sample's validation split and on
   the ground-truth video sample, ground-truth boxes, the model's flip-test policy.
2. Where the decoders differ: the model's own heatmaps on the validation crops, split by the distance of
   the peak to the heatmap border.
3. transformers' recipe (``VitPoseImageProcessorPil``: PIL/scipy warp, float32 centre/scale, padding 1.25,
   no box clipping; ``post_process_pose_estimation``: DARK with a sigma-0.8 blur) against posekit:
   crop pixels, keypoints from the same heatmaps, and AP end to end (no flip test, which transformers
   does not do).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from transformers import VitPoseImageProcessorPil

import posekit
from posekit.datasets.data_config import resolve_data
from posekit.datasets.image_reader import read_image
from posekit.datasets.results_file import to_coco_results
from posekit.metrics.keypoint_metrics import evaluate_predictions
from posekit.models.vitpose import load_model
from posekit.samples import locate

#: Peaks within this many heatmap pixels of a border are "near the border" (where the decoders differ).
BORDER = 6


def decoder_ap(model: Path, data: str, project: Path) -> dict[str, float]:
    """COCO AP with each decoder, ground-truth boxes."""
    out = {}
    for decode in ("posekit", "reference"):
        metrics = posekit.val(
            model=str(model), data=data, decode=decode, project=str(project), worst=0, verbose=False
        )
        out[decode] = metrics.ap
    return out


def ground_truth_people(limit: int | None):
    """The sample's validation people with labelled keypoints: the data, the people, their images and
    GT boxes (one (1, 4) array per person)."""
    data = resolve_data(locate("sample")).load_split("val")
    people = [a for a in data.annotations if not a.iscrowd and a.keypoints[:, 2].any()][:limit]
    images = {a.image_id: read_image(data.images[a.image_id].path) for a in people}
    image_list = [images[a.image_id] for a in people]
    boxes = [a.bbox[None] for a in people]
    return data, people, image_list, boxes


@torch.inference_mode()
def heatmaps_of(model, pixel_values: np.ndarray) -> np.ndarray:
    return model(torch.from_numpy(pixel_values)).float().numpy()


def decoder_differences(model, image_list, boxes) -> Table:
    processor = model.processor
    pixels, meta = processor.preprocess(image_list, boxes, clip=True)
    heatmaps = heatmaps_of(model, pixels)
    ours, _ = processor.updated(decode="posekit").postprocess(heatmaps, meta)
    ref, _ = processor.updated(decode="reference").postprocess(heatmaps, meta)
    n, k, h, w = heatmaps.shape
    peak = heatmaps.reshape(n, k, -1).argmax(-1)
    py, px = np.divmod(peak, w)
    edge = np.minimum.reduce([px, py, w - 1 - px, h - 1 - py])
    scale = meta.scales[:, None, 0] / (processor.input_size[1] - 1)  # image px per input px, per person
    diff = np.linalg.norm(ours - ref, axis=-1) / scale  # in input pixels
    table = Table(title=f"posekit vs reference decode on the model's heatmaps ({n} people x {k} joints)")
    for column in (
        "peak distance to border (heatmap px)",
        "joints",
        "share",
        "mean |diff| (input px)",
        "max",
    ):
        table.add_column(column, justify="right")
    for name, chosen in (
        (f"< {BORDER}", edge < BORDER),
        (f">= {BORDER}", edge >= BORDER),
        ("all", np.ones_like(edge, bool)),
    ):
        values = diff[chosen]
        table.add_row(
            name,
            str(values.size),
            f"{values.size / diff.size:.1%}",
            f"{values.mean():.4f}" if values.size else "-",
            f"{values.max():.3f}" if values.size else "-",
        )
    for decode in ("posekit", "reference"):
        codec = processor.updated(decode=decode).codec
        start = time.perf_counter()
        for _ in range(5):
            codec.decode(heatmaps)
        ms = (time.perf_counter() - start) / 5 / n * 1000
        table.caption = (table.caption or "") + f"decode {decode}: {ms:.3f} ms per person. "
    return table


def transformers_comparison(model, data, people, image_list, boxes) -> Table:
    """Crops, keypoints and AP: transformers' VitPoseImageProcessor recipe vs posekit's processor."""
    processor = model.processor
    h, w = processor.input_size
    hf = VitPoseImageProcessorPil(
        size={"height": h, "width": w},
        image_mean=list(processor.image_mean),
        image_std=list(processor.image_std),
    )
    hf_pixels = np.concatenate(
        [
            np.asarray(hf(images=[image], boxes=[[list(b[0])]], return_tensors="np")["pixel_values"])
            for image, b in zip(image_list, boxes, strict=True)
        ]
    ).astype(np.float32)
    # the same boxes unclipped (transformers does not clip), so that only the warp differs
    our_pixels, our_meta = processor.preprocess(image_list, boxes, clip=False)
    grey = np.abs(processor.to_images(hf_pixels).astype(int) - processor.to_images(our_pixels).astype(int))
    # keypoints from the same heatmaps (posekit's crops), post-processing alone differing
    heatmaps = heatmaps_of(model, our_pixels)
    flat_boxes = [[list(b[0])] for b in boxes]
    hf_points = hf.post_process_pose_estimation(
        SimpleNamespace(heatmaps=torch.from_numpy(heatmaps)), flat_boxes
    )
    hf_keypoints = np.stack([r[0]["keypoints"].numpy() for r in hf_points]).astype(np.float64)
    hf_scores = np.stack([r[0]["scores"].numpy() for r in hf_points]).astype(np.float64)
    ours, our_scores = processor.updated(decode="posekit").postprocess(heatmaps, our_meta)
    ref, _ = processor.updated(decode="reference").postprocess(heatmaps, our_meta)
    to_input = our_meta.scales[:, None, 0] / (w - 1)
    vs_ours = np.linalg.norm(hf_keypoints - ours, axis=-1) / to_input
    vs_ref = np.linalg.norm(hf_keypoints - ref, axis=-1) / to_input
    # AP end to end, no flip: transformers' crops + its post-processing vs posekit's (clipped GT boxes)
    gt = data.to_coco_dict()
    ids = np.array([a.image_id for a in people])
    box_scores = np.ones(len(people))
    hf_heatmaps = heatmaps_of(model, hf_pixels)
    hf_end = hf.post_process_pose_estimation(
        SimpleNamespace(heatmaps=torch.from_numpy(hf_heatmaps)), flat_boxes
    )
    hf_kp = np.stack([r[0]["keypoints"].numpy() for r in hf_end]).astype(np.float64)
    hf_sc = np.stack([r[0]["scores"].numpy() for r in hf_end]).astype(np.float64)
    clipped_pixels, clipped_meta = processor.preprocess(image_list, boxes, clip=True)
    our_kp, our_sc = processor.updated(decode="reference").postprocess(
        heatmaps_of(model, clipped_pixels), clipped_meta
    )
    aps = {}
    for name, kp, sc in (("transformers", hf_kp, hf_sc), ("posekit", our_kp, our_sc)):
        results = to_coco_results(ids, kp, sc, processor.rescore(sc, box_scores))
        aps[name] = evaluate_predictions(gt, results, data.schema, keypoint_ap=False).metrics["coco"]["AP"]
    table = Table(title=f"transformers VitPoseImageProcessor vs posekit ({len(people)} people, same weights)")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row(
        "crop |grey diff|: mean / 99th percentile / max",
        f"{grey.mean():.2f} / {np.percentile(grey, 99):.0f} / {grey.max()}",
    )
    table.add_row("crop pixels differing by more than 2 grey levels", f"{(grey > 2).mean():.2%}")
    table.add_row(
        "keypoints vs posekit decode: mean / max (input px)", f"{vs_ours.mean():.3f} / {vs_ours.max():.2f}"
    )
    table.add_row(
        "keypoints vs reference decode: mean / max (input px)", f"{vs_ref.mean():.3f} / {vs_ref.max():.2f}"
    )
    table.add_row(
        "keypoint scores: max |diff|",
        f"{np.abs(hf_scores - our_scores).max():.2e}",
    )
    table.add_row("AP end to end, no flip: transformers recipe", f"{aps['transformers']:.4f}")
    table.add_row("AP end to end, no flip: posekit (reference decode)", f"{aps['posekit']:.4f}")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, type=Path, help="a model trained on the sample")
    parser.add_argument("--quick", action="store_true", help="40 people for tables 2-3, no video AP")
    args = parser.parse_args()
    console = Console()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        table = Table(title="COCO AP by decoder (ground-truth boxes, the model's flip-test policy)")
        for column in ("data", "posekit decode", "reference (mmpose)", "difference"):
            table.add_column(column, justify="right")
        for data in ("sample",) if args.quick else ("sample", "sample-video"):
            ap = decoder_ap(args.model, data, Path(tmp))
            diff = ap["posekit"] - ap["reference"]
            table.add_row(data, f"{ap['posekit']:.4f}", f"{ap['reference']:.4f}", f"{diff:+.4f}")
        console.print(table)
    model = load_model(args.model).eval()
    data, people, image_list, boxes = ground_truth_people(40 if args.quick else None)
    console.print(decoder_differences(model, image_list, boxes))
    console.print(transformers_comparison(model, data, people, image_list, boxes))
    console.print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
