"""Object keypoint similarity (OKS), the COCO formula, vectorised with numpy broadcasting.

``OKS = mean_i exp(-d_i^2 / (2 s^2 k_i^2))`` with ``s^2`` the object area and ``k_i = 2 sigma_i``,
exactly as pycocotools' ``COCOeval.computeOks`` writes it (including its ``np.spacing(1)`` guard).
The COCO AP itself comes from faster-coco-eval (``metrics/coco.py``); this module serves the
numpy-side users: OKS-NMS, per-keypoint OKS terms, matching predictions to people.
"""

from __future__ import annotations

import numpy as np


def oks_terms(
    pred: np.ndarray, target: np.ndarray, area: np.ndarray | float, sigmas: np.ndarray
) -> np.ndarray:
    """Per-keypoint OKS terms ``exp(-d^2 / (2 area (2 sigma)^2))``.

    ``pred`` and ``target`` are ``(..., K, 2)`` (broadcast against each other), ``area`` broadcasts
    against their leading dimensions; returns ``(..., K)``.
    """
    d2 = np.sum((np.asarray(pred, np.float64) - np.asarray(target, np.float64)) ** 2, axis=-1)
    variances = (2 * np.asarray(sigmas, np.float64)) ** 2
    area = np.asarray(area, np.float64)[..., None]
    return np.exp(-d2 / variances / (area + np.spacing(1)) / 2)


def oks(
    pred: np.ndarray,
    target: np.ndarray,
    area: np.ndarray | float,
    sigmas: np.ndarray,
    visible: np.ndarray | None = None,
) -> np.ndarray:
    """OKS averaged over the keypoints where ``visible`` is true (all when None); 0 where none is.

    Pairwise, N predictions against M people: ``oks(pred[:, None], gt[None], area[None], s, vis[None])``.
    """
    terms = oks_terms(pred, target, area, sigmas)
    if visible is None:
        return terms.mean(axis=-1)
    visible = np.broadcast_to(np.asarray(visible, bool), terms.shape)
    count = visible.sum(axis=-1)
    return np.where(count > 0, (terms * visible).sum(axis=-1) / np.maximum(count, 1), 0.0)


def coco_oks(
    gt_keypoints: np.ndarray,
    gt_area: np.ndarray | float,
    pred_keypoints: np.ndarray,
    sigmas: np.ndarray,
    gt_box: np.ndarray | None = None,
) -> np.ndarray:
    """OKS of D predictions against G annotated people with pycocotools' ``computeOks`` semantics.

    ``gt_keypoints`` (G, K, 3) or (K, 3) with visibility v; only keypoints with v > 0 count. A person
    with no labelled keypoint is scored by how far each predicted keypoint falls outside its box grown
    by its width and height on each side (``gt_box`` (G, 4) xywh, required for such people), averaged
    over all K.
    ``pred_keypoints`` (D, K, 2|3) or (K, 2|3). Returns (D, G); single inputs drop their axis.
    """
    gt = np.asarray(gt_keypoints, np.float64)
    pred = np.asarray(pred_keypoints, np.float64)
    single_gt, single_pred = gt.ndim == 2, pred.ndim == 2
    gt, pred = gt.reshape(-1, *gt.shape[-2:]), pred.reshape(-1, *pred.shape[-2:])
    area = np.broadcast_to(np.asarray(gt_area, np.float64), (gt.shape[0],))
    labelled = gt[..., 2] > 0  # (G, K)
    delta = pred[:, None, :, :2] - gt[None, :, :, :2]  # (D, G, K, 2)
    unlabelled = ~labelled.any(axis=1)
    if unlabelled.any():
        if gt_box is None:
            raise ValueError("coco_oks needs gt_box for people without labelled keypoints")
        box = np.asarray(gt_box, np.float64).reshape(-1, 4)[unlabelled]  # (U, 4)
        low, high = box[:, :2] - box[:, 2:], box[:, :2] + 2 * box[:, 2:]  # grown by w, h on each side
        p = pred[:, None, :, :2]  # (D, 1, K, 2)
        outside = np.maximum(0, low[None, :, None] - p) + np.maximum(0, p - high[None, :, None])
        delta[:, unlabelled] = outside
    terms = oks_terms(delta, 0.0, area[None, :], sigmas)  # (D, G, K)
    counted = np.where(unlabelled[:, None], True, labelled)  # (G, K)
    out = (terms * counted).sum(axis=-1) / counted.sum(axis=-1)
    if single_gt:
        out = out[:, 0]
    if single_pred:
        out = out[0]
    return out
