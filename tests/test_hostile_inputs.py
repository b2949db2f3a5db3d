"""Data made by other tools, and places posekit cannot write: inputs are never deleted, paths are never
patterns, detections never match by position, read-only folders are one message or a fallback."""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from posekit.errors import PosekitError


def _bytes_of(*roots: Path) -> dict[str, str]:
    """Every file under ``roots`` (followed through the YAML's image folders too) and its digest."""
    found = {}
    for root in roots:
        for path in sorted(Path(root).rglob("*")):
            if path.is_file():
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _read_only(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Make ``folder`` refuse new entries as a read-only mount does (tests may run as root, which chmod
    does not stop)."""
    mkdtemp = tempfile.mkdtemp

    def refuse(*args, dir=None, **kwargs):  # noqa: A002 (tempfile's name)
        if dir is not None and Path(dir).resolve().is_relative_to(folder.resolve()):
            raise OSError(errno.EROFS, "Read-only file system", str(dir))
        return mkdtemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)


# ----------------------------------------------------------------------------------------------- data loss
def test_convert_overwrite_never_deletes_its_source(tiny_sample: Path, tmp_path: Path, run_cli) -> None:
    yolo_set, coco_set = tmp_path / "yolo", tmp_path / "coco"
    assert run_cli("convert", tiny_sample, yolo_set, "--from", "coco", "--to", "yolo")[0] == 0
    assert run_cli("convert", yolo_set / "data.yaml", coco_set, "--from", "yolo", "--copy-images")[0] == 0
    before = _bytes_of(yolo_set, coco_set, tiny_sample.parent)
    cases = [
        (yolo_set / "data.yaml", yolo_set, "yolo", "coco", "holds the input"),  # DST holds SRC
        (coco_set / "data.yaml", coco_set, "coco", "yolo", "holds the input"),
    ]
    for src, dst, source, target, message in cases:
        code, output = run_cli("convert", src, dst, "--from", source, "--to", target, "--overwrite")
        assert code == 1 and "Traceback" not in output, output
        assert message in " ".join(
            output.split()
        ) and "choose an output folder outside the source data" in " ".join(output.split())
        assert _bytes_of(yolo_set, coco_set, tiny_sample.parent) == before
    # an ordinary --overwrite of an earlier conversion keeps every byte of what it reads
    for _ in range(2):
        code, output = run_cli(
            "convert", yolo_set / "data.yaml", tmp_path / "again", "--from", "yolo", "--overwrite"
        )
        assert code == 0, output
        assert _bytes_of(yolo_set, coco_set, tiny_sample.parent) == before


def test_replacing_a_folder_never_touches_a_name_beside_it(tmp_path: Path) -> None:
    from posekit.fileio import atomic_path

    (tmp_path / "out").mkdir()
    (tmp_path / ".out.old").mkdir()
    (tmp_path / ".out.old" / "mine.txt").write_text("the user's")
    with atomic_path(tmp_path / "out") as new:
        new.mkdir()
        (new / "a.txt").write_text("new")
    assert (tmp_path / ".out.old" / "mine.txt").read_text() == "the user's"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.old", "out"]


# ---------------------------------------------------------------------------------- paths are not patterns
def _jpeg(path: Path, value: int = 120) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((32, 24, 3), value, np.uint8))
    return path


def test_an_existing_path_is_never_a_glob(tmp_path: Path) -> None:
    from posekit.inference.sources import resolve_source

    _jpeg(tmp_path / "shots" / "img1.jpg")
    literal = _jpeg(tmp_path / "shots" / "img[1].jpg")
    assert resolve_source(str(literal)).items == [literal]
    folder = tmp_path / "set [v2]"
    _jpeg(folder / "a.jpg")
    assert resolve_source(str(folder)).items == [folder / "a.jpg"]
    glob = resolve_source(str(tmp_path / "shots" / "img?.jpg"))  # does not exist: a pattern
    assert glob.items == [tmp_path / "shots" / "img1.jpg"]


def test_a_yolo_set_in_a_folder_with_brackets_is_read(tiny_sample: Path, tmp_path: Path) -> None:
    from posekit.datasets.formats import convert
    from posekit.datasets.formats.yolo import read_spec
    from posekit.datasets.yaml_file import load_yaml

    out = tmp_path / "pose [v2]"
    convert(tiny_sample, out, "coco", "yolo")
    spec = read_spec(out / "data.yaml", load_yaml(out / "data.yaml"))
    assert len(spec.splits["train"]) == 4 and len(spec.splits["val"]) == 2


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_as_source_is_named_as_one(tmp_path: Path) -> None:
    from posekit.inference.sources import resolve_source

    os.mkfifo(tmp_path / "feed")
    with pytest.raises(PosekitError, match="feed is a named pipe, not an image file"):
        resolve_source(str(tmp_path / "feed"))


# ------------------------------------------------------------------------------- detections by id or name
def test_detections_never_match_an_image_by_its_place_in_a_folder(tmp_path: Path, caplog) -> None:
    import json

    from posekit.inference.boxes import BoxProvider
    from posekit.inference.sources import resolve_source

    for name in "abc":
        _jpeg(tmp_path / "shots" / f"{name}.jpg")
    detections = [{"image_id": i, "category_id": 1, "bbox": [1, 2, 10, 20], "score": 0.9} for i in (1, 2, 3)]
    (tmp_path / "det.json").write_text(json.dumps(detections))
    provider = BoxProvider(tmp_path / "det.json")
    frames = list(resolve_source(str(tmp_path / "shots")))
    assert all(len(provider(frame)[0]) == 0 for frame in frames)  # b.jpg never gets image 1's box
    with pytest.raises(PosekitError, match="never by an image's place in a folder"):
        provider.check_matched(len(frames))
    # numbered files are matched by id; the unmatched one is counted
    for name in ("1", "2", "7"):
        _jpeg(tmp_path / "numbered" / f"{name}.jpg")
    provider = BoxProvider(tmp_path / "det.json")
    frames = list(resolve_source(str(tmp_path / "numbered")))
    assert [len(provider(frame)[0]) for frame in frames] == [1, 1, 0]
    with caplog.at_level(logging.WARNING, "posekit.inference.boxes"):
        provider.check_matched(len(frames))
    assert "boxes matched to 2 of 3 image(s)/frame(s): 2 by image id; 1 matched nothing" in caplog.text


# ------------------------------------------------------------------------------------------ read-only places
def test_read_only_cache_falls_back_and_says_where(tmp_path: Path, monkeypatch, caplog) -> None:
    from posekit.fileio import build_once, fallback_home

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("POSEKIT_HOME", str(home))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    _read_only(monkeypatch, home)
    with caplog.at_level(logging.WARNING, "posekit.fileio"):
        built = build_once(
            home / "sample-v1", lambda out: (out / "data.yaml").write_text("x"), "data.yaml", "it"
        )
    assert built == fallback_home() / "sample-v1" and (built / "data.yaml").read_text() == "x"
    assert f"{home} is read-only: it goes to {built}" in caplog.text
    assert not list(home.iterdir())


def test_read_only_output_parent_is_one_message(
    tiny_sample: Path, tmp_path: Path, monkeypatch, run_cli
) -> None:
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    _read_only(monkeypatch, shelf)
    code, output = run_cli("convert", tiny_sample, shelf / "out", "--from", "coco", "--to", "yolo")
    assert code == 1 and "Traceback" not in output, output
    assert f"{shelf} is read-only" in output and "choose a writable folder" in output


def test_export_from_a_read_only_model_folder_writes_here(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch, caplog
) -> None:
    from posekit.inference.export import export

    store = tmp_path / "store" / "vitpose-t"
    shutil.copytree(tiny_model_dir, store, ignore=shutil.ignore_patterns("*.onnx"))
    _read_only(monkeypatch, store)
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.WARNING, "posekit.inference.export"):
        result = export(str(store))
    assert result.path == Path("vitpose-t.onnx") and (tmp_path / "vitpose-t.onnx").is_file()
    assert f"{store} is read-only: writing vitpose-t.onnx instead" in caplog.text
    assert not (store / "model.onnx").exists()


# ------------------------------------------------------------------------ one image reader for every command
def _labelled_set(tmp_path: Path, tiny_sample: Path) -> tuple[Path, dict]:
    """A copy of the tiny sample's val split (its JSON and images) to damage."""
    import json

    folder = tmp_path / "set"
    shutil.copytree(tiny_sample.parent / "images" / "val", folder / "images")
    coco = json.loads((tiny_sample.parent / "val.json").read_text())
    return folder, coco


def _check_errors(folder: Path, coco: dict) -> list[str]:
    import json

    from posekit.datasets.validation import validate

    (folder / "ann.json").write_text(json.dumps(coco))
    return [i.message for i in validate(str(folder / "ann.json"), images=folder / "images").errors]


def test_check_and_training_give_one_answer_on_damaged_images(tmp_path: Path, tiny_sample: Path) -> None:
    from posekit.datasets.image_reader import read_image
    from posekit.errors import DataError

    folder, coco = _labelled_set(tmp_path, tiny_sample)
    first, second = coco["images"][0], coco["images"][1]
    path = folder / "images" / first["file_name"]
    # resized after labelling: check and the reader training uses say the same
    image = cv2.imread(str(path))
    cv2.imwrite(str(path), cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2)))
    with pytest.raises(DataError) as refused:
        read_image(path, (first["width"], first["height"]))
    assert "label the image again if it was resized" in str(refused.value)
    assert str(refused.value) in _check_errors(folder, coco)
    # truncated JPEG: named with its path by both (never libjpeg's warning alone)
    other = folder / "images" / second["file_name"]
    data = other.read_bytes()
    other.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=f"{other.name} is truncated") as refused:
        read_image(other)
    assert str(refused.value) in _check_errors(folder, coco)


def test_images_only_pil_reads_are_read_everywhere(tmp_path: Path) -> None:
    from PIL import Image

    from posekit.datasets.image_reader import read_image
    from posekit.inference.sources import resolve_source

    pixels = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "shot.tga")
    assert cv2.imread(str(tmp_path / "shot.tga")) is None  # OpenCV cannot: PIL decodes it
    assert np.array_equal(read_image(tmp_path / "shot.tga"), pixels)
    assert resolve_source(str(tmp_path)).items == [tmp_path / "shot.tga"]


def test_decompression_bombs_are_refused_before_decoding(tmp_path: Path, monkeypatch) -> None:
    import posekit.datasets.image_reader as reader

    path = _jpeg(tmp_path / "bomb.jpg")
    monkeypatch.setattr(reader, "MAX_PIXELS", 32 * 24 - 1)
    with pytest.raises(PosekitError, match="bomb.jpg has 24x32 = 768 pixels, more than posekit decodes"):
        reader.read_image(path)
    from posekit.inference.sources import resolve_source

    monkeypatch.setattr(cv2, "imread", lambda *a: pytest.fail("decoded a refused image"))
    with pytest.raises(PosekitError, match="more than posekit decodes"):
        list(resolve_source(str(path)))  # predict's frames come from the same reader


# ------------------------------------------------------------------------------------ schemas and flipping
def test_openpose_and_other_naming_styles_get_flip_pairs() -> None:
    from posekit.datasets.schema import KeypointSchema

    names = [
        "Nose",
        "Neck",
        "RShoulder",
        "LShoulder",
        "RBigToe",
        "LBigToe",
        "hand.L",
        "hand.R",
        "kneeL",
        "kneeR",
    ]
    schema = KeypointSchema.from_names(names)
    assert sorted(schema.flip_pairs) == [(3, 2), (5, 4), (6, 7), (8, 9)]
    assert schema.flip_index.tolist() == [0, 1, 3, 2, 5, 4, 7, 6, 9, 8]
    assert KeypointSchema.from_names(["ROOT", "LEG", "tail"]).flip_pairs == []  # capitals alone are no side


def test_flip_pairs_that_are_not_a_mirror_are_refused(tmp_path: Path, tiny_sample: Path, run_cli) -> None:
    import yaml

    config = yaml.safe_load(tiny_sample.read_text())
    for split in ("train", "val"):
        entry = config[split]
        config[split] = (
            {k: str(tiny_sample.parent / v) for k, v in entry.items()}
            if isinstance(entry, dict)
            else str(tiny_sample.parent / entry)
        )
    config["schema"] = {"preset": "coco17", "flip_pairs": [[1, 2], [2, 3]]}
    (tmp_path / "data.yaml").write_text(yaml.safe_dump(config))
    code, output = run_cli("check", tmp_path / "data.yaml")
    assert code == 1 and "Traceback" not in output
    assert "keypoint 2 (right_eye) is in two pairs, [1, 2] and [2, 3]" in " ".join(output.split())


def test_training_never_mirrors_sides_it_cannot_swap(tiny_sample: Path) -> None:
    import dataclasses

    from posekit.datasets.data_config import resolve_data
    from posekit.datasets.schema import KeypointSchema
    from posekit.topdown.augment import AugmentConfig
    from posekit.topdown.training_dataset import TopDownDataset

    dataset = resolve_data(tiny_sample).load_split("train")
    unpaired = dataclasses.replace(dataset, schema=KeypointSchema(names=dataset.schema.names))
    with pytest.raises(
        PosekitError, match="left_eye, right_eye, left_ear.* name a side but have no flip pair"
    ):
        TopDownDataset(unpaired, train=True)
    assert len(TopDownDataset(unpaired, augment=AugmentConfig(flip_prob=0), train=True)) > 0
    assert len(TopDownDataset(dataset, train=True)) > 0


# ------------------------------------------------------------------------------------ people left out
def test_labelled_people_marked_crowd_are_counted_by_check_train_and_val(
    tmp_path: Path, tiny_sample: Path, run_cli, caplog
) -> None:
    import json

    from posekit.datasets.data_config import resolve_data

    folder, coco = _labelled_set(tmp_path, tiny_sample)
    people = [a for a in coco["annotations"] if not a.get("iscrowd") and a["num_keypoints"] > 0]
    for person in people[:2]:
        person["iscrowd"] = 1
    (folder / "ann.json").write_text(json.dumps(coco))
    code, output = run_cli("check", folder / "ann.json", "--images", folder / "images")
    text = " ".join(output.split())
    ids = f"{people[0]['id']}, {people[1]['id']}"
    said = f"2 people with labelled keypoints are marked iscrowd=1 (annotation(s) {ids})"
    assert said in text and "set iscrowd to 0" in text
    with caplog.at_level(logging.WARNING, "posekit.datasets.data_config"):
        for split in ("train", "val"):
            resolve_data(folder / "ann.json", images=folder / "images").load_split(split)
    assert caplog.text.count(said) == 2 and "train split" in caplog.text and "val split" in caplog.text


# ----------------------------------------------------------------------------------- numbers out of range
@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["images"][0].update(id=1e19), "images[0] has no integer 'id' (got 1e+19)"),
        (lambda c: c["images"][0].update(id=1e300), "images[0] has no integer 'id' (got 1e+300)"),
        (lambda c: c["annotations"][0].update(id=1e19), "annotations[0] has no integer 'id' (got 1e+19)"),
        (lambda c: c["images"][0].update(width=1e30), "width/height must be positive integers up to"),
        (lambda c: c["annotations"][0]["bbox"].__setitem__(2, 1e300), "more than 4 times its image"),
    ],
)
def test_numbers_no_record_can_hold_are_named_at_their_record(
    tmp_path: Path, tiny_sample: Path, edit, message
) -> None:
    folder, coco = _labelled_set(tmp_path, tiny_sample)
    edit(coco)
    assert any(message in error for error in _check_errors(folder, coco)), _check_errors(folder, coco)


def test_an_integer_beyond_64_bits_names_its_record_and_field(
    tmp_path: Path, tiny_sample: Path, run_cli
) -> None:
    import json

    folder, coco = _labelled_set(tmp_path, tiny_sample)
    coco["images"][1]["width"] = 123456789
    text = json.dumps(coco).replace("123456789", "1" + "0" * 30)
    (folder / "ann.json").write_text(text)
    code, output = run_cli("check", folder / "ann.json", "--images", folder / "images")
    assert code == 1 and "Traceback" not in output
    assert "does not fit in 64 bits at images[1].width (line 1, column" in " ".join(output.split())


def test_detection_ids_written_as_floats_beyond_64_bits_are_refused(tmp_path: Path) -> None:
    import json

    from posekit.datasets.results_file import load_detections

    entry = {"image_id": 1e19, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.9}
    (tmp_path / "det.json").write_text(json.dumps([entry]))
    with pytest.raises(PosekitError, match="field 'image_id' must be an integer, got 1e\\+19"):
        load_detections(tmp_path / "det.json")


def test_boxes_wholly_outside_their_image_find_no_people(tmp_path: Path, caplog) -> None:
    from posekit.inference.boxes import BoxProvider
    from posekit.inference.sources import resolve_source

    frame = next(iter(resolve_source(str(_jpeg(tmp_path / "7.jpg")))))  # 24 x 32
    boxes = np.array([[100000, 100000, 20, 20], [-5, 4, 10, 1e300], [2, 3, 4, 5]], dtype=float)
    provider = BoxProvider({7: boxes})
    xywh, scores = provider(frame)
    assert xywh.tolist() == [[0, 4, 5, 28], [2, 3, 4, 5]] and scores.tolist() == [1, 1]
    with caplog.at_level(logging.WARNING, "posekit.inference.boxes"):
        provider.check_matched(1)
    assert "1 box(es) wholly outside their image left out" in caplog.text


# --------------------------------------------------------------------------------------------- damaged files
def test_cvat_skeleton_drawing_that_is_not_xml_loses_only_its_edges(tmp_path: Path) -> None:
    from test_formats_cvat import _xml_export

    from posekit.datasets.formats import convert

    xml = _xml_export(tmp_path / "export")
    xml.write_text(xml.read_text().replace("&lt;/circle&gt;", "", 1))  # an element left open
    report = convert(tmp_path / "export", tmp_path / "coco", "cvat")
    assert report.splits["train"]["people"] == 2
    assert "1 malformed <svg> drawing(s) of skeleton 's1': its edges dropped" in report.notes


def test_onnx_metadata_that_disagrees_with_its_graph_is_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    import json

    import onnx

    from posekit.datasets.schema import get_preset
    from posekit.inference.export import export
    from posekit.inference.onnx_runtime import METADATA_KEY, OnnxRunner

    path = export(str(tiny_model_dir), output=tmp_path / "model.onnx").path
    proto = onnx.load(str(path))
    entry = next(p for p in proto.metadata_props if p.key == METADATA_KEY)
    meta = json.loads(entry.value)
    meta["schema"] = get_preset("hand21").to_dict()
    meta["processor"]["input_size"] = [256, 192]
    entry.value = json.dumps(meta)
    onnx.save(proto, str(path))
    with pytest.raises(PosekitError, match="metadata disagrees with its graph") as refused:
        OnnxRunner(path)
    assert "input 3x256x192 (the graph: 3x64x48)" in str(refused.value)
    assert "heatmaps 21x16x12 (the graph: 17x16x12)" in str(refused.value)


def test_a_detector_whose_weights_hold_python_objects_is_refused_for_safety(tmp_path: Path, run_cli) -> None:
    import torch

    from posekit.models.detector import save_random_detector

    folder = Path(save_random_detector(tmp_path / "detector"))
    (folder / "model.safetensors").unlink()
    torch.save({"payload": Path("anything")}, folder / "pytorch_model.bin")  # a pickled object, not a tensor
    image = _jpeg(tmp_path / "a.jpg")
    code, output = run_cli(
        "predict",
        "--model",
        "vitpose-t",
        "--pretrained",
        "none",
        "--source",
        image,
        "--detector",
        folder,
        "--project",
        tmp_path / "runs",
    )
    assert code == 1 and "Traceback" not in output, output
    assert "person detector weights refused for safety" in " ".join(output.split())


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"model: vitpose-b\nepochs: 3\n", "a text file (it starts with 'model: vitpose-b')"),
        (b'{"architectures": ["VitPoseForPoseEstimation"]}', "a JSON file"),
        (
            b"<!DOCTYPE html><html><body>Sign in</body></html>",
            "a web page (HTML), probably a failed download",
        ),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\n", "a Git LFS pointer"),
    ],
)
@pytest.mark.parametrize("name", ["model.pth", "model.onnx"])
def test_a_file_that_is_not_weights_is_named_for_what_it_is(
    tmp_path: Path, run_cli, content, kind, name
) -> None:
    weights = tmp_path / name
    weights.write_bytes(content)
    code, output = run_cli(
        "predict",
        "--model",
        weights,
        "--source",
        _jpeg(tmp_path / "a.jpg"),
        "--boxes",
        "full",
        "--project",
        tmp_path / "runs",
    )
    text = " ".join(output.split())
    assert code == 1 and "Traceback" not in output and f"is {kind}" in text, output
    assert "truncated" not in text


def test_sigmas_never_writes_over_the_annotations_it_reads(
    tmp_path: Path, tiny_sample: Path, run_cli
) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    shutil.copy(tiny_sample.parent / "val.json", first)
    shutil.copy(tiny_sample.parent / "val.json", second)
    before = first.read_bytes()
    code, output = run_cli("sigmas", first, second, "--out", first)
    assert code == 1 and "Traceback" not in output
    assert "is the input" in output and "choose another --out" in " ".join(output.split())
    assert first.read_bytes() == before
