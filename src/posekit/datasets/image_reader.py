"""Reading image files as RGB arrays, with one clear error for a missing or undecodable file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from posekit.errors import DataError

_IMREAD_RGB = getattr(cv2, "IMREAD_COLOR_RGB", None)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3): grey, RGBA and 16-bit files are converted.

    Raises DataError naming the file when it is missing or cannot be decoded.
    """
    path = Path(path)
    # IMREAD_COLOR* turn grey/RGBA/16-bit into 8-bit colour and apply the EXIF orientation (as mmpose);
    # OpenCV >= 4.10 decodes straight to RGB (saves a conversion pass).
    image = cv2.imread(str(path), _IMREAD_RGB if _IMREAD_RGB is not None else cv2.IMREAD_COLOR)
    if image is None:
        if not path.is_file():
            raise DataError(f"image file not found: {path}; check the image root (--images) and file_name")
        raise DataError(f"cannot decode image {path}: the file is corrupt or not an image; re-save it")
    return image if _IMREAD_RGB is not None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
