"""posekit.label_audit.model_checks on synthetic predictions: the truth plus small noise, then injected
errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from posekit.datasets.schema import get_preset
from posekit.errors import PosekitError
from posekit.label_audit.inject import inject_errors, score_findings
from posekit.label_audit.model_checks import ModelOutput, model_findings
from posekit.label_audit.people import People

SCHEMA = get_preset("coco17")
K = 17


def _coco(images: int, seed: int) -> dict:
    """``images`` images of 4 people each: points anywhere in the box, 80 % v=2, 10 % v=1, 10 % v=0."""
    rng = np.random.default_rng(seed)
    out: dict = {"images": [], "annotations": [], "categories": [{"id": 1, "keypoints": SCHEMA.names}]}
    for image in range(1, images + 1):
        out["images"].append({"id": image, "file_name": f"{image}.jpg", "width": 640, "height": 480})
        for _ in range(4):
            w = rng.uniform(60, 120)
            h = w * rng.uniform(1.5, 2.5)
            x, y = rng.uniform(0, 640 - w), rng.uniform(0, 480 - h)
            kps = np.stack([rng.uniform(x, x + w, K), rng.uniform(y, y + h, K), np.full(K, 2.0)], axis=1)
            kps[:, 2] = rng.choice([2, 1, 0], size=K, p=[0.8, 0.1, 0.1])
            kps[kps[:, 2] == 0] = 0
            ann = {"id": len(out["annotations"]) + 1, "image_id": image, "bbox": [x, y, w, h], "area": w * h}
            out["annotations"].append(
                {**ann, "num_keypoints": int((kps[:, 2] > 0).sum()), "keypoints": kps.ravel().tolist()}
            )
    return out


def _model(clean: People, seed: int, noise: float = 0.3) -> ModelOutput:
    """A model that finds labelled points within ``noise`` sigma units per coordinate, confidently
    (0.7-1.0 visible, 0.4-0.8 occluded), and puts unlabelled ones anywhere in the box at 0-0.2."""
    rng = np.random.default_rng(seed)
    n = len(clean)
    scale = 2 * SCHEMA.sigmas_array[None, :, None] * clean.scale[:, None, None]
    points = clean.keypoints[..., :2] + rng.normal(size=(n, K, 2)) * noise * scale
    scores = rng.uniform(0.7, 1.0, (n, K))
    v = clean.keypoints[..., 2]
    scores[v == 1] = rng.uniform(0.4, 0.8, int((v == 1).sum()))
    box = clean.boxes
    anywhere = box[:, None, :2] + rng.uniform(size=(n, K, 2)) * box[:, None, 2:]
    points[v == 0] = anywhere[v == 0]
    scores[v == 0] = rng.uniform(0.0, 0.2, int((v == 0).sum()))
    return ModelOutput(points, scores)


def _rows(people: People, clean: People, injected) -> np.ndarray:
    """Row of ``clean`` that each person of ``people`` came from (a duplicate: its original)."""
    original = {e.annotation_id: e.other_id for e in injected if e.kind == "duplicate"}
    row = {a: i for i, a in enumerate(clean.annotation_ids.tolist())}
    return np.array([row[original.get(a, a)] for a in people.annotation_ids.tolist()])


def _take(output: ModelOutput, rows: np.ndarray) -> ModelOutput:
    return ModelOutput(output.keypoints[rows], output.scores[rows])


def test_injected_swaps_displacements_and_missed_points_are_found() -> None:
    coco = _coco(100, seed=1)
    clean = People.from_coco(coco, K)
    rates = {"swap": 0.05, "displaced": 0.05, "missed": 0.05}
    damaged, injected = inject_errors(coco, SCHEMA, rates, seed=3)
    people = People.from_coco(damaged, K)
    findings = model_findings(people, SCHEMA, _take(_model(clean, seed=2), _rows(people, clean, injected)))
    scores = score_findings(findings, injected)
    for kind in ("swap", "displaced", "missed"):
        assert scores[kind].injected == 20
        assert scores[kind].precision >= 0.9, (kind, scores[kind])
    assert scores["swap"].recall >= 0.9 and scores["displaced"].recall >= 0.9
    # A point the model finds at confidence 0.7-0.75 is only a ~3.5 sigma outlier among unlabelled points
    # (0-0.2): below the reporting threshold, so about a sixth of the missed points stay unreported.
    assert scores["missed"].recall >= 0.75
    clean_findings = model_findings(clean, SCHEMA, _model(clean, seed=2))
    assert len(clean_findings) <= 1  # chance alone: p = 1e-4 over 400 x 17 points


def test_a_person_labelled_mirrored_is_one_whole_body_swap() -> None:
    coco = _coco(20, seed=4)
    clean = People.from_coco(coco, K)
    output = _model(clean, seed=5)
    people = People.from_coco(coco, K)
    people.keypoints[7] = people.keypoints[7, SCHEMA.flip_index]  # every left/right pair exchanged
    swaps = [f for f in model_findings(people, SCHEMA, output) if f.kind == "swap"]
    assert [(f.annotation_id, f.joint) for f in swaps] == [(8, "")]
    assert "left/right pairs agree with the model only when exchanged" in swaps[0].evidence


def test_a_mirrored_view_that_disagrees_vetoes_a_swap() -> None:
    """The model reads the person's sides the other way on the mirrored crop: no swap is claimed."""
    coco = _coco(20, seed=6)
    clean = People.from_coco(coco, K)
    output = _model(clean, seed=7)
    people = People.from_coco(coco, K)
    knees = list(SCHEMA.flip_pairs[6])
    i = int(np.flatnonzero(people.placed[:, knees].all(axis=1))[0])
    people.keypoints[i, knees] = people.keypoints[i, knees[::-1]]
    swaps = [f for f in model_findings(people, SCHEMA, output) if f.kind == "swap"]
    assert [(f.annotation_id, f.joint) for f in swaps] == [(i + 1, "left_knee/right_knee")]
    mirrored = output.keypoints.copy()
    mirrored[i, knees] = people.keypoints[i, knees, :2]  # this view agrees with the labels
    both = ModelOutput(output.keypoints, output.scores, mirrored, output.scores)
    assert [f for f in model_findings(people, SCHEMA, both) if f.kind == "swap"] == []


def test_visibility_as_far_as_the_model_can_tell() -> None:
    coco = _coco(50, seed=8)
    people = People.from_coco(coco, K)
    output = _model(people, seed=9)
    visible = np.argwhere(people.keypoints[..., 2] == 2)[0]
    output.scores[tuple(visible)] = 0.001  # in place, but the model barely sees it
    found = [f for f in model_findings(people, SCHEMA, output) if f.kind == "visibility"]
    assert [(f.annotation_id, f.joint) for f in found] == [
        (int(people.annotation_ids[visible[0]]), SCHEMA.names[visible[1]])
    ]
    assert found[0].fix == "set v=1 if it is occluded"


def test_output_of_the_wrong_shape_is_refused() -> None:
    people = People.from_coco(_coco(2, seed=0), K)
    with pytest.raises(PosekitError, match="one row per person"):
        model_findings(people, SCHEMA, ModelOutput(np.zeros((3, K, 2)), np.zeros((3, K))))


def test_audit_runs_the_model_checks_through_a_predict_hook(sample_data, tmp_path) -> None:
    from posekit.label_audit.api import audit

    truth = json.loads((sample_data.parent / "val.json").read_text())
    damaged, injected = inject_errors(truth, SCHEMA, {"swap": 0.1}, seed=0)
    (tmp_path / "val.json").write_text(json.dumps(damaged))
    clean = People.from_coco(truth, K)
    row = {a: i for i, a in enumerate(clean.annotation_ids.tolist())}

    def predict(dataset, people: People) -> ModelOutput:  # a model that sees the truth
        rows = [row[a] for a in people.annotation_ids.tolist()]
        return ModelOutput(clean.keypoints[rows, :, :2], np.full((len(rows), K), 0.9))

    report = audit(tmp_path / "val.json", images=sample_data.parent / "images" / "val", predict=predict)
    assert "swap" in report.kinds and "bone_length" in report.kinds
    swaps = {(f.annotation_id, f.joint, f.split) for f in report.findings if f.kind == "swap"}
    assert swaps == {(e.annotation_id, e.joint, "train+val") for e in injected}


def test_a_far_label_is_displaced_only_where_the_two_looks_agree() -> None:
    """Both looks 3 sigma units from a right label: displaced. One look 3 units to each side: the model
    is unsure there (its looks 6 units apart add 6^2 / 4 to the spread), so the label stands."""
    people = People.from_coco(_coco(50, seed=10), K)
    output = _model(people, seed=11)
    i, j = np.argwhere(people.keypoints[..., 2] == 2)[0]
    unit = 2 * SCHEMA.sigmas[j] * people.scale[i]  # one sigma unit, in pixels
    right, left = output.keypoints.copy(), output.keypoints.copy()
    right[i, j] = people.keypoints[i, j, :2] + (3 * unit, 0)
    left[i, j] = people.keypoints[i, j, :2] - (3 * unit, 0)

    def displaced(output: ModelOutput) -> list[tuple[int, str]]:
        found = model_findings(people, SCHEMA, output)
        return [(f.annotation_id, f.joint) for f in found if f.kind == "displaced"]

    here = (int(people.annotation_ids[i]), SCHEMA.names[j])
    assert displaced(ModelOutput(right, output.scores, right.copy(), output.scores)) == [here]
    assert here not in displaced(ModelOutput(right, output.scores, left, output.scores))
