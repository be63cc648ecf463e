"""RapidOCR's text detector and recogniser, loaded once per process and shared by threads.

The models ship inside the ``rapidocr-onnxruntime`` wheel (PP-OCRv4 detection and
recognition, ONNX): nothing is downloaded. The angle classifier is not loaded (plates are
upright within the roll this reader handles). ONNX Runtime sessions may be run from
several threads at once; everything else here is per call, so one :class:`OcrModels`
serves every camera and worker thread of the plug-in.

This uses RapidOCR's pieces (its session wrapper, DB post-processing and recogniser) as of
``rapidocr-onnxruntime`` 1.4.4, not its whole-image pipeline: the reader decides where and
at which scale to detect, and what to recognise.
"""

from __future__ import annotations

import resource
import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
Quad = npt.NDArray[np.float32]  # 4x2 corner points: top-left, top-right, bottom-right, bottom-left

_DET_MULTIPLE = 32  # the detector's input sides are multiples of 32
_REC_HEIGHT = 48  # the recogniser's input height


class OcrModels:
    """The detector and recogniser sessions, each running on ``threads`` ONNX threads."""

    def __init__(self, threads: int = 1) -> None:
        before = _peak_rss()
        import rapidocr_onnxruntime as rapidocr  # type: ignore[import-untyped]
        from rapidocr_onnxruntime.ch_ppocr_det.utils import (  # type: ignore[import-untyped]
            DBPostProcess,
        )
        from rapidocr_onnxruntime.ch_ppocr_rec import (  # type: ignore[import-untyped]
            TextRecognizer,
        )
        from rapidocr_onnxruntime.utils import OrtInferSession  # type: ignore[import-untyped]

        models = Path(rapidocr.__file__).parent / "models"
        onnx = {"intra_op_num_threads": threads, "inter_op_num_threads": 1}
        self._detector: Any = OrtInferSession(
            {"model_path": str(models / "ch_PP-OCRv4_det_infer.onnx"), **onnx}
        )
        # RapidOCR's defaults, but fewer candidates: a region holds a vehicle, not a page.
        self._boxes: Any = DBPostProcess(
            thresh=0.3,
            box_thresh=0.5,
            max_candidates=100,
            unclip_ratio=1.6,
            use_dilation=True,
            score_mode="fast",
        )
        self._recogniser: Any = TextRecognizer(
            {
                "model_path": str(models / "ch_PP-OCRv4_rec_infer.onnx"),
                "rec_img_shape": [3, _REC_HEIGHT, 320],
                "rec_batch_num": 6,
                **onnx,
            }
        )
        # What loading added to the process's peak memory (the import, the sessions).
        self.loaded_bytes = max(0, _peak_rss() - before)

    def detect(self, region: Image, scale: float) -> list[Quad]:
        """Text boxes in ``region`` (BGR), detected on a copy scaled by ``scale``, in
        ``region``'s pixels."""
        height, width = region.shape[:2]
        size = (_multiple(width * scale), _multiple(height * scale))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        scaled = cv2.resize(region, size, interpolation=interpolation)
        tensor = (scaled.astype(np.float32) * (2 / 255) - 1).transpose(2, 0, 1)[np.newaxis]
        prediction = self._detector(tensor)[0]
        boxes, _ = self._boxes(prediction, (height, width))
        return [np.asarray(box, dtype=np.float32) for box in boxes]

    def recognise(self, crops: list[Image]) -> list[tuple[str, float]]:
        """The text and confidence of each crop (text running left to right)."""
        if not crops:
            return []
        results, _ = self._recogniser(crops)
        return [(str(text), float(score)) for text, score in results]


def _peak_rss() -> int:
    """This process's peak resident memory in bytes (Linux counts ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _multiple(length: float) -> int:
    return max(_DET_MULTIPLE, round(length / _DET_MULTIPLE) * _DET_MULTIPLE)


_shared: dict[int, OcrModels] = {}
_shared_lock = threading.Lock()


def shared_models(threads: int = 1) -> OcrModels:
    """The process's models (loaded on first use: about 1 s and 30 MB of weights)."""
    with _shared_lock:
        models = _shared.get(threads)
        if models is None:
            models = _shared[threads] = OcrModels(threads)
        return models


REC_HEIGHT = _REC_HEIGHT
