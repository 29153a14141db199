"""glass-train-detector passes the fine-tuning settings given to Ultralytics, and no others."""

from pathlib import Path

from glass_perception.tools import train_detector
import pytest


def _arguments(*argv):
    args = train_detector.build_parser().parse_args(list(argv))
    return train_detector.train_arguments(args, Path('d/data.yaml'), Path('/w/run'))


def test_ultralytics_defaults_stand_when_no_fine_tuning_setting_is_given():
    kwargs = _arguments('--epochs', '3', '--imgsz', '480')
    assert kwargs['epochs'] == 3 and kwargs['imgsz'] == 480
    assert (
        kwargs['data'] == 'd/data.yaml' and kwargs['project'] == '/w' and kwargs['name'] == 'run'
    )
    for key in train_detector.FINE_TUNING + ('cos_lr',):
        assert key not in kwargs


def test_fine_tuning_settings_reach_ultralytics_under_its_own_names():
    kwargs = _arguments(
        '--optimizer', 'AdamW', '--lr0', '2e-4', '--lrf', '0.1', '--warmup-epochs', '0',
        '--cos-lr', '--close-mosaic', '2', '--save-period', '1',
    )  # fmt: skip
    assert kwargs['optimizer'] == 'AdamW' and kwargs['lr0'] == pytest.approx(2e-4)
    assert kwargs['lrf'] == pytest.approx(0.1) and kwargs['warmup_epochs'] == 0.0
    assert kwargs['cos_lr'] is True
    assert kwargs['close_mosaic'] == 2 and kwargs['save_period'] == 1


def test_a_learning_rate_without_an_optimizer_is_refused(capsys):
    # under optimizer 'auto' Ultralytics ignores lr0 and fits its own: refuse, do not surprise
    with pytest.raises(SystemExit) as exit_:
        train_detector.main(['--lr0', '1e-4'])
    assert exit_.value.code == 2
    assert '--lr0 needs --optimizer' in capsys.readouterr().err
