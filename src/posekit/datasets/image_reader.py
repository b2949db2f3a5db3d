"""Reading image files as RGB arrays: the one reader behind check, train, val, audit and predict, so that an
image is accepted or refused with the same message everywhere.

OpenCV decodes (the fastest JPEG/PNG path); PIL reads the header first, which refuses decompression bombs
before any pixel is decoded, finds the size as decoded (EXIF orientation applied), decodes what OpenCV
cannot (TGA, some TIFFs) and tells a truncated file, which libjpeg only warns about, from a whole one.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

from posekit.errors import DataError

_IMREAD_RGB = getattr(cv2, "IMREAD_COLOR_RGB", None)
_EXIF_ORIENTATION = 0x0112
#: Largest image posekit decodes, in pixels: PIL's decompression-bomb limit (~179 megapixels, 537 MB as RGB).
MAX_PIXELS = 2 * Image.MAX_IMAGE_PIXELS
_JPEG_END = b"\xff\xd9"


@dataclass(frozen=True)
class ImageHeader:
    """What an image file's header says: ``size`` (width, height) as :func:`read_image` returns it (EXIF
    orientations 5-8 swap the sides, as OpenCV applies them), the EXIF orientation and PIL's format name."""

    size: tuple[int, int]
    orientation: int
    format: str


def image_header(path: str | Path) -> ImageHeader | None:
    """The header of the image file ``path`` (no pixel decoded); None for a format PIL does not know (OpenCV
    may: EXR, HDR...). Raises :class:`DataError` naming the file when it is missing, unreadable or larger
    than :data:`MAX_PIXELS`."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"image file not found: {path}; check the image root (--images) and file_name")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the limit is ours, below
            with Image.open(path) as image:
                width, height = image.size
                orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
                fmt = image.format or ""
    except Image.UnidentifiedImageError:
        return None
    except Image.DecompressionBombError as error:
        raise DataError(_too_large(path, str(error).split(" pixels ")[0].split()[-1])) from None
    except Exception as error:  # PIL raises several types for a damaged header
        raise DataError(
            f"cannot read image {path}: {type(error).__name__}: {error}; re-save or replace it"
        ) from None
    if width * height > MAX_PIXELS:
        raise DataError(_too_large(path, f"{width}x{height} = {width * height}"))
    turned = orientation in (5, 6, 7, 8)
    return ImageHeader((height, width) if turned else (width, height), orientation if turned else 0, fmt)


def _too_large(path: Path, pixels: str) -> str:
    return (
        f"image {path} has {pixels} pixels, more than posekit decodes ({MAX_PIXELS / 1e6:.0f} megapixels; a "
        "decompression bomb?): shrink it or remove it"
    )


def size_mismatch(path: Path, header: ImageHeader, width: int, height: int) -> str | None:
    """The message for an image whose decoded size differs from the ``width``/``height`` its labels were made
    on (resized after labelling: boxes and keypoints no longer fit it), or None when they agree."""
    if header.size == (width, height):
        return None
    turned = (
        f" (after EXIF orientation {header.orientation}, as posekit reads it)" if header.orientation else ""
    )
    return (
        f"image file {path} is width {header.size[0]}, height {header.size[1]}{turned} but the JSON says "
        f"width {width}, height {height}: write the real size, or label the image again if it was resized"
    )


def read_image(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3): grey, RGBA and 16-bit files are converted, the EXIF
    orientation applied. ``size``: the (width, height) the labels were made on, checked.

    Raises :class:`DataError` naming the file when it is missing, truncated, too large, cannot be decoded or
    (with ``size``) has another size.
    """
    path = Path(path)
    header = image_header(path)
    if size is not None and header is not None and (problem := size_mismatch(path, header, *size)):
        raise DataError(problem)
    if header is not None and header.format == "JPEG" and not _ends_whole(path):
        return _pil_decode(path)  # most likely truncated (PIL says so); else data after the image: fine
    image = cv2.imread(str(path), _IMREAD_RGB if _IMREAD_RGB is not None else cv2.IMREAD_COLOR)
    if image is None:
        if header is None:
            raise DataError(f"cannot decode image {path}: the file is corrupt or not an image; re-save it")
        return _pil_decode(path)
    return image if _IMREAD_RGB is not None else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _ends_whole(path: Path) -> bool:
    """Whether a JPEG file ends with its end-of-image marker (padding after it ignored)."""
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - 64))
        return f.read().rstrip(b"\0\r\n ").endswith(_JPEG_END)


def _pil_decode(path: Path) -> np.ndarray:
    """Decode with PIL (formats OpenCV lacks; JPEGs that may be truncated): RGB uint8, EXIF orientation
    applied; a truncated or damaged file is one :class:`DataError` naming it."""
    try:
        with Image.open(path) as image:
            image.load()
            rgb = ImageOps.exif_transpose(image).convert("RGB")
    except OSError as error:
        if "truncated" in str(error):
            raise DataError(
                f"image {path} is truncated (the file ends before its pixels do): copy it again or re-save it"
            ) from None
        raise DataError(f"cannot decode image {path}: {error}; re-save or replace it") from None
    return np.asarray(rgb)
