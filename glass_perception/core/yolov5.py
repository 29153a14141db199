"""
YOLOv5's anchor-based detection head in an Ultralytics model, so COCO YOLOv5n is kept whole.

Ultralytics 8 builds YOLOv5's backbone and neck (``yolov5n.yaml``: every tensor of layers 0-23
has the official checkpoint's name and shape) but only with its own anchor-free head, which
would throw away what COCO taught the original's. ``YOLOv5DetectionModel`` is Ultralytics'
``DetectionModel`` with the original head put back: ``AnchorDetect``, per level one 1x1
convolution predicting, for each of three anchors, a box, an objectness and the class scores.
Decoded as YOLOv5 decodes it (``xy = (2 sigmoid - 0.5 + cell) * stride``,
``wh = (2 sigmoid)^2 * anchor``, score = objectness x class), its inference output is laid out as
Ultralytics' own, (batch, 4 + classes, boxes) with centre-size boxes in input pixels, so
Ultralytics' predictor and NMS, its ONNX export and ``core.onnx_models`` (the node's ONNX
Runtime path) run it unchanged.

The loss that trains it (YOLOv5's: anchor matching, CIoU, objectness) is the workflow's
(``glass_perception.workflow.yolov5_training``); the robot only runs the model. Importing this
module needs torch and Ultralytics: the ONNX path never imports it.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn
from ultralytics.nn.tasks import DetectionModel, yaml_model_load

#: YOLOv5's COCO anchors (pixels), three per level at strides 8, 16 and 32
YOLOV5_ANCHORS = (
    (10, 13, 16, 30, 33, 23),
    (30, 61, 62, 45, 59, 119),
    (116, 90, 156, 198, 373, 326),
)
STRIDES = (8.0, 16.0, 32.0)


class AnchorDetect(nn.Module):
    """YOLOv5's Detect head; in eval mode returns (batch, 4 + nc, boxes) as Ultralytics does."""

    export = False  # set by an exporter: return the decoded tensor alone
    format = None  # noqa: A003 (the attribute Ultralytics' exporter sets)
    dynamic = False
    max_det = 300  # Ultralytics' predictor sets these on a head; NMS is the caller's here
    agnostic_nms = False
    end2end = False

    def __init__(self, nc: int, anchors=YOLOV5_ANCHORS, ch=(64, 128, 256), strides=STRIDES):
        super().__init__()
        self.nc = nc
        self.no = nc + 5
        self.nl = len(anchors)
        self.na = len(anchors[0]) // 2
        self.stride = torch.tensor(strides, dtype=torch.float32)
        # in grid cells of each level, as YOLOv5 keeps them (its state dict's ``anchors``)
        cells = torch.tensor(anchors, dtype=torch.float32).view(self.nl, self.na, 2)
        self.register_buffer('anchors', cells / self.stride.view(-1, 1, 1))
        self.m = nn.ModuleList(nn.Conv2d(c, self.no * self.na, 1) for c in ch)

    def bias_init(self):
        """YOLOv5's prior: about 8 objects per 640 image, class scores near 0.6 / nc."""
        for conv, s in zip(self.m, self.stride.tolist()):
            b = conv.bias.view(self.na, -1)
            b.data[:, 4] += math.log(8 / (640 / s) ** 2)
            b.data[:, 5:] += math.log(0.6 / (self.nc - 0.99)) if self.nc > 1 else 0.0

    def forward(self, x: list[torch.Tensor]):
        raw = []
        for i in range(self.nl):
            p = self.m[i](x[i])
            bs, _, ny, nx = p.shape
            raw.append(p.view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous())
        if self.training:
            return raw
        y = self.decode(raw)
        return y if self.export or torch.onnx.is_in_onnx_export() else (y, raw)

    def decode(self, raw: list[torch.Tensor]) -> torch.Tensor:
        """(batch, 4 + nc, boxes): centre x, y, width, height in input pixels, then scores."""
        out = []
        for i, p in enumerate(raw):
            bs, na, ny, nx, _ = p.shape
            stride = self.stride[i].to(p.device)
            yv, xv = torch.meshgrid(
                torch.arange(ny, device=p.device, dtype=p.dtype),
                torch.arange(nx, device=p.device, dtype=p.dtype),
                indexing='ij',
            )
            grid = torch.stack((xv, yv), 2).view(1, 1, ny, nx, 2)
            anchor = (self.anchors[i].to(p.dtype) * stride).view(1, na, 1, 1, 2)
            s = p.sigmoid()
            xy = (s[..., :2] * 2 - 0.5 + grid) * stride
            wh = (s[..., 2:4] * 2) ** 2 * anchor
            scores = s[..., 5:] * s[..., 4:5]
            out.append(torch.cat((xy, wh, scores), -1).view(bs, -1, 4 + self.nc))
        return torch.cat(out, 1).permute(0, 2, 1)


class YOLOv5DetectionModel(DetectionModel):
    """Ultralytics' YOLOv5n backbone and neck with YOLOv5's own anchor-based head."""

    def __init__(self, cfg='yolov5n.yaml', ch=3, nc=80, anchors=YOLOV5_ANCHORS, verbose=False):
        cfg = copy.deepcopy(cfg) if isinstance(cfg, dict) else yaml_model_load(cfg)
        head_from = cfg['head'][-1][0]
        cfg['head'][-1] = [head_from, 1, 'Detect', ['nc']]  # what Ultralytics builds first
        super().__init__(cfg, ch=ch, nc=nc, verbose=False)
        old = self.model[-1]
        widths = [seq[0].conv.in_channels for seq in old.cv2]
        head = AnchorDetect(nc, anchors, widths, STRIDES)
        head.i, head.f, head.type = old.i, old.f, 'AnchorDetect'
        head.np = sum(p.numel() for p in head.parameters())
        head.bias_init()
        self.model[-1] = head
        self.stride = head.stride
        # the yaml says what this model is: the anchors and a head whose name still contains
        # 'detect' (Ultralytics guesses the task from it)
        self.yaml['head'][-1] = [head_from, 1, 'AnchorDetect', [nc, [list(a) for a in anchors]]]
        self.yaml['anchors'] = [list(a) for a in anchors]
        if verbose:
            self.info()

    def _apply(self, fn):
        super()._apply(fn)
        head = self.model[-1]
        head.stride = fn(head.stride)
        self.stride = head.stride
        return self

    def init_criterion(self):
        raise NotImplementedError(
            "a YOLOv5 model's loss comes with its trainer: glass-train-detector "
            '(glass_perception.workflow.yolov5_training)'
        )
