"""The training configuration: METHOD.md defaults, files, overrides, clear errors."""

import json

import pytest
from DTCTrainingLib.config import ConfigError, TrainingConfig, config_fields, load_config


def test_defaults_are_the_papers():
    config = TrainingConfig()
    student, optim = config.student, config.optim
    assert (student.weight_seg, student.weight_kd, student.weight_consistency, student.weight_prototype) == (3.0, 1.0, 2.0, 0.1)
    assert student.kd_temperature == 4.0 and student.foreground_quantile == 0.7
    assert (optim.lr, optim.weight_decay, optim.t0, optim.t_mult, optim.eta_min) == (1e-3, 1e-4, 10, 2, 1e-6)
    assert (optim.grad_clip, optim.batch_size, optim.epochs, optim.patience) == (1.0, 8, 50, 10)
    assert (config.data.height, config.data.width, config.data.clip_length, config.data.frame_gap) == (256, 448, 3, 1)


def test_file_then_overrides(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"optim": {"lr": 0.01, "amp": True}, "network": {"name": "unet"}}))
    config = load_config(path, ["optim.lr=0.002", "student.pseudo_label_transforms=hflip,vflip",
                                "network.arguments={\"base\": 8}", "data.height=64"])
    assert config.optim.lr == 0.002 and config.optim.amp is True and config.network.name == "unet"
    assert config.student.pseudo_label_transforms == ["hflip", "vflip"]
    assert config.network.arguments == {"base": 8} and config.data.height == 64


def test_saved_config_loads_back_equal(tmp_path):
    config = load_config(overrides=["seed=7", "optim.epochs=3"])
    config.save(tmp_path / "config.json")
    assert load_config(tmp_path / "config.json") == config


@pytest.mark.parametrize("override, message", [
    ("optim.learning_rate=1", "unknown setting"),
    ("optim.epochs=2.5", "not a valid int"),
    ("optim.amp=maybe", "not a valid bool"),
    ("optim", "section.field=value"),
    ("optim.lr.x=1", "optim.lr = "),
])
def test_bad_overrides_are_explained(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(overrides=[override])


def test_bad_files_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="bad.json"):
        load_config(tmp_path / "bad.json")


def test_every_field_is_listed_once():
    names = [name for name, _ in config_fields()]
    assert len(names) == len(set(names)) and "student.weight_consistency" in names and "seed" in names


def test_choices_are_checked():
    with pytest.raises(ConfigError, match="pseudo_label_source"):
        load_config(overrides=["student.pseudo_label_source=oracle"])
    with pytest.raises(ConfigError, match="flow_method"):
        load_config(overrides=["student.flow_method=raft"])
    assert load_config(overrides=["student.pseudo_label_source=teacher"]).student.pseudo_label_source == "teacher"


def test_the_pseudo_label_transforms_offered_are_the_losses():
    from DTCSegmentationLib.choices import PSEUDO_LABEL_TRANSFORMS
    from DTCTrainingLib.losses.pseudo_labels import GEOMETRIC_TRANSFORMS

    assert set(PSEUDO_LABEL_TRANSFORMS) == set(GEOMETRIC_TRANSFORMS)
