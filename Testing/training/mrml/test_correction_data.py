"""Correct-and-retrain on Slicer's own MRML (slicer-core): frames corrected through the segmentation API become the
labelled frames of a training-data folder (the rest unlabelled video), and a short run fine-tunes the model from it."""

import json

import numpy as np
import pytest
from samples import correct_frame, recording, require_mrml, tiny_model_file

slicer = require_mrml()

from DTCSegmentationLib.errors import DTCError  # noqa: E402
from DTCSegmentationLib.inference.segmenter import Segmenter  # noqa: E402
from DTCSegmentationLib.mrml import add_sequence_browser, add_volume_sequence, new_scene, segment_recording  # noqa: E402
from DTCSegmentationLib.sequence_io import read_sequence  # noqa: E402
from DTCTrainingLib.data.case_loading import load_case  # noqa: E402
from DTCTrainingLib.data.datasets import LabelledFrames  # noqa: E402
from DTCTrainingLib.data.manifest import load_manifest  # noqa: E402
from DTCTrainingLib.mrml import (  # noqa: E402
    add_annotation_sequence,
    annotated_recordings,
    write_correction_data,
    write_training_data,
)

T = 5
SIZE = (64, 96)  # the frames' size and the tiny model's input: loading for training does not resample


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    # seed 5: a run's own random start (torch.manual_seed(config.seed = 0)) must differ from these weights
    return tiny_model_file(tmp_path_factory.mktemp("model") / "current.safetensors", input_size=SIZE, seed=5)


def rectangle(top, left, height=20, width=36):
    mask = np.zeros(SIZE, np.uint8)
    mask[top:top + height, left:left + width] = 1
    return mask


def corrected_scene(model, corrections):
    """One segmentation run per recording; ``corrections``: ``{recording name: {frame: mask}}``."""
    scene = new_scene()
    segmenter = Segmenter.from_file(model, device="cpu")
    runs = {}
    for seed, name in enumerate(corrections, start=1):
        images = add_volume_sequence(scene, recording(T, seed), name)
        browser = add_sequence_browser(scene, [images], f"{name} browser")
        runs[name] = segment_recording(scene, browser, segmenter, masks_as="segmentation")
        for frame, mask in corrections[name].items():
            correct_frame(runs[name], frame, mask)
        browser.SetSelectedItemNumber(0)
    return scene, runs


CORRECTIONS = {"sweepA": {3: rectangle(10, 20)}, "sweepB": {1: rectangle(30, 40)}}


def test_corrected_frames_are_the_only_labelled_samples(model, tmp_path):
    scene, runs = corrected_scene(model, CORRECTIONS)
    manifest = load_manifest(write_correction_data(scene, tmp_path / "data"))
    cases = {case.id: case for case in manifest.cases}
    assert sorted(cases) == ["sweepA", "sweepB"]
    assert (cases["sweepA"].split, cases["sweepA"].labelled_frames) == ("train", (3,))
    assert (cases["sweepB"].split, cases["sweepB"].labelled_frames) == ("val", (1,))
    for name, frames in CORRECTIONS.items():
        masks = read_sequence(cases[name].masks).frames
        assert masks.shape == (T,) + SIZE
        for index in range(T):  # the model's masks of the other frames are not written as labels
            expected = frames.get(index, np.zeros(SIZE, np.uint8))
            np.testing.assert_array_equal(masks[index], expected)
        seed = 1 + list(CORRECTIONS).index(name)
        np.testing.assert_array_equal(read_sequence(cases[name].frames).frames, recording(T, seed).frames)

    arrays = load_case(cases["sweepA"], SIZE)
    assert arrays.labelled.tolist() == [False, False, False, True, False]
    samples = LabelledFrames([arrays], {"scale": 1.0, "mean": 0.0, "std": 1.0}, augment=False)
    assert len(samples) == 1
    sample = samples[0]
    np.testing.assert_array_equal(sample["mask"][0].numpy(), CORRECTIONS["sweepA"][3])
    np.testing.assert_array_equal(sample["image"][0].numpy(), recording(T, 1).frames[3].astype(np.float32))


def test_one_corrected_recording_validates_on_a_given_folder_only(model, tmp_path):
    scene, runs = corrected_scene(model, {"sweepA": {2: rectangle(5, 5)}, "sweepB": {}})
    with pytest.raises(DTCError, match="no validation data"):
        write_correction_data(scene, tmp_path / "data")
    assert not (tmp_path / "data").exists()

    other = new_scene()  # a training-data folder with a train and a val case (the last recording validates)
    for seed, name in ((7, "train_case"), (8, "val_case")):
        images = add_volume_sequence(other, recording(T, seed), name)
        add_sequence_browser(other, [images], f"{name} browser")
        add_annotation_sequence(other, images, {0: rectangle(1, 1), 4: rectangle(2, 2)}, f"{name} masks")
    validation = write_training_data(other, annotated_recordings(other), tmp_path / "validation").parent

    manifest = load_manifest(write_correction_data(scene, tmp_path / "data", validation=validation))
    cases = {case.id: case for case in manifest.cases}
    assert sorted(cases) == ["sweepA", "validation_val_case"]  # sweepB has no correction; no train case copied
    assert (cases["sweepA"].split, cases["sweepA"].labelled_frames) == ("train", (2,))
    assert (cases["validation_val_case"].split, cases["validation_val_case"].labelled_frames) == ("val", (0, 4))
    copied = cases["validation_val_case"].masks
    assert (tmp_path / "data") in copied.parents
    np.testing.assert_array_equal(read_sequence(copied).frames[4], rectangle(2, 2))

    # with the model's training data too: its train cases join, its val cases still validate
    manifest = load_manifest(write_correction_data(scene, tmp_path / "data2", validation=validation, training=validation))
    cases = {case.id: (case.split, case.labelled_frames) for case in manifest.cases}
    assert cases == {"sweepA": ("train", (2,)), "training_train_case": ("train", (0, 4)),
                     "validation_val_case": ("val", (0, 4))}


def test_no_correction_is_one_clear_error(model, tmp_path):
    scene, _ = corrected_scene(model, {"sweepA": {}})
    with pytest.raises(DTCError, match="no frame of a segmentation run differs"):
        write_correction_data(scene, tmp_path / "data")


@pytest.mark.slow
def test_fine_tuning_starts_from_the_model_and_trains_two_steps(model, tmp_path):
    import torch
    from DTCSegmentationLib.networks.model_file import load_model
    from DTCTrainingLib.fine_tuning import fine_tune_settings
    from DTCTrainingLib.training_process import TrainingProcess

    scene, _ = corrected_scene(model, CORRECTIONS)
    data = write_correction_data(scene, tmp_path / "data").parent
    settings = fine_tune_settings(model, epochs=1, extra={"optim.steps_per_epoch": 1, "optim.batch_size": 1,
                                                          "device": "cpu"})
    process = TrainingProcess("all", data, tmp_path / "run", settings)
    process.start()
    process.wait()
    assert process.state == "finished", list(process.log)[-10:]
    steps = [(event["stage"], event["step"]) for event in process.events if event["event"] == "step"]
    assert steps == [("teacher", 1), ("student", 1)]  # two steps: the teacher's, then the student's
    config = json.loads((tmp_path / "run" / "teacher_config.json").read_text())
    assert config["teacher"]["init"] == str(model) and config["optim"]["epochs"] == 1

    def parameters(path):
        return {name: value.detach() for name, value in load_model(path)[0].named_parameters()}

    def distance(a, b):
        return sum(float((a[name] - b[name]).pow(2).sum()) for name in b) ** 0.5

    original = parameters(model)
    fresh = parameters(tiny_model_file(tmp_path / "fresh.safetensors", input_size=SIZE, seed=123))
    # the weights after the teacher's step (its checkpoint; the model file is the better of them and the start)
    trained = torch.load(str(tmp_path / "run" / "teacher_checkpoint.pt"), weights_only=True)["model"]
    # trained a little, from the model's weights (a new start lies `distance(fresh, original)` away)
    assert 0 < distance(trained, original) < 0.05 * distance(fresh, original)
    initial = [event["stage"] for event in process.events if event["event"] == "initial"]
    assert initial == ["teacher", "student"]  # both stages measured their starting weights first
