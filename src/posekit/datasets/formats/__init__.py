"""Bring your data from anywhere: conversions between COCO keypoints (posekit's format) and other
labelling formats, one module per format.

- :mod:`~posekit.datasets.formats.yolo`: Ultralytics YOLO pose, read and written (and read on the fly by
  ``--data their.yaml``);
- :mod:`~posekit.datasets.formats.cvat`: CVAT's "COCO Keypoints 1.0" and "CVAT for images 1.1" exports, read;
- :mod:`~posekit.datasets.formats.label_studio`: Label Studio JSON exports of keypoint tasks, read;
- :mod:`~posekit.datasets.formats.coco_writer`: the COCO output, checked by posekit's loader as it is written;
- :mod:`~posekit.datasets.formats.conversion`: :func:`convert`, from any source to COCO or YOLO.
"""

from posekit.datasets.formats.common import ConversionReport
from posekit.datasets.formats.conversion import convert

__all__ = ["ConversionReport", "convert"]
