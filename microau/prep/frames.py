"""Reading a frame file strictly: what is damage (pixels lost) and what is a harmless warning.

OpenCV decodes a truncated or partly overwritten JPEG and reports success; libjpeg's warning
("Premature end of JPEG file", "Corrupt JPEG data: ...") goes to the C stderr only, and the
missing part comes out flat grey. So every frame is checked before its pixels are used
(:func:`check_image`):

* a JPEG must hold its end-of-image marker after its last start-of-scan marker (0xFF cannot begin
  a marker inside entropy-coded data, so a trailer or an embedded thumbnail does not fool this),
  and libjpeg-turbo (``simplejpeg``, strict) must decode it without a warning;
* one warning is accepted, with a counted note: **stray bytes between the header's segments**
  ("N extraneous bytes before marker 0xdb", as some cameras and converters write them). They lie
  outside every segment and outside the image data; the check removes them, decodes the rest
  strictly (no further warning allowed) and compares every pixel with the file as it is;
* the same message about bytes *after the image data* ("... before marker 0xd9") is damage: libjpeg
  reports it for a scan whose data were overwritten or cut out too (the decoder runs out of
  blocks early), and the two cannot be told apart from the file alone. So are truncation, "premature
  end of data segment", bad Huffman codes and every other warning;
* other formats must decode in full with Pillow, which refuses truncated data; a format Pillow does
  not know is left to OpenCV alone.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

JPEG_SOS = b"\xff\xda"  # start of scan: entropy-coded data follow
JPEG_EOI = b"\xff\xd9"  # end of image
# what the preparation's fallback list calls a frame read with an accepted warning
NOTE_STRAY_HEADER_BYTES = "jpeg_stray_header_bytes"
DROP_HINT = ("Restore the file from your copy of the data set, or leave clips with damaged frames "
             "out with --on-damaged-frame drop (they are counted and listed)")
_EXTRANEOUS = re.compile(r"(\d+) extraneous bytes before marker 0x([0-9a-f]{2})", re.IGNORECASE)
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # markers without a length field (TEM, RSTn)


class UnreadableFrameError(FileNotFoundError):
    """A frame file is missing or cannot be decoded."""


class DamagedFrameError(UnreadableFrameError):
    """A frame file decodes, but its data are damaged (truncated or corrupt); ``reason`` says how."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason

    def __reduce__(self):  # the reason survives the trip from a worker process
        return type(self), (str(self), self.reason)


@dataclass(frozen=True)
class FrameCheck:
    """What :func:`check_image` found: ``damage`` (pixels lost: refuse), or ``note`` (a harmless
    warning, accepted), or neither."""

    damage: str | None = None
    note: str | None = None


def check_image(data: bytes) -> FrameCheck:
    """Whether an image file's bytes are damaged, or carry only a warning that loses no pixel."""
    if data[:2] != b"\xff\xd8":
        return FrameCheck(damage=_pillow_damage(data))
    sos = data.rfind(JPEG_SOS)
    if sos < 0 or data.rfind(JPEG_EOI) < sos:
        return FrameCheck(damage="the JPEG data end before the end-of-image marker (the file is truncated)")
    warning = _jpeg_warning(data)
    if warning is None:
        return FrameCheck()
    stray = _header_stray_bytes(data)
    m = _EXTRANEOUS.search(warning)
    if m and stray and int(m.group(2), 16) not in (0xD9, *range(0xD0, 0xD8)):
        cleaned = _without(data, stray)
        if _jpeg_warning(cleaned) is None and _same_pixels(data, cleaned):
            n = sum(length for _, length in stray)
            return FrameCheck(note=f"{n} stray byte(s) between the JPEG header's segments (libjpeg: "
                                   f"'{warning.removeprefix('libjpeg-turbo reports: ')}'): outside the "
                                   "image data; the frame decodes to the same pixels without them")
    if m and int(m.group(2), 16) == 0xD9:
        warning += (" (bytes left over after the image data: libjpeg says the same of a scan whose "
                    "data were overwritten or cut out, so pixels may be lost)")
    return FrameCheck(damage=warning)


def image_damage(data: bytes) -> str | None:
    """Why an image file's bytes are damaged although OpenCV may decode them, or None (a harmless
    warning included; :func:`check_image` tells it apart)."""
    return check_image(data).damage


def _header_stray_bytes(data: bytes) -> list[tuple[int, int]]:
    """(start, length) of the runs of bytes between the header's marker segments (before the first
    scan) that belong to no segment; [] when the header cannot be walked."""
    stray, pos, n = [], 2, len(data)
    while pos < n - 1:
        if data[pos] != 0xFF:
            nxt = data.find(b"\xff", pos)
            if nxt < 0:
                return []
            stray.append((pos, nxt - pos))
            pos = nxt
            continue
        while pos < n - 1 and data[pos + 1] == 0xFF:  # fill bytes before a marker are legal
            pos += 1
        marker = data[pos + 1]
        if marker in (0xDA, 0xD9):
            return stray
        if marker in _STANDALONE:
            pos += 2
            continue
        if pos + 4 > n:
            return []
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return []


def _without(data: bytes, runs: list[tuple[int, int]]) -> bytes:
    out, last = [], 0
    for start, length in runs:
        out.append(data[last:start])
        last = start + length
    out.append(data[last:])
    return b"".join(out)


def _same_pixels(a: bytes, b: bytes) -> bool:
    import cv2

    da = cv2.imdecode(np.frombuffer(a, np.uint8), cv2.IMREAD_COLOR)
    db = cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_COLOR)
    return da is not None and db is not None and np.array_equal(da, db)


def _jpeg_warning(data: bytes) -> str | None:
    """libjpeg-turbo's first warning or error on a full, strict decode of a JPEG, or None."""
    import simplejpeg

    try:
        space = simplejpeg.decode_jpeg_header(data)[2]
        target = {"Gray": "GRAY", "CMYK": "CMYK", "YCCK": "CMYK"}.get(space, "RGB")
        simplejpeg.decode_jpeg(data, colorspace=target, strict=True)
    except ValueError as err:
        return f"libjpeg-turbo reports: {str(err).strip() or type(err).__name__}"
    return None


def _pillow_damage(data: bytes) -> str | None:
    """Why Pillow cannot decode a (non-JPEG) image in full, or None (also for formats it does not know)."""
    import io

    from PIL import Image, ImageFile

    try:
        img = Image.open(io.BytesIO(data))
    except Exception:  # not a format Pillow knows: OpenCV's decoding decides
        return None
    if ImageFile.LOAD_TRUNCATED_IMAGES:  # another library relaxed Pillow: it cannot judge
        return None
    try:
        img.load()
    except Exception as err:  # OSError('image file is truncated ...'), SyntaxError, decoder errors
        return f"its image data cannot be decoded in full ({type(err).__name__}: {err})"
    return None


def read_frame_checked(path: Path, clip_id: str = "") -> tuple[np.ndarray, str | None]:
    """(uint8 RGB [H, W, 3], the note of an accepted warning or None); grey files are expanded.

    A missing file, one OpenCV cannot decode, and a damaged one raise :class:`UnreadableFrameError`
    (:class:`DamagedFrameError`) naming the file and what to do."""
    import cv2

    p = Path(path)
    where = f" (clip {clip_id})" if clip_id else ""
    if not p.is_file():
        raise UnreadableFrameError(f"frame file not found: {p}{where}")
    data = p.read_bytes()
    found = check_image(data)
    if found.damage:
        raise DamagedFrameError(f"damaged image file {p}{where}: {found.damage}. {DROP_HINT}", found.damage)
    # decoded from the bytes just checked; the same pixels as cv2.imread (EXIF orientation included)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if img is None:
        raise UnreadableFrameError(f"cannot decode image file {p}{where}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB), found.note


def read_frame(path: Path, clip_id: str = "") -> np.ndarray:
    """uint8 RGB [H, W, 3] of a frame file, strictly read (:func:`read_frame_checked`)."""
    return read_frame_checked(path, clip_id)[0]
