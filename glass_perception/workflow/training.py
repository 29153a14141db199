"""
Transfer-learning training and evaluation of the glass classifier. No ROS here.

The loop follows torchvision's reference scripts: ``train_one_epoch`` and ``evaluate`` are plain
functions; :func:`fit` adds early stopping on validation loss (restoring the best weights), a best
checkpoint in the format the classifier node loads, a history, and resumable state.

Training targets are label sets: ``TrainConfig.extra_data`` folders may name a sub-folder after
several classes joined by ``+`` (``beer_glass+soju_glass``: a real glass that is one of them, which
one unknown), and :func:`set_cross_entropy` maximises the probability of the set. A folder named
after one class is the ordinary cross-entropy.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
import json
import math
from pathlib import Path
import time
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Subset

from .checkpoints import backbone_parameters, pretrained_model, save_checkpoint
from .evaluation import report_from
from ..core.atomic import atomic_path, atomic_write_text
from ..core.classifier import build_model, checkpoint_paths, load_checkpoint
from ..core.classifier_meta import ClassifierMeta


@dataclass
class TrainConfig:
    data: Path
    out: Path  # checkpoint stem: <out>.safetensors + <out>.json
    val_data: Path | None = None  # a separate validation ImageFolder, else a split
    extra_data: list[Path] = field(default_factory=list)  # label-set folders (module doc)
    val_split: float = 0.2
    architecture: str = 'mobilenet_v2'
    head: str = 'dense128'
    init: str = 'imagenet'  # imagenet | scratch | path to a checkpoint
    freeze_backbone: bool = True
    input_size: int = 96
    crop_padding: float = 0.1
    epochs: int = 50
    batch_size: int = 32
    lr: float = 1e-4
    lr_schedule: str = 'constant'  # constant | cosine (per epoch, from lr down to lr * LR_FLOOR)
    weight_decay: float = 0.0
    patience: int = 5
    rotation: float = 90.0
    shift: float = 0.1
    shear: float = 0.1
    zoom: float = 0.1
    hflip: bool = True
    color_jitter: float = 0.2
    seed: int = 0
    workers: int = 2
    device: str = 'cpu'
    resume: bool = False
    extra: dict = field(default_factory=dict)


LR_SCHEDULES = ('constant', 'cosine')
LR_FLOOR = 0.01  # a cosine schedule ends at 1% of the starting learning rate


def learning_rate(cfg: TrainConfig, epoch: int) -> float:
    """
    Return the learning rate of (0-based) ``epoch``.

    A pure function of the epoch, so --resume needs no state.
    """
    if cfg.lr_schedule == 'constant' or cfg.epochs <= 1:
        return cfg.lr
    if cfg.lr_schedule != 'cosine':
        raise ValueError(
            f"lr_schedule '{cfg.lr_schedule}' is not one of {', '.join(LR_SCHEDULES)}"
        )
    t = min(1.0, epoch / (cfg.epochs - 1))
    return cfg.lr * (LR_FLOOR + (1 - LR_FLOOR) * 0.5 * (1 + math.cos(math.pi * t)))


def make_transforms(cfg: TrainConfig, train: bool, mean=None, std=None):
    """Resize, augmentation when ``train``, then normalise (default: ImageNet's mean and std)."""
    from torchvision import transforms as T

    from ..core.classifier_meta import IMAGENET_MEAN, IMAGENET_STD

    steps = [T.Resize((cfg.input_size, cfg.input_size))]
    if train:
        steps.append(
            T.RandomAffine(
                degrees=cfg.rotation,
                translate=(cfg.shift, cfg.shift),
                scale=(1 - cfg.zoom, 1 + cfg.zoom),
                shear=cfg.shear * 180 / math.pi,
                fill=114,
            )
        )
        if cfg.hflip:
            steps.append(T.RandomHorizontalFlip())
        if cfg.color_jitter > 0:
            j = cfg.color_jitter
            steps.append(
                T.ColorJitter(brightness=j, contrast=j, saturation=j, hue=min(0.5, j / 4))
            )
    steps += [T.ToTensor(), T.Normalize(mean or IMAGENET_MEAN, std or IMAGENET_STD)]
    return T.Compose(steps)


def _check_data(data) -> None:
    if not Path(data).is_dir():
        raise FileNotFoundError(
            f'{data}: no such folder; give an ImageFolder (one sub-folder per class)'
        )


def initial_model(cfg: TrainConfig, class_names, log=print):
    """
    Return (network, input): what training starts from and what its weights expect.

    ``input`` is ``{'mean', 'std', 'padding'}``, recorded in the checkpoint's metadata. A network
    with TensorFlow's padding came from folded batch norm (no batch statistics), so ``fit`` trains
    its batch norms on their running statistics.
    """
    from ..core.classifier_meta import IMAGENET_MEAN, IMAGENET_STD

    if cfg.init == 'imagenet':
        model, given, source = pretrained_model(cfg.architecture, len(class_names), cfg.head)
        log(f'ImageNet weights: {source}')
        return model, given
    if cfg.init == 'scratch':
        model = build_model(cfg.architecture, len(class_names), cfg.head)
        return model, {'mean': list(IMAGENET_MEAN), 'std': list(IMAGENET_STD), 'padding': 'torch'}
    model, meta = load_checkpoint(cfg.init)
    if meta.class_names != list(class_names) or meta.architecture != cfg.architecture:
        raise ValueError(
            f'{cfg.init}: its classes {meta.class_names} ({meta.architecture}) do not match '
            f"the data's {list(class_names)} ({cfg.architecture})"
        )
    return model, {'mean': list(meta.mean), 'std': list(meta.std), 'padding': meta.padding}


def make_datasets(cfg: TrainConfig, mean=None, std=None):
    """
    (train, validation, class names); a split is seeded and stratified-free but reproducible.

    The training set yields label sets (one-hot for ``cfg.data``; ``cfg.extra_data`` appended).
    """
    from torchvision.datasets import ImageFolder

    _check_data(cfg.data)
    train_full = ImageFolder(str(cfg.data), transform=make_transforms(cfg, True, mean, std))
    if cfg.val_data:
        val = ImageFolder(str(cfg.val_data), transform=make_transforms(cfg, False, mean, std))
        if val.classes != train_full.classes:
            raise ValueError(f'class folders differ: {train_full.classes} vs {val.classes}')
        return _with_extra(cfg, train_full, train_full.classes, mean, std), val, train_full.classes
    if not 0.0 < cfg.val_split < 1.0:
        raise ValueError('val_split must be within (0, 1)')
    n = len(train_full)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(cfg.seed)).tolist()
    n_val = max(1, int(round(n * cfg.val_split)))
    val_full = ImageFolder(str(cfg.data), transform=make_transforms(cfg, False, mean, std))
    train = _with_extra(cfg, Subset(train_full, order[n_val:]), train_full.classes, mean, std)
    return train, Subset(val_full, order[:n_val]), train_full.classes


class _OneHot(Dataset):
    """A dataset of (image, class index) as (image, label set): a one-hot float mask."""

    def __init__(self, dataset, classes: int):
        self.dataset, self.classes = dataset, classes

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        image, target = self.dataset[i]
        mask = torch.zeros(self.classes)
        mask[target] = 1.0
        return image, mask


class LabelSetFolder(Dataset):
    """
    Images in sub-folders named after a class or several joined by '+', as (image, label set).

    ``class_names`` are the training data's; a folder naming anything else is refused.
    """

    def __init__(self, root: Path | str, class_names, transform=None):
        from torchvision.datasets.folder import default_loader, IMG_EXTENSIONS

        root = Path(root)
        _check_data(root)
        self.class_names = list(class_names)
        self.transform, self.loader = transform, default_loader
        self.samples: list[tuple[Path, torch.Tensor]] = []
        for sub in sorted(p for p in root.iterdir() if p.is_dir()):
            names = sub.name.split('+')
            unknown = [n for n in names if n not in self.class_names]
            if unknown:
                raise ValueError(
                    f"{sub}: '{'+'.join(unknown)}' is not a class of the training data "
                    f'{self.class_names}; name a class or classes joined by +'
                )
            mask = torch.zeros(len(self.class_names))
            mask[[self.class_names.index(n) for n in names]] = 1.0
            self.samples += [
                (f, mask) for f in sorted(sub.iterdir()) if f.suffix.lower() in IMG_EXTENSIONS
            ]
        if not self.samples:
            raise ValueError(f'{root}: no images in class sub-folders')

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        path, mask = self.samples[i]
        image = self.loader(str(path))
        return (self.transform(image) if self.transform else image), mask


def _with_extra(cfg: TrainConfig, train, class_names, mean, std):
    """Return the training set as label sets, with ``cfg.extra_data`` folders appended."""
    parts = [_OneHot(train, len(class_names))]
    for folder in cfg.extra_data:
        parts.append(LabelSetFolder(folder, class_names, make_transforms(cfg, True, mean, std)))
    return ConcatDataset(parts)


def set_cross_entropy(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """
    Mean of -log P(class in the sample's label set): cross-entropy for one-hot ``mask``.

    ``mask`` is (N, K), 1 for the classes a sample may be.
    """
    inside = torch.logsumexp(logits.masked_fill(mask <= 0, float('-inf')), dim=1)
    return (torch.logsumexp(logits, dim=1) - inside).mean()


def train_one_epoch(
    model,
    loader,
    criterion,
    optimizer,
    device,
    on_step: Callable[[float], None] | None = None,
    frozen_bn: bool = False,
):
    """
    Train one pass over ``loader``; return (mean loss, accuracy).

    Targets are label sets, (N, K) masks (``make_datasets``), as ``criterion`` takes them.

    ``frozen_bn`` keeps every batch norm on its running statistics (its scale and shift still
    learn): a network converted from TensorFlow's folded batch norm has identities there, not
    statistics, and normalising by a batch's would undo the folded layers.
    """
    model.train()
    if frozen_bn:
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()
    total_loss, correct, seen = 0.0, 0, 0
    for images, targets in loader:
        images, targets = images.to(device), targets.to(device)
        logits = model(images)
        loss = criterion(logits, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * len(targets)
        # right when the arg-max class is in the label set
        correct += targets.gather(1, logits.argmax(1)[:, None]).gt(0).sum().item()
        seen += len(targets)
        if on_step:
            on_step(loss.item())
    return total_loss / max(1, seen), correct / max(1, seen)


@torch.inference_mode()
def evaluate(model, loader, device, class_names: list[str]) -> dict:
    """Overall and per-class accuracy and mean loss, and the confusion matrix (rows: truth)."""
    model.eval()
    k = len(class_names)
    criterion = nn.CrossEntropyLoss(reduction='none')
    confusion = np.zeros((k, k), np.int64)
    loss_sum = np.zeros(k)
    for images, targets in loader:
        images, targets = images.to(device), targets.to(device)
        logits = model(images)
        losses = criterion(logits, targets).cpu().numpy()
        pred = logits.argmax(1).cpu().numpy()
        t = targets.cpu().numpy()
        np.add.at(confusion, (t, pred), 1)
        np.add.at(loss_sum, t, losses)
    return report_from(confusion, loss_sum, class_names)


# -- resumable state: tensors in safetensors, the rest in JSON (no pickle) ----------------------


def _with(base: Path, suffix: str) -> Path:
    """Append ``suffix`` to ``base`` (never Path.with_suffix, which would eat a dotted stem)."""
    return base.parent / (base.name + suffix)


def _save_state(path: Path, model, optimizer, progress: dict) -> None:
    from safetensors.torch import save_file

    tensors = {f'model.{k}': v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    scalars = {}
    for pid, st in opt['state'].items():
        for name, value in st.items():
            if torch.is_tensor(value) and value.dim() > 0:
                tensors[f'opt.{pid}.{name}'] = value.detach().cpu().contiguous()
            else:
                scalars[f'{pid}.{name}'] = float(value)
    with atomic_path(_with(path, '.safetensors')) as tmp:
        save_file(tensors, str(tmp))
    atomic_write_text(
        _with(path, '.json'),
        json.dumps(
            {
                'progress': progress,
                'optimizer_scalars': scalars,
                'param_groups': opt['param_groups'],
            }
        ),
    )


def _load_state(path: Path, model, optimizer) -> dict:
    from safetensors.torch import load_file

    tensors = load_file(str(_with(path, '.safetensors')))
    info = json.loads(_with(path, '.json').read_text())
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith('model.')})
    state: dict = {}
    for k, v in tensors.items():
        if k.startswith('opt.'):
            _, pid, name = k.split('.', 2)
            state.setdefault(int(pid), {})[name] = v
    for k, v in info['optimizer_scalars'].items():
        pid, name = k.split('.', 1)
        state.setdefault(int(pid), {})[name] = torch.tensor(v)
    optimizer.load_state_dict({'state': state, 'param_groups': info['param_groups']})
    return info['progress']


def fit(cfg: TrainConfig, log: Callable[[str], None] = print, progress=None) -> dict:
    """Train; write the best checkpoint, history (JSON + CSV) and plots beside ``cfg.out``."""
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    learning_rate(cfg, 0)  # an unknown schedule fails before any data is read
    _check_data(cfg.data)
    from torchvision.datasets.folder import find_classes

    model, given = initial_model(cfg, find_classes(str(cfg.data))[0], log)
    train_set, val_set, class_names = make_datasets(cfg, given['mean'], given['std'])
    device = cfg.device
    model.to(device)
    if cfg.freeze_backbone:
        for p in backbone_parameters(model, cfg.architecture):
            p.requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    criterion = set_cross_entropy
    g = torch.Generator().manual_seed(cfg.seed)
    train_loader = DataLoader(
        train_set,
        batch_size=cfg.batch_size,
        shuffle=True,
        num_workers=cfg.workers,
        generator=g,
        persistent_workers=cfg.workers > 0,
    )
    val_loader = DataLoader(
        val_set,
        batch_size=cfg.batch_size * 2,
        num_workers=cfg.workers,
        persistent_workers=cfg.workers > 0,
    )

    out = Path(cfg.out)
    state_path = _with(out, '.state')  # <out>.state.safetensors + <out>.state.json
    history: list[dict] = []
    steps: list[float] = []
    best_loss, best_epoch, start_epoch = math.inf, -1, 0
    best_state = None
    if cfg.resume and _with(state_path, '.json').exists():
        prog = _load_state(state_path, model, optimizer)
        history, steps = prog['history'], prog['steps']
        best_loss, best_epoch, start_epoch = (
            prog['best_loss'],
            prog['best_epoch'],
            prog['epoch'] + 1,
        )
        if checkpoint_paths(out)[0].exists():
            best_state = {k: v.clone() for k, v in load_checkpoint(out)[0].state_dict().items()}
        log(
            f'resumed after epoch {start_epoch} '
            f'(best val loss {best_loss:.4f} at epoch {best_epoch + 1})'
        )

    meta = ClassifierMeta(
        architecture=cfg.architecture,
        class_names=list(class_names),
        input_size=cfg.input_size,
        head=cfg.head,
        crop_padding=cfg.crop_padding,
        mean=[float(v) for v in given['mean']],
        std=[float(v) for v in given['std']],
        padding=given['padding'],
    )
    log(
        f'{len(train_set)} training and {len(val_set)} validation images, '
        f'classes {list(class_names)}'
    )
    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.monotonic()
        lr = learning_rate(cfg, epoch)
        for group in optimizer.param_groups:
            group['lr'] = lr
        bar = (
            progress(total=len(train_loader), desc=f'epoch {epoch + 1}/{cfg.epochs}', leave=False)
            if progress
            else None
        )

        def on_step(loss):
            steps.append(loss)
            if bar:
                bar.set_postfix(loss=f'{loss:.3f}')
                bar.update()

        train_loss, train_acc = train_one_epoch(
            model,
            train_loader,
            criterion,
            optimizer,
            device,
            on_step,
            frozen_bn=given['padding'] == 'tf_same',
        )
        if bar:
            bar.close()
        val = evaluate(model, val_loader, device, list(class_names))
        row = {
            'epoch': epoch + 1,
            'seconds': round(time.monotonic() - t0, 2),
            'lr': lr,
            'train_loss': train_loss,
            'train_accuracy': train_acc,
            'val_loss': val['loss'],
            'val_accuracy': val['accuracy'],
        }
        history.append(row)
        improved = val['loss'] < best_loss
        if improved:
            best_loss, best_epoch = val['loss'], epoch
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            meta.training = {
                'epoch': epoch + 1,
                'val_loss': val['loss'],
                'val_accuracy': val['accuracy'],
                'val_per_class': {c: v['accuracy'] for c, v in val['per_class'].items()},
                'config': _config_dict(cfg),
            }
            save_checkpoint(model, meta, out)
        log(
            f'epoch {epoch + 1}: {row["seconds"]:.1f}s '
            f'train loss {train_loss:.4f} acc {train_acc:.3f} | '
            f'val loss {val["loss"]:.4f} acc {val["accuracy"]:.3f}'
            f'{"  * best, saved" if improved else ""}'
        )
        _save_state(
            state_path,
            model,
            optimizer,
            {
                'epoch': epoch,
                'history': history,
                'steps': steps,
                'best_loss': best_loss,
                'best_epoch': best_epoch,
            },
        )
        write_history(out, history, steps)
        if epoch - best_epoch >= cfg.patience:
            log(f'early stopping: no better validation loss for {cfg.patience} epochs')
            break
    if best_state is not None:
        model.load_state_dict(best_state)  # restore best
    return {
        'best_epoch': best_epoch + 1,
        'best_val_loss': best_loss,
        'epochs_run': len(history),
        'checkpoint': str(checkpoint_paths(out)[0]),
        'class_names': list(class_names),
    }


def _config_dict(cfg: TrainConfig) -> dict:
    def plain(v):
        return [plain(x) for x in v] if isinstance(v, (list, tuple)) else (
            str(v) if isinstance(v, Path) else v
        )

    return {k: plain(v) for k, v in cfg.__dict__.items()}


def write_history(out: Path, history: list[dict], steps: list[float]) -> None:
    """history.json, history.csv and two PNG plots (per epoch, per step) beside the checkpoint."""
    base = Path(out)
    atomic_write_text(
        base.parent / (base.name + '.history.json'),
        json.dumps({'epochs': history, 'steps': steps}),
    )
    if history:
        with (
            atomic_path(base.parent / (base.name + '.history.csv')) as tmp,
            open(tmp, 'w', newline='') as f,
        ):
            w = csv.DictWriter(
                f, fieldnames=list(dict.fromkeys(k for row in history for k in row))
            )
            w.writeheader()
            w.writerows(history)
    plot_history(base.parent / (base.name + '.history.png'), history, steps)


def plot_history(path: Path, history: list[dict], steps: list[float]) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    if not history:
        return
    ep = [h['epoch'] for h in history]
    fig, ax = plt.subplots(1, 3, figsize=(15, 4))
    ax[0].plot(ep, [h['train_loss'] for h in history], 'o-', label='train')
    ax[0].plot(ep, [h['val_loss'] for h in history], 'o-', label='validation')
    ax[0].set(title='loss per epoch', xlabel='epoch', ylabel='cross-entropy')
    ax[1].plot(ep, [h['train_accuracy'] for h in history], 'o-', label='train')
    ax[1].plot(ep, [h['val_accuracy'] for h in history], 'o-', label='validation')
    ax[1].set(title='accuracy per epoch', xlabel='epoch', ylabel='accuracy', ylim=(0, 1.02))
    ax[2].plot(steps, lw=0.6)
    ax[2].set(title='training loss per step', xlabel='step', ylabel='cross-entropy')
    for a in ax[:2]:
        a.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format='png', dpi=90)
    plt.close(fig)
