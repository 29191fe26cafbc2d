"""Model files: metadata round trip, validation, clear errors, safe imports."""

import json

import pytest
import torch
from DTCSegmentationLib.networks import build_network
from DTCSegmentationLib.networks.model_file import (
    ModelFileError,
    ModelInfo,
    import_state_dict,
    load_model,
    read_model_info,
    save_model,
)

ARGS = {"features": [8, 8, 16, 16]}


def small_model():
    torch.manual_seed(1)
    return build_network("fast_unet", arguments=ARGS)


def test_round_trip_keeps_weights_and_every_metadata_field(tmp_path):
    model = small_model()
    info = ModelInfo(arguments=ARGS, input_size=(64, 96), threshold=0.4, resize_mode="letterbox",
                     normalization={"scale": 1 / 255, "mean": 0.4, "std": 0.3},
                     provenance={"command": "dtc train student", "seed": 3}, metrics={"dice": 0.91})
    path = save_model(tmp_path / "m.safetensors", model, info)
    loaded, loaded_info = load_model(path)
    assert loaded_info == info and loaded_info.local_tap == "decoder.0" and not loaded.training
    x = torch.randn(1, 1, 64, 96)
    model.eval()
    torch.testing.assert_close(loaded(x), model(x))
    assert read_model_info(path).metrics == {"dice": 0.91}


def test_refuses_to_overwrite_and_needs_the_suffix(tmp_path):
    save_model(tmp_path / "m.safetensors", small_model(), ModelInfo(arguments=ARGS))
    with pytest.raises(Exception, match="already exists"):
        save_model(tmp_path / "m.safetensors", small_model(), ModelInfo(arguments=ARGS))
    with pytest.raises(ModelFileError, match=".safetensors"):
        save_model(tmp_path / "m.pt", small_model(), ModelInfo(arguments=ARGS))


def test_truncated_foreign_and_inconsistent_files_give_one_clear_error(tmp_path):
    from safetensors.torch import save_file

    good = save_model(tmp_path / "m.safetensors", small_model(), ModelInfo(arguments=ARGS))
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[:-500])
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign))
    mismatched = tmp_path / "mismatch.safetensors"
    save_model(mismatched, build_network("fast_unet", arguments={"features": [8, 8, 16, 32]}),
               ModelInfo(arguments=ARGS))  # metadata says 16 bottleneck channels, weights have 32
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 64)
    for path, message in [(truncated, "damaged|readable"), (foreign, "without DTC metadata"),
                          (mismatched, "do not fit"), (garbage, "readable"), (tmp_path / "none.safetensors", "exist")]:
        with pytest.raises(ModelFileError, match=message) as error:
            load_model(path)
        assert path.name in str(error.value) and "Fix:" in str(error.value)


def test_newer_or_unknown_metadata_is_refused(tmp_path):
    with pytest.raises(ModelFileError, match="newer"):
        ModelInfo.from_json(json.dumps({"format_version": 99}))
    with pytest.raises(ModelFileError, match="unknown metadata"):
        ModelInfo.from_json(json.dumps({"colour": "red"}))


def test_import_plain_state_dict_safely(tmp_path):
    model = small_model()
    torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, tmp_path / "w.pth")
    imported = import_state_dict(tmp_path / "w.pth", ModelInfo(arguments=ARGS))
    x = torch.randn(1, 1, 32, 32)
    model.eval()
    torch.testing.assert_close(imported(x), model(x))
    torch.save({"net": model}, tmp_path / "pickled.pth")  # a whole pickled module: refused, never executed
    with pytest.raises(ModelFileError, match="state dict"):
        import_state_dict(tmp_path / "pickled.pth", ModelInfo(arguments=ARGS))
