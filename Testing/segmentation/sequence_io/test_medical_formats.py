"""NIfTI 2D+t (checked against ITK, which Slicer uses), PLUS sequence metafiles and DICOM multi-frame ultrasound."""

import zlib

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from DTCSegmentationLib.errors import SequenceReadError
from DTCSegmentationLib.sequence_io import dicom as dicom_module
from DTCSegmentationLib.sequence_io import open_sequence, read_sequence, write_sequence
from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry, FrameSequence
from samples import SEQUENCE_GEOMETRY as GEOMETRY
from samples import frames

TIMES = np.array([1.0, 1.05, 1.1, 1.15])


# --- NIfTI ------------------------------------------------------------------------------

@pytest.mark.parametrize("name, channels", [("a.nii.gz", 1), ("a.nii", 3)])
def test_itk_reads_our_nifti_as_2d_plus_t(tmp_path, name, channels):
    data = frames(np.uint16 if channels == 1 else np.uint8, channels)
    write_sequence(tmp_path / name, FrameSequence(data, GEOMETRY, TIMES))
    image = sitk.ReadImage(str(tmp_path / name))
    assert image.GetSize() == (20, 12, 1, 4) and image.GetNumberOfComponentsPerPixel() == channels
    np.testing.assert_allclose(image.GetSpacing(), (0.2, 0.3, 1.0, 0.05), rtol=1e-6)
    np.testing.assert_allclose(image.GetOrigin(), (10.0, -5.0, 2.0, 1.0), rtol=1e-6)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image).reshape(data.shape), data)


def test_itk_written_nifti_layouts(tmp_path):
    data = frames(count=5)
    stack = sitk.GetImageFromArray(data)  # (x, y, t): the common numpy-stack layout
    stack.SetSpacing((0.2, 0.3, 0.04))
    stack.SetOrigin((10.0, -5.0, 0.0))
    sitk.WriteImage(stack, str(tmp_path / "xyt.nii.gz"))
    back = read_sequence(tmp_path / "xyt.nii.gz")
    np.testing.assert_array_equal(back.frames, data)
    np.testing.assert_allclose(back.frame_times, np.arange(5) * 0.04, atol=1e-6)
    assert back.geometry.isclose(FrameGeometry((0.2, 0.3, 1.0), (10.0, -5.0, 0.0)), atol=1e-5)

    slices = []
    for frame in data:
        slice_image = sitk.GetImageFromArray(frame[None])
        slice_image.SetSpacing((0.2, 0.3, 1.0))
        slice_image.SetOrigin((10.0, -5.0, 2.0))
        slices.append(slice_image)
    series = sitk.JoinSeries(slices, 0.5, 0.04)  # (x, y, 1, t), times from 0.5 s
    sitk.WriteImage(series, str(tmp_path / "xy1t.nii"))
    back = read_sequence(tmp_path / "xy1t.nii")
    np.testing.assert_array_equal(back.frames, data)
    np.testing.assert_allclose(back.frame_times, 0.5 + np.arange(5) * 0.04, atol=1e-6)
    assert back.geometry.isclose(GEOMETRY, atol=1e-5)

    colour = frames(channels=3, count=3)
    vectors = sitk.GetImageFromArray(colour[:, None], isVector=True)  # components on a 5th axis
    sitk.WriteImage(vectors, str(tmp_path / "vec.nii.gz"))
    np.testing.assert_array_equal(read_sequence(tmp_path / "vec.nii.gz").frames, colour)


def test_nifti_scaling_and_time_units_are_applied(tmp_path):
    data = frames(np.int16, count=3)
    header = nib.Nifti1Header()
    header.set_data_shape((20, 12, 1, 3))
    header.set_data_dtype(np.int16)
    header.set_slope_inter(2.0, 10.0)
    header.set_xyzt_units("mm", "msec")
    header.set_zooms((0.5, 0.5, 1.0, 40.0))
    header.set_qform(np.diag([0.5, 0.5, 1.0, 1.0]), code=1)
    with open(tmp_path / "scaled.nii", "wb") as handle:
        header.write_to(handle)
        handle.write(data.astype("<i2").tobytes())  # x fastest, t slowest
    with open_sequence(tmp_path / "scaled.nii") as reader:
        assert reader.dtype == np.float32
        back = reader.read()
    expected = data.astype(np.float32) * 2 + 10
    np.testing.assert_allclose(back.frames, expected)
    np.testing.assert_allclose(sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "scaled.nii")))[:, 0], expected)
    np.testing.assert_allclose(back.frame_times, [0.0, 0.04, 0.08])


def test_nifti_that_is_not_2d_plus_t_is_refused(tmp_path):
    sitk.WriteImage(sitk.Image([4, 4, 2, 3], sitk.sitkUInt8), str(tmp_path / "vol.nii.gz"))
    with pytest.raises(SequenceReadError, match=r"vol\.nii\.gz.*2D frames over time"):
        open_sequence(tmp_path / "vol.nii.gz")


# --- PLUS sequence metafiles ------------------------------------------------------------

def write_plus(path, data, times, statuses=None, compressed=False, external=False,
               transform="1 0 0 0 1 0 0 0 1"):
    count, height, width = data.shape[:3]
    channels = data.shape[3] if data.ndim == 4 else 1
    element = {np.dtype(np.uint8): "MET_UCHAR", np.dtype(np.uint16): "MET_USHORT"}[data.dtype]
    lines = ["ObjectType = Image", "NDims = 3", "AnatomicalOrientation = RAI", "BinaryData = True",
             "BinaryDataByteOrderMSB = False", f"CompressedData = {compressed}", f"DimSize = {width} {height} {count}",
             "ElementSpacing = 0.2 0.3 1", f"ElementType = {element}", f"ElementNumberOfChannels = {channels}",
             "Offset = 10 -5 2", f"TransformMatrix = {transform}", "UltrasoundImageOrientation = MF"]
    for index, time in enumerate(times):
        lines.append(f"Seq_Frame{index:04d}_Timestamp = {time}")
        lines.append(f"Seq_Frame{index:04d}_ImageStatus = {(statuses or ['OK'] * count)[index]}")
        lines.append(f"Seq_Frame{index:04d}_ProbeToTrackerTransform = 1 0 0 {index} 0 1 0 0 0 0 1 0 0 0 0 1")
    payload = data.tobytes()
    if compressed:
        payload = zlib.compress(payload)
        lines.insert(6, f"CompressedDataSize = {len(payload)}")
    if external:
        (path.parent / "frames.raw").write_bytes(payload)
        lines.append("ElementDataFile = frames.raw")
        path.write_text("\n".join(lines) + "\n")
    else:
        lines.append("ElementDataFile = LOCAL")
        path.write_bytes(("\n".join(lines) + "\n").encode() + payload)


@pytest.mark.parametrize("compressed, external", [(False, False), (True, False), (False, True), (True, True)])
def test_plus_metafile_frames_times_geometry(tmp_path, compressed, external):
    data = frames()
    name = "rec.igs.mhd" if external else "rec.igs.mha"
    write_plus(tmp_path / name, data, [12.5, 12.55, 12.6, 12.65], compressed=compressed, external=external)
    back = read_sequence(tmp_path / name)
    np.testing.assert_array_equal(back.frames, data)
    np.testing.assert_allclose(back.frame_times, [12.5, 12.55, 12.6, 12.65])
    assert back.geometry.isclose(GEOMETRY)
    assert back.metadata["ultrasound_image_orientation"] == "MF"
    assert back.metadata["frame_fields"][3]["ProbeToTrackerTransform"].startswith("1 0 0 3")


def test_plus_metafile_agrees_with_itk_on_pixels_and_orientation(tmp_path):
    data = frames(np.uint16)
    write_plus(tmp_path / "r.mha", data, TIMES, transform="0 1 0 -1 0 0 0 0 1")
    image = sitk.ReadImage(str(tmp_path / "r.mha"))
    back = read_sequence(tmp_path / "r.mha")
    np.testing.assert_array_equal(back.frames, sitk.GetArrayFromImage(image))
    assert back.frames.dtype == np.uint16
    np.testing.assert_allclose(back.geometry.direction, image.GetDirection(), atol=1e-9)
    np.testing.assert_allclose(back.geometry.origin, image.GetOrigin())


def test_plus_metafile_rgb_frames(tmp_path):
    data = frames(channels=3)
    write_plus(tmp_path / "c.igs.mha", data, TIMES)
    np.testing.assert_array_equal(read_sequence(tmp_path / "c.igs.mha").frames, data)


def test_plus_metafile_skips_invalid_frames(tmp_path):
    data = frames()
    write_plus(tmp_path / "r.igs.mha", data, [0, 1, 2, 3], statuses=["OK", "INVALID", "OK", "OK"])
    back = read_sequence(tmp_path / "r.igs.mha")
    np.testing.assert_array_equal(back.frames, data[[0, 2, 3]])
    assert back.frame_times.tolist() == [0, 2, 3] and back.metadata["skipped_invalid_frames"] == 1


@pytest.mark.parametrize("damage", ["truncate", "corrupt", "missing data file"])
def test_damaged_plus_metafile_is_an_error(tmp_path, damage):
    path = tmp_path / ("r.igs.mhd" if damage == "missing data file" else "r.igs.mha")
    write_plus(path, frames(count=6), range(6), compressed=damage == "corrupt", external=damage == "missing data file")
    content = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(content[:-300])
    elif damage == "corrupt":
        path.write_bytes(content[:-200] + b"\xff" * 200)
    else:
        (tmp_path / "frames.raw").unlink()
    with pytest.raises(SequenceReadError, match=path.name.replace(".", r"\.")):
        read_sequence(path)


# --- DICOM multi-frame ultrasound -------------------------------------------------------

def write_dicom(path, data, photometric="MONOCHROME2", frame_time_ms=40.0, frame_time_vector=None):
    """An uncompressed (explicit VR little endian) US multi-frame file with a calibrated region."""
    from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import ExplicitVRLittleEndian, UltrasoundMultiFrameImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UltrasoundMultiFrameImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID, "US"
    count, rows, columns = data.shape[:3]
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, columns, count
    ds.SamplesPerPixel = 3 if data.ndim == 4 else 1
    ds.PhotometricInterpretation = photometric
    if data.ndim == 4:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8 * data.dtype.itemsize
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    if frame_time_vector is not None:
        ds.FrameTimeVector = list(frame_time_vector)
    else:
        ds.FrameTime = frame_time_ms
    region = Dataset()
    region.PhysicalDeltaX, region.PhysicalDeltaY = 0.02, 0.03  # cm
    region.PhysicalUnitsXDirection = region.PhysicalUnitsYDirection = 3
    ds.SequenceOfUltrasoundRegions = Sequence([region])
    if photometric == "YBR_FULL_422":
        # Native 4:2:2: per pair of pixels Y1 Y2 Cb Cr, the chroma of the pair's first pixel.
        y, cb, cr = data[..., 0], data[:, :, 0::2, 1], data[:, :, 0::2, 2]
        ds.PixelData = np.stack([y[:, :, 0::2], y[:, :, 1::2], cb, cr], axis=-1).tobytes()
    else:
        ds.PixelData = data.tobytes()
    ds.save_as(str(path), enforce_file_format=True)


@pytest.mark.parametrize("dtype, channels, photometric", [(np.uint8, 1, "MONOCHROME2"), (np.uint16, 1, "MONOCHROME2"),
                                                          (np.uint8, 3, "RGB")])
def test_dicom_multiframe_ultrasound(tmp_path, dtype, channels, photometric):
    data = frames(dtype, channels)
    write_dicom(tmp_path / "cine.dcm", data, photometric)
    with open_sequence(tmp_path / "cine.dcm") as reader:
        assert reader.frame_shape == data.shape[1:] and reader.dtype == dtype
        assert reader.metadata["frame_rate"] == pytest.approx(25.0)
        back = reader.read()
    np.testing.assert_array_equal(back.frames, data)
    assert back.frames.dtype == dtype  # 16-bit stays 16-bit
    np.testing.assert_allclose(back.geometry.spacing, (0.2, 0.3, 1.0))  # 0.02 cm -> 0.2 mm
    np.testing.assert_allclose(back.frame_times, [0, 0.04, 0.08, 0.12])


@pytest.mark.parametrize("photometric", ["YBR_FULL", "YBR_FULL_422"])
def test_dicom_ybr_colour_is_converted_to_rgb(tmp_path, photometric):
    from pydicom.pixels import convert_color_space

    rgb = frames(channels=3, count=5)
    rgb[:, :, 1::2] = rgb[:, :, 0::2]  # pairs of equal colour, so 4:2:2 subsampling loses nothing
    write_dicom(tmp_path / "ybr.dcm", convert_color_space(rgb, "RGB", "YBR_FULL"), photometric)
    back = read_sequence(tmp_path / "ybr.dcm")
    assert back.frames.shape == rgb.shape
    assert np.abs(back.frames.astype(int) - rgb).max() <= 2  # rounding of the colour transform only


def test_dicom_frame_time_vector(tmp_path):
    write_dicom(tmp_path / "v.dcm", frames(), frame_time_vector=[0, 30, 40, 50])
    np.testing.assert_allclose(read_sequence(tmp_path / "v.dcm").frame_times, [0, 0.03, 0.07, 0.12])


def test_dicom_without_extension_is_recognised(tmp_path):
    write_dicom(tmp_path / "IM0001", frames())
    assert len(read_sequence(tmp_path / "IM0001")) == 4


@pytest.mark.parametrize("damage", ["no pixel data", "truncated", "no image"])
def test_unreadable_dicom_is_one_clear_error(tmp_path, damage):
    import pydicom

    path = tmp_path / "cine.dcm"
    write_dicom(path, frames())
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:-300])
    else:
        ds = pydicom.dcmread(str(path))
        del ds.PixelData
        if damage == "no image":
            del ds.Rows, ds.Columns
        ds.save_as(str(path))
    with pytest.raises(SequenceReadError, match=r"cine\.dcm.*Fix:"):
        read_sequence(path)


def test_old_pydicom_is_reported_not_loaded_whole(tmp_path, monkeypatch):
    write_dicom(tmp_path / "cine.dcm", frames())
    monkeypatch.setattr(dicom_module, "pixels", None)
    with pytest.raises(SequenceReadError, match=r"cine\.dcm.*pydicom 3"):
        open_sequence(tmp_path / "cine.dcm")
