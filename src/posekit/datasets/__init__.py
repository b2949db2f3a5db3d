"""Keypoint data as users bring it: reading and validating COCO keypoint JSON (one validator decides for
check, train, val and audit), keypoint schemas and their presets, data YAML files, results and detections
files, the hostile-text JSON/YAML readers, the image reader, and converters from other tools' formats
(``formats/``: YOLO pose, CVAT, Label Studio). Imports only the base layer; nothing here knows a model."""
