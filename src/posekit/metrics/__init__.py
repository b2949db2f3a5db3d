"""Metrics as pure functions of predictions and ground truth: COCO OKS AP/AR, PCK/PCKh, per-keypoint, error
types, video (MOTA, id switches, jitter), and the OKS-NMS of people. No drawing, no console, no files."""

#: The NMS threshold of each mode when none is given (:mod:`posekit.metrics.nms`): the mmpose defaults
#: (OKS-NMS at 0.9 is the ViTPose evaluation protocol). Here, without numpy, so that the settings (and
#: ``posekit --help``) read the one place of these numbers cheaply.
NMS_THRESHOLDS = {"oks": 0.9, "soft": 0.3}
