"""
YOLOv5 (anchor-based) trained in Ultralytics: the COCO checkpoint converted, its loss, its trainer.

``coco_model`` turns the official checkpoint (read safely by ``workflow.pretrained``) into a
``core.yolov5.YOLOv5DetectionModel``, keeping a subset of COCO's classes (the detector keeps
``cup``, ``wine glass``, ``bottle`` and ``bowl``) by keeping those rows of the head: for them
the converted model gives the original's boxes and scores. ``save_checkpoint`` writes it as an
Ultralytics checkpoint that ``YOLO(path)``, ``glass-export-detector`` and the detector node load.
"""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path

import torch

from .pretrained import YOLOv5Weights
from ..core.atomic import atomic_path
from ..core.yolov5 import YOLOv5DetectionModel

#: what the project's detector keeps of COCO (names as COCO spells them)
DETECTOR_COCO_CLASSES = ('cup', 'wine glass', 'bottle', 'bowl')


def coco_model(weights: YOLOv5Weights, classes=None) -> YOLOv5DetectionModel:
    """Build the checkpoint's network with ``classes`` (names; default all) kept, in eval mode."""
    classes = list(weights.names if classes is None else classes)
    missing = [c for c in classes if c not in weights.names]
    if missing:
        raise ValueError(f'{missing} are not classes of the checkpoint ({len(weights.names)})')
    keep = [weights.names.index(c) for c in classes]
    anchors = [tuple(float(v) for v in level.reshape(-1)) for level in weights.anchors]
    model = YOLOv5DetectionModel('yolov5n.yaml', nc=len(classes), anchors=anchors)
    state = dict(weights.state)
    head = model.model[-1]
    rows = list(range(5)) + [5 + k for k in keep]
    old_no = 5 + len(weights.names)
    for i in range(head.nl):
        for part in ('weight', 'bias'):
            key = f'model.{head.i}.m.{i}.{part}'
            t = state[key]
            t = t.view(head.na, old_no, *t.shape[1:])[:, rows]
            state[key] = t.reshape(head.na * head.no, *t.shape[2:])
    own = model.state_dict()
    extra = sorted(set(state) - set(own))
    absent = sorted(k for k in set(own) - set(state) if not k.endswith('num_batches_tracked'))
    if extra or absent:
        raise ValueError(f'checkpoint and model differ: extra {extra[:3]}, missing {absent[:3]}')
    for k, v in state.items():
        if v.shape != own[k].shape:
            here = tuple(own[k].shape)
            raise ValueError(f'{k}: {tuple(v.shape)} in the checkpoint, {here} here')
    model.load_state_dict(state, strict=False)
    model.names = dict(enumerate(classes))
    return model.eval()


def save_checkpoint(model: YOLOv5DetectionModel, path: Path | str, imgsz: int = 640) -> Path:
    """Write ``model`` as an Ultralytics checkpoint (what ``YOLO(path)`` loads), atomically."""
    import ultralytics

    path = Path(path)
    ckpt = {
        'epoch': -1,
        'best_fitness': None,
        'model': None,
        'ema': model.float().eval(),
        'updates': None,
        'optimizer': None,
        'train_args': {'task': 'detect', 'imgsz': imgsz, 'model': str(path)},
        'date': datetime.now().isoformat(),
        'version': ultralytics.__version__,
    }
    with atomic_path(path) as tmp:
        torch.save(ckpt, str(tmp))
    return path


class YOLOv5Loss:
    """
    YOLOv5's loss, written from its description.

    Each true box is matched to the anchors whose shape it fits within
    ``anchor_t`` times, in its own cell and the two nearest neighbours; CIoU for the matched
    boxes, binary cross-entropy for their classes and for objectness everywhere (target: the
    match's IoU), the small-object level weighted most. Gains as YOLOv5's hyp.scratch-low,
    scaled by the number of classes and the input size as YOLOv5 scales them.
    """

    BALANCE = (4.0, 1.0, 0.4)
    #: a cell and its neighbours: left, up, right, down (half a cell away)
    OFFSETS = ((0, 0), (1, 0), (0, 1), (-1, 0), (0, -1))

    def __init__(self, model, imgsz: int = 640, anchor_t: float = 4.0):
        self.head = model.model[-1]
        nl, nc = self.head.nl, self.head.nc
        self.anchor_t = anchor_t
        self.gain_box = 0.05 * 3 / nl
        self.gain_cls = 0.5 * nc / 80 * 3 / nl
        self.gain_obj = 1.0 * (imgsz / 640) ** 2 * 3 / nl
        self.bce = torch.nn.BCEWithLogitsLoss()

    def __call__(self, preds, batch):
        from ultralytics.utils.metrics import bbox_iou

        raw = preds[1] if isinstance(preds, tuple) else preds
        device = raw[0].device
        targets = torch.cat(
            (batch['batch_idx'].view(-1, 1), batch['cls'].view(-1, 1), batch['bboxes']), 1
        ).to(device)
        lbox, lobj, lcls = (torch.zeros((), device=device) for _ in range(3))
        for i, p in enumerate(raw):
            tobj = torch.zeros(p.shape[:4], device=device, dtype=p.dtype)
            b, a, gj, gi, tbox, anchors, tcls = self.match(targets, i, p.shape[2], p.shape[3])
            if b.numel():
                ps = p[b, a, gj, gi]
                pxy = ps[:, :2].sigmoid() * 2 - 0.5
                pwh = (ps[:, 2:4].sigmoid() * 2) ** 2 * anchors
                iou = bbox_iou(torch.cat((pxy, pwh), 1), tbox, xywh=True, CIoU=True).squeeze(-1)
                lbox = lbox + (1.0 - iou).mean()
                tobj[b, a, gj, gi] = iou.detach().clamp(0).to(tobj.dtype)
                if self.head.nc > 1:
                    t = torch.zeros_like(ps[:, 5:])
                    t[torch.arange(len(tcls), device=device), tcls] = 1.0
                    lcls = lcls + self.bce(ps[:, 5:], t)
            lobj = lobj + self.bce(p[..., 4], tobj) * self.BALANCE[i]
        lbox, lobj, lcls = lbox * self.gain_box, lobj * self.gain_obj, lcls * self.gain_cls
        bs = raw[0].shape[0]
        loss = (lbox + lobj + lcls) * bs
        return loss, {'box': lbox.detach(), 'obj': lobj.detach(), 'cls': lcls.detach()}

    def match(self, targets: torch.Tensor, level: int, ny: int, nx: int):
        """Return the cells and anchors of ``level`` responsible for each target (YOLOv5's)."""
        device = targets.device
        anchors = self.head.anchors[level].to(device)  # (na, 2) in cells
        na = anchors.shape[0]
        scale = torch.tensor([nx, ny, nx, ny], device=device, dtype=targets.dtype)
        t = targets.clone()
        t[:, 2:6] *= scale
        empty = torch.zeros(0, dtype=torch.long, device=device)
        if not len(t):
            return empty, empty, empty, empty, t[:, 2:6], anchors[empty], empty
        ai = torch.arange(na, device=device).view(na, 1).expand(na, len(t))
        t = t.unsqueeze(0).expand(na, -1, -1)
        ratio = t[..., 4:6] / anchors[:, None]
        fits = torch.max(ratio, 1 / ratio).max(2)[0] < self.anchor_t
        t, a = t[fits], ai[fits]
        g = 0.5
        gxy = t[:, 2:4]
        gxi = torch.tensor([nx, ny], device=device, dtype=t.dtype) - gxy
        left, up = ((gxy % 1 < g) & (gxy > 1)).T
        right, down = ((gxi % 1 < g) & (gxi > 1)).T
        use = torch.stack((torch.ones_like(left), left, up, right, down))
        offsets = torch.tensor(self.OFFSETS, device=device, dtype=t.dtype) * g
        t = t.unsqueeze(0).expand(5, -1, -1)[use]
        a = a.unsqueeze(0).expand(5, -1)[use]
        off = offsets[:, None].expand(-1, use.shape[1], -1)[use]
        gij = (t[:, 2:4] - off).long()
        gi = gij[:, 0].clamp(0, nx - 1)
        gj = gij[:, 1].clamp(0, ny - 1)
        tbox = torch.cat((t[:, 2:4] - torch.stack((gi, gj), 1), t[:, 4:6]), 1)
        return t[:, 0].long(), a, gj, gi, tbox, anchors[a], t[:, 1].long()


def _trainer_class():
    """YOLOv5Trainer, defined on first use: importing Ultralytics' trainer is slow."""
    from ultralytics.models.yolo.detect import DetectionTrainer
    from ultralytics.utils.torch_utils import unwrap_model

    class YOLOv5Trainer(DetectionTrainer):
        """Ultralytics' detection trainer for ``YOLOv5DetectionModel``: its data, its loss."""

        def get_model(self, cfg=None, weights=None, verbose=True):
            if not isinstance(weights, YOLOv5DetectionModel):
                raise ValueError('YOLOv5Trainer trains a converted YOLOv5 model (coco_model)')
            names = [self.data['names'][k] for k in sorted(self.data['names'])]
            have = [weights.names[k] for k in sorted(weights.names)]
            if names != have:
                raise ValueError(f"the data's classes {names} are not the model's {have}")
            model = copy.deepcopy(weights).float()
            for p in model.parameters():
                p.requires_grad_(True)
            return model

        def _attach_loss(self):
            for m in (unwrap_model(self.model), getattr(getattr(self, 'ema', None), 'ema', None)):
                if m is not None and getattr(m, 'criterion', None) is None:
                    m.criterion = YOLOv5Loss(m, imgsz=self.args.imgsz)

        def _setup_train(self, *args, **kwargs):
            super()._setup_train(*args, **kwargs)
            self._attach_loss()

        def validate(self):
            self._attach_loss()
            return super().validate()

    return YOLOv5Trainer


def train(model_path: Path | str, **kwargs):
    """Train the converted YOLOv5 checkpoint at ``model_path`` with Ultralytics' ``train``."""
    from ultralytics import YOLO

    return YOLO(str(model_path)).train(trainer=_trainer_class(), **kwargs)


def holds_yolov5(path: Path | str) -> bool:
    """Whether the Ultralytics checkpoint at ``path`` (one's own: it is unpickled) is YOLOv5's."""
    from ultralytics import YOLO

    return isinstance(YOLO(str(path)).model, YOLOv5DetectionModel)


def starting_point(model: str, names: list[str], workdir: Path | str):
    """
    Return (what ``YOLO`` loads, the trainer class or None) for ``glass-train-detector --model``.

    ``yolov5n.pt``: the official COCO checkpoint (that file if it exists, else fetched), read
    safely (a file of that name with another hash is refused: PretrainedError) and converted with
    ``names`` (COCO class names, the data's) into ``workdir``. A checkpoint of such a model:
    trained on with the YOLOv5 trainer. Anything else is Ultralytics' business.
    """
    from . import pretrained

    p = Path(model)
    if p.name == pretrained.YOLOV5N:
        source = p if p.is_file() else pretrained.fetch(pretrained.YOLOV5N)
        weights = pretrained.read_yolov5_checkpoint(source)
        out = Path(workdir) / 'start_yolov5n_coco.pt'
        out.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(coco_model(weights, names), out)
        return str(out), _trainer_class()
    if p.suffix == '.pt' and p.is_file() and holds_yolov5(p):
        return str(p), _trainer_class()
    return model, None


def with_replay(data: Path | str, replays: list[Path], workdir: Path | str) -> Path:
    """Write a copy of the ``data`` yaml whose training split also has ``replays`` (COCO ids)."""
    import yaml

    from .real import coco_replay

    data = Path(data)
    spec = yaml.safe_load(data.read_text())
    base = Path(spec.get('path') or data.parent)
    if not base.is_absolute():
        base = (data.parent / base).resolve()
    train = spec['train'] if isinstance(spec['train'], list) else [spec['train']]
    train = [str(base / t) for t in train]
    root = Path(workdir).resolve() / 'replay'
    for i, folder in enumerate(replays):
        split = f'replay{i}'
        coco_replay(folder, root, split)
        train.append(str(root / 'images' / split))
    spec.update({'path': str(base), 'train': train})
    out = Path(workdir) / 'data_replay.yaml'
    out.write_text(yaml.safe_dump(spec, sort_keys=False))
    return out
