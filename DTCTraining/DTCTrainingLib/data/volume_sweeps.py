"""Training sweeps from 3D TRUS volumes with prostate labels: virtual probe sweeps with exact masks.

Many groups hold 3D TRUS volumes (NIfTI, NRRD, MHA; any spacing and direction) with a
prostate label but no annotated video.  This module moves a virtual TRUS probe through
such a volume and resamples the planes it would image, so every frame of the resulting
2D+t recording has an exact mask (the label cut by the same plane).

Geometry and display convention (all positions in the volume's physical space, LPS mm, as
ITK reads it; RAS files are converted by the reader, so the anatomical letters mean the
same in both):

* The probe axis ``p`` (``probe_axis``, default ``"S"``: the shaft points from the handle
  towards its tip, superior) and the probe side (``probe_side``, default ``"P"``: the probe
  lies posterior to the gland) are directions, given as anatomical letters ``L R P A S I``
  (resolved in physical space, so they follow the file's direction cosines, never its
  array axes) or, for files whose header orientation is not anatomical, as voxel axes
  ``+i -i +j -j +k -k`` (the physical direction of increasing or decreasing index; ``i-``
  is the same as ``-i``, handy on a command line).
  ``up`` is the direction from the probe towards the gland: minus the probe side, made
  perpendicular to ``p``; ``lateral = p x up`` (patient left for the defaults).
* The probe axis is a line parallel to ``p``, ``standoff_mm + probe_radius_mm`` below
  (along ``-up``) the gland's most posterior voxel, level with the gland's centroid; the
  transducer surface is ``probe_radius_mm`` from that line.
* Rotational sweep (sagittal fan, as side-fire / end-fire probes rotated about their
  shaft): every plane contains the probe axis; frame ``t`` is turned by ``angle_t``
  about ``p`` (positive towards ``lateral``).  Columns run along ``-p`` (the probe tip,
  the base for the defaults, on the left), rows from far field to the transducer.
* Axial sweep (transverse planes): planes perpendicular to the probe axis, translated
  along it through the gland and tilted about ``lateral`` (``tilt_deg`` over the sweep, as
  a hand-held sweep does); columns run along ``lateral`` (patient right on the image
  left for the defaults: the radiological view from the feet), rows from far field to
  the transducer.
* Display: ``probe_at="bottom"`` (default, as clinical TRUS shows it: transducer at the
  bottom row, anterior up) or ``"top"`` (the transducer on row 0, as this project's
  simulator draws it).  The transducer centre is the centre of the bottom (top) row.
* The sweep covers the gland plus ``margin`` of the frames on each side beyond it (empty
  masks), unless ``sweep_range`` fixes it (degrees for rotational sweeps, mm along ``p``
  from the gland centroid for axial ones).
* Hand motion, smooth and deterministic for a seed: out-of-plane tremor (``tremor_deg`` /
  ``tremor_mm`` along the sweep), in-plane translation (``tremor_mm``), in-plane rotation
  about the transducer (``rotation_deg``) and probe pressure as a scale change of the
  sampled field about the transducer (``pressure``, relative); each a sum of slow
  sinusoids (0.25 to 1 Hz at ``frame_rate``), so the motion per frame does not depend
  on the sweep's length.

Frames are resampled with SimpleITK on a 2D-in-3D grid (``sitk.Resample`` onto an image of
size ``(W, H, 1)`` with the plane's origin and direction): images linearly, the label
linearly as a 0/1 map thresholded at 0.5 (partial volume).  Outside the volume is 0.
"""

import json
import re
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import SimpleITK as sitk
from DTCSegmentationLib.atomic import atomic_output
from DTCSegmentationLib.errors import PathLike
from DTCSegmentationLib.sequence_io import open_writer
from DTCSegmentationLib.sequence_io.frame_sequence import FrameGeometry, default_frame_times

from DTCTrainingLib.data.manifest import MANIFEST_NAME, Case, Manifest, write_manifest
from DTCTrainingLib.data.sweep_settings import KINDS, SweepSettings, VolumeImportError

VIEW_OF_KIND = {"rotational": "sagittal", "axial": "axial"}
VOLUME_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")
# ITK's physical space is LPS: +x towards the patient's left, +y posterior, +z superior.
_LETTERS = {"L": (1, 0, 0), "R": (-1, 0, 0), "P": (0, 1, 0), "A": (0, -1, 0), "S": (0, 0, 1), "I": (0, 0, -1)}
_VOXEL_AXIS = re.compile(r"^(?:([+-])([ijk])|([ijk])([+-]))$")
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass
class Sweep:
    """One virtual sweep through a volume.

    Attributes:
        images: ``(T, H, W)`` frames, the volume's pixel type (integers rounded) or float32.
        masks: ``(T, H, W)`` uint8, 1 = the selected label.
        times: ``(T,)`` frame times in seconds.
        frame_to_volume: ``(T, 4, 4)``: pixel index ``(column, row, 0, 1)`` of each frame to
            the volume's physical LPS position in mm.
        geometry: the pixel geometry of every frame: spacing ``(pixel_mm, pixel_mm, 1)``
            (the probe pressure's scale change is part of the motion, not of the geometry).
        settings: what made it.
    """

    images: np.ndarray
    masks: np.ndarray
    times: np.ndarray
    frame_to_volume: np.ndarray
    geometry: FrameGeometry
    settings: SweepSettings


# --- reading ------------------------------------------------------------------------------

def volume_id(path: PathLike) -> str:
    """The case name of a volume file: its name without the volume suffix (``obs000.nii.gz`` -> ``obs000``)."""
    name = Path(path).name
    for suffix in VOLUME_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(path).stem


def _read(path: Path, what: str) -> sitk.Image:
    if not path.is_file():
        raise VolumeImportError(f"the {what} does not exist.", path, "Check the path.")
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else "unknown reason"
        raise VolumeImportError(f"the {what} cannot be read ({reason}).", path,
                                f"Give a NIfTI, NRRD or MHA volume ({', '.join(VOLUME_SUFFIXES)}).") from None


def read_volume(path: PathLike) -> sitk.Image:
    """A 3D scalar image volume (any pixel type, spacing and direction) from ``path``.

    Raises:
        VolumeImportError: missing or unreadable file, or not a 3D single-channel image.
    """
    path = Path(path)
    image = _read(path, "image volume")
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise VolumeImportError(
            f"the image volume is {image.GetDimension()}D with {image.GetNumberOfComponentsPerPixel()} "
            "component(s) per voxel; sweeps need a 3D gray-scale volume.", path,
            "Give a 3D single-channel TRUS volume (convert colour volumes to gray first).")
    return image


def _label_channels(label: sitk.Image) -> int:
    if label.GetNumberOfComponentsPerPixel() > 1:
        return label.GetNumberOfComponentsPerPixel()
    return label.GetSize()[3] if label.GetDimension() == 4 else 1


def _spatial_grid(image: sitk.Image) -> Tuple[np.ndarray, ...]:
    """Size, spacing, origin and ``(3, 3)`` direction of the first three axes (4D labels included)."""
    dim = image.GetDimension()
    direction = np.asarray(image.GetDirection(), float).reshape(dim, dim)[:3, :3]
    return (np.asarray(image.GetSize()[:3]), np.asarray(image.GetSpacing()[:3], float),
            np.asarray(image.GetOrigin()[:3], float), direction)


def read_label(path: PathLike, image: sitk.Image, value: Optional[float] = None,
               channel: Optional[int] = None) -> sitk.Image:
    """The selected structure of the label map at ``path`` as a 0/1 uint8 volume on ``image``'s grid.

    Args:
        path: label map: a 3D scalar volume, a 3D vector (multi-component) volume, or a 4D
            volume whose fourth axis holds channels (as NIfTI stores multi-channel labels).
        image: the image volume the label belongs to; the label must share its grid
            (size, spacing, origin, direction).
        value: voxels equal to ``value`` are the structure; None: voxels above 0.5 (any
            non-zero integer label, or a 0/1 or probability channel).
        channel: which channel of a multi-channel label (0-based); required for those.

    Raises:
        VolumeImportError: naming the file and the fix for a missing file, a label of
            another grid than its image, a channel out of range, or an absent label value.
    """
    path = Path(path)
    label = _read(path, "label map")
    channels = _label_channels(label)
    if label.GetDimension() not in (3, 4) or (label.GetDimension() == 4 and label.GetNumberOfComponentsPerPixel() > 1):
        raise VolumeImportError(f"the label map is {label.GetDimension()}D; it must be a 3D volume "
                                "(or 3D with one channel axis).", path, "Give the label map of the 3D image.")
    if channels > 1 and channel is None:
        raise VolumeImportError(f"the label map has {channels} channels.", path,
                                f"Choose one with --label-channel (0 to {channels - 1}).")
    if channel is not None and not 0 <= channel < channels:
        raise VolumeImportError(f"channel {channel} was asked for, but the label map has {channels} channel(s).",
                                path, f"Use --label-channel between 0 and {channels - 1}.")
    _check_same_grid(label, image, path)
    if label.GetNumberOfComponentsPerPixel() > 1:
        label = sitk.VectorIndexSelectionCast(label, int(channel))
    elif label.GetDimension() == 4:
        size = list(label.GetSize())
        label = sitk.Extract(label, size[:3] + [0], [0, 0, 0, int(channel)])
    # The grid was checked to match; copying it removes float noise from NIfTI's float32 header.
    label.CopyInformation(image)
    values = sitk.GetArrayViewFromImage(label)
    selected = (values == value) if value is not None else (values > 0.5)
    if not selected.any():
        present = np.unique(values)
        shown = ", ".join(f"{v:g}" for v in present[:10]) + (" ..." if len(present) > 10 else "")
        what = f"no voxel has label value {value:g}" if value is not None else "no voxel is labelled (all <= 0.5)"
        where = f" in channel {channel}" if channels > 1 else ""
        raise VolumeImportError(f"{what}{where}; values present: {shown}.", path,
                                "Choose a present value with --label-value (or another --label-channel).")
    mask = sitk.GetImageFromArray(selected.astype(np.uint8))
    mask.CopyInformation(image)
    return mask


def _check_same_grid(label: sitk.Image, image: sitk.Image, path: Path) -> None:
    size, spacing, origin, direction = _spatial_grid(label)
    i_size, i_spacing, i_origin, i_direction = _spatial_grid(image)
    problem = None
    if not np.array_equal(size, i_size):
        problem = f"size {tuple(size)} differs from its image's {tuple(i_size)}"
    elif not np.allclose(spacing, i_spacing, rtol=1e-4, atol=0):
        problem = f"spacing {tuple(np.round(spacing, 4))} mm differs from its image's {tuple(np.round(i_spacing, 4))}"
    elif not np.allclose(origin, i_origin, atol=1e-3 * float(i_spacing.min()) + 1e-4):
        problem = f"origin {tuple(np.round(origin, 3))} mm differs from its image's {tuple(np.round(i_origin, 3))}"
    elif not np.allclose(direction, i_direction, atol=1e-4):
        problem = "direction (orientation) differs from its image's"
    if problem:
        raise VolumeImportError(f"the label map's {problem}.", path,
                                "Give the label map drawn on this image, or resample it onto the image grid "
                                "first (e.g. Slicer's Resample Image (BRAINS) with the image as reference).")


def find_volume_pairs(images: Sequence[PathLike], labels: Sequence[PathLike],
                      cases: Sequence[str] = ()) -> List[Tuple[str, Path, Path]]:
    """``(case id, image path, label path)`` for every image volume, labels matched by case id.

    ``images`` and ``labels`` are folders (every volume file in them) or volume files; a
    label belongs to the image with the same name (``images/obs000.nii.gz`` with
    ``labels/obs000.nii.gz``).  ``cases`` keeps only those ids.  Sorted by id.

    Raises:
        VolumeImportError: no images, an image without a label, a case id that is unsafe
            as a folder name, or a requested case that is not there.
    """
    image_files, label_files = _volume_files(images, "image"), _volume_files(labels, "label")
    wanted = list(dict.fromkeys(cases))
    missing = [case for case in wanted if case not in image_files]
    if missing:
        raise VolumeImportError(f"case(s) {', '.join(missing)} have no image volume in {_where(images)}.",
                                fix="Check the names given with --case.")
    ids = wanted or sorted(image_files)
    if not ids:
        raise VolumeImportError(f"no image volumes ({', '.join(VOLUME_SUFFIXES)}) found in {_where(images)}.",
                                fix="Point --images at the volumes.")
    pairs = []
    for case in sorted(ids):
        if not _SAFE_ID.match(case) or ".." in case:
            raise VolumeImportError(f"case id {case!r} (from the file name) cannot name a case folder.",
                                    image_files[case], "Rename the file to letters, digits, '.', '_' or '-'.")
        if case not in label_files:
            raise VolumeImportError(f"no label map named {case!r} in {_where(labels)}.", image_files[case],
                                    "Give every image a label with the same file name, or leave it out with --case.")
        pairs.append((case, image_files[case], label_files[case]))
    return pairs


def _where(paths: Sequence[PathLike]) -> str:
    return ", ".join(str(p) for p in paths)


def _volume_files(paths: Sequence[PathLike], what: str) -> Dict[str, Path]:
    found: Dict[str, Path] = {}
    for path in map(Path, paths):
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and p.name.lower().endswith(VOLUME_SUFFIXES))
        elif path.is_file():
            files = [path]
        else:
            raise VolumeImportError(f"the {what} path does not exist.", path, "Check the path.")
        for file in files:
            case = volume_id(file)
            if case in found and found[case] != file:
                raise VolumeImportError(f"two {what} volumes are named {case!r}: {found[case].name} and {file.name}.",
                                        file, "Keep one volume per case name.")
            found[case] = file
    return found


# --- geometry -----------------------------------------------------------------------------

def direction_vector(spec: str, image: sitk.Image) -> np.ndarray:
    """``(3,)`` unit LPS vector of an anatomical letter (``L R P A S I``) or a voxel axis (``+i`` ... ``-k``)."""
    text = spec.strip()
    if text.upper() in _LETTERS:
        return np.asarray(_LETTERS[text.upper()], float)
    match = _VOXEL_AXIS.match(text.lower())
    if match:
        sign, axis = (match.group(1), match.group(2)) if match.group(1) else (match.group(4), match.group(3))
        column = np.asarray(image.GetDirection(), float).reshape(3, 3)[:, "ijk".index(axis)]
        return (1.0 if sign == "+" else -1.0) * column / np.linalg.norm(column)
    raise VolumeImportError(f"direction {spec!r} is not understood.",
                            fix="Use an anatomical letter (L, R, P, A, S, I) or a voxel axis (+i, i-, +k, ...).")


def probe_frame(settings: SweepSettings, image: sitk.Image) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(p, up, lateral)``: unit LPS vectors of the probe axis, probe-to-gland and ``p x up``."""
    axis = direction_vector(settings.probe_axis, image)
    side = direction_vector(settings.probe_side, image)
    up = -(side - np.dot(side, axis) * axis)
    if np.linalg.norm(up) < 0.5:  # within 30 degrees of the axis: no sensible "up"
        raise VolumeImportError(f"the probe side {settings.probe_side!r} is (nearly) along the probe axis "
                                f"{settings.probe_axis!r}.", fix="Give a probe side perpendicular to the probe axis.")
    up /= np.linalg.norm(up)
    return axis, up, np.cross(axis, up)


def label_points(mask: sitk.Image) -> np.ndarray:
    """``(N, 3)`` LPS positions (mm) of the centres of the labelled voxels of a 0/1 volume."""
    index_zyx = np.argwhere(sitk.GetArrayViewFromImage(mask) > 0)
    index = index_zyx[:, ::-1].astype(float)  # numpy's (z, y, x) to ITK's (i, j, k)
    axes = np.asarray(mask.GetDirection(), float).reshape(3, 3) * np.asarray(mask.GetSpacing(), float)[None, :]
    return np.asarray(mask.GetOrigin(), float)[None, :] + index @ axes.T


def _smooth_series(rng: np.random.Generator, times: np.ndarray, terms: int = 3) -> np.ndarray:
    """``(T,)`` smooth motion in [-1, 1] at ``times`` (s): a few slow sinusoids, 0.25 to 1 Hz (a hand's drift)."""
    hertz, phase, weight = rng.uniform(0.25, 1.0, terms), rng.uniform(0, 2 * np.pi, terms), rng.uniform(0.5, 1, terms)
    waves = np.sin(2 * np.pi * hertz[:, None] * times[None, :] + phase[:, None])
    return (weight[:, None] * waves).sum(0) / weight.sum()


def _padded(low: float, high: float, margin: float) -> Tuple[float, float]:
    pad = (high - low) * margin / (1 - 2 * margin)
    return low - pad, high + pad


def plane_poses(mask: sitk.Image, settings: SweepSettings, seed: int = 0) -> np.ndarray:
    """``(T, 4, 4)`` pixel-index-to-LPS matrices of the sweep's frames (see the module docstring).

    Pixel ``(column, row)`` of frame ``t`` lies at ``poses[t] @ (column, row, 0, 1)``; the first
    three columns of each matrix are the column step, the row step (both ``pixel_mm``
    times the pressure scale) and the plane normal (unit).
    """
    axis, up, lateral = probe_frame(settings, mask)
    points = label_points(mask)
    centre = points.mean(0)
    # The axis line, level with the gland centre, standoff + radius behind its most posterior voxel.
    behind = np.min((points - centre) @ up) - settings.standoff_mm - settings.probe_radius_mm
    on_axis = centre + behind * up
    count, radius = settings.frames, settings.probe_radius_mm
    rng = np.random.default_rng(seed)
    times = default_frame_times(count, settings.frame_rate)
    along, tilt, shift_c, shift_up, spin, squeeze = (_smooth_series(rng, times) for _ in range(6))
    progress = np.linspace(0.0, 1.0, count)
    if settings.kind == "rotational":
        if settings.sweep_range is None:
            relative = points - on_axis
            angles = np.degrees(np.arctan2(relative @ lateral, relative @ up))
            start, end = _padded(angles.min(), angles.max(), settings.margin)
        else:
            start, end = settings.sweep_range
        angle = np.radians(start + progress * (end - start) + settings.tremor_deg * along)
    else:
        if settings.sweep_range is None:
            spacing = np.asarray(mask.GetSpacing(), float)
            axes = np.asarray(mask.GetDirection(), float).reshape(3, 3)
            half_voxel = 0.5 * np.sum(np.abs(axis @ axes) * spacing)
            positions = (points - centre) @ axis
            start, end = _padded(positions.min() - half_voxel, positions.max() + half_voxel, settings.margin)
        else:
            start, end = settings.sweep_range
        position = start + progress * (end - start) + settings.tremor_mm * along
        tilt_angle = np.radians((progress - 0.5) * settings.tilt_deg + settings.tremor_deg * tilt)
    poses = np.zeros((count, 4, 4))
    for t in range(count):
        if settings.kind == "rotational":
            w = np.cos(angle[t]) * up + np.sin(angle[t]) * lateral
            column = -axis
            transducer = on_axis + radius * w
        else:
            # Tilting about `lateral` through the transducer: the plane's up and normal turn together.
            w = np.cos(tilt_angle[t]) * up - np.sin(tilt_angle[t]) * axis
            column = lateral
            transducer = on_axis + position[t] * axis + radius * up
        spin_angle = np.radians(settings.rotation_deg * spin[t])
        cos, sin = np.cos(spin_angle), np.sin(spin_angle)
        column, w = cos * column + sin * w, -sin * column + cos * w
        transducer = transducer + settings.tremor_mm * (shift_c[t] * column + shift_up[t] * w)
        step = settings.pixel_mm * (1.0 + settings.pressure * squeeze[t])
        row = -w if settings.probe_at == "bottom" else w
        first_row = (settings.height - 1) * step * w if settings.probe_at == "bottom" else 0.0
        origin = transducer - (settings.width - 1) / 2 * step * column + first_row
        # Right-handed (column, row, normal) whichever way the rows run.
        poses[t, :3, 0], poses[t, :3, 1] = step * column, step * row
        poses[t, :3, 2] = np.cross(column, row)
        poses[t, :3, 3], poses[t, 3, 3] = origin, 1.0
    return poses


def resample_plane(volume: sitk.Image, pose: np.ndarray, height: int, width: int,
                   interpolator=sitk.sitkLinear) -> np.ndarray:
    """``(H, W)`` float32 samples of ``volume`` on the frame grid ``pose`` (one of :func:`plane_poses`); 0 outside."""
    steps = pose[:3, :3]
    spacing = np.linalg.norm(steps, axis=0)
    reference = sitk.Image(int(width), int(height), 1, sitk.sitkUInt8)
    reference.SetSpacing(tuple(float(s) for s in spacing))
    reference.SetDirection(tuple(float(v) for v in (steps / spacing[None, :]).ravel()))
    reference.SetOrigin(tuple(float(v) for v in pose[:3, 3]))
    plane = sitk.Resample(volume, reference, sitk.Transform(), interpolator, 0.0, sitk.sitkFloat32)
    return sitk.GetArrayFromImage(plane)[0]


def make_sweep(image: sitk.Image, mask: sitk.Image, settings: SweepSettings, seed: int = 0) -> Sweep:
    """The sweep ``settings`` describe through ``image`` with its 0/1 ``mask`` (from :func:`read_label`).

    Raises:
        VolumeImportError: the gland does not fit the frames (it touches the frame border).
    """
    poses = plane_poses(mask, settings, seed)
    source = sitk.Cast(image, sitk.sitkFloat32)
    label = sitk.Cast(mask, sitk.sitkFloat32)
    count, height, width = settings.frames, settings.height, settings.width
    pixel_type = sitk.GetArrayViewFromImage(image).dtype
    integer = np.issubdtype(pixel_type, np.integer)
    images = np.zeros((count, height, width), pixel_type if integer else np.float32)
    masks = np.zeros((count, height, width), np.uint8)
    for t, pose in enumerate(poses):
        frame = resample_plane(source, pose, height, width)
        if integer:
            info = np.iinfo(pixel_type)
            frame = np.clip(np.rint(frame), info.min, info.max)
        images[t] = frame
        masks[t] = resample_plane(label, pose, height, width) >= 0.5
    edge = masks[:, 0, :].any() or masks[:, -1, :].any() or masks[:, :, 0].any() or masks[:, :, -1].any()
    if edge:
        raise VolumeImportError(
            f"the gland does not fit a {height}x{width} frame of {settings.pixel_mm:g} mm pixels "
            f"({settings.kind} sweep): the mask touches the frame border.",
            fix="Give a larger pixel size (--pixel-mm) or frame size (--size).")
    geometry = FrameGeometry(spacing=(settings.pixel_mm, settings.pixel_mm, 1.0))
    return Sweep(images, masks, default_frame_times(count, settings.frame_rate), poses, geometry, settings)


def case_seed(seed: int, case: str, kind: str) -> int:
    """A seed of its own per case and sweep kind, so adding cases never changes another's sweep."""
    return int(np.random.SeedSequence([seed, zlib.crc32(case.encode()), KINDS.index(kind)]).generate_state(1)[0])


# --- writing ------------------------------------------------------------------------------

def write_sweep(folder: Path, sweep: Sweep, provenance: Dict) -> Tuple[Path, Path]:
    """``folder/images.seq.nrrd``, ``masks.seq.nrrd`` and ``sweep.json`` (settings, poses); returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    rate = sweep.settings.frame_rate
    with open_writer(folder / "images.seq.nrrd", sweep.geometry, "image", rate) as images, \
            open_writer(folder / "masks.seq.nrrd", sweep.geometry, "labelmap", rate) as masks:
        for image, mask, time in zip(sweep.images, sweep.masks, sweep.times):
            images.write(image, float(time))
            masks.write(mask, float(time))
    document = dict(provenance, settings=asdict(sweep.settings),
                    frame_to_volume_lps=np.round(sweep.frame_to_volume, 6).tolist())
    with atomic_output(folder / "sweep.json") as temporary:
        temporary.write_text(json.dumps(document) + "\n")
    return images.path, masks.path


def choose_splits(cases: Sequence[str], val: Sequence[str] = (), test: Sequence[str] = (),
                  val_fraction: Optional[float] = None, seed: int = 0) -> Dict[str, str]:
    """``{case: split}`` by patient: the named ``val`` / ``test`` cases, else ``val_fraction`` of them at random.

    Raises:
        VolumeImportError: a named case is not among ``cases``, is named twice, or both
            names and a fraction are given.
    """
    known = set(cases)
    for name, chosen in (("--val", val), ("--test", test)):
        unknown = sorted(set(chosen) - known)
        if unknown:
            raise VolumeImportError(f"{name} names case(s) {', '.join(unknown)} that are not imported.",
                                    fix=f"Use case ids of the image volumes (e.g. {sorted(known)[0]}).")
    if set(val) & set(test):
        raise VolumeImportError(f"case(s) {', '.join(sorted(set(val) & set(test)))} are named for validation "
                                "and test.", fix="Put each patient in one split.")
    if val and val_fraction is not None:
        raise VolumeImportError("both --val and --val-fraction were given.", fix="Give one of them.")
    if val_fraction is not None:
        if not 0 <= val_fraction < 1:
            raise VolumeImportError(f"--val-fraction {val_fraction} is outside [0, 1).", fix="Use e.g. 0.2.")
        rest = sorted(known - set(test))
        order = np.random.default_rng(seed).permutation(len(rest))
        val = [rest[i] for i in order[: int(round(val_fraction * len(rest)))]]
    return {case: "val" if case in set(val) else "test" if case in set(test) else "train" for case in cases}


def import_volumes(pairs: Sequence[Tuple[str, Path, Path]], out: PathLike, splits: Dict[str, str],
                   settings: Sequence[SweepSettings], label_value: Optional[float] = None,
                   label_channel: Optional[int] = None, seed: int = 0, overwrite: bool = False,
                   progress: Optional[bool] = None) -> Dict:
    """Write a training-data folder: one recording per volume and sweep setting, and its ``dataset.json``.

    Each volume is its own patient; its cases are ``<case>_<kind>`` (``view`` sagittal for
    rotational sweeps, axial for axial ones).  The folder is built under a temporary name
    and renamed when complete; an existing ``out`` is replaced only with ``overwrite`` and
    only if it is a training-data folder (or empty).

    Returns:
        ``{"manifest": path, "cases": n, "frames": n, "splits": {...}, "gland_width_fraction":
        {min, median, max}, ...}``: the widest mask of each sweep over the frame width.
    """
    from tqdm import tqdm

    out = Path(out)
    kinds = [s.kind for s in settings]
    if len(set(kinds)) != len(kinds):
        raise VolumeImportError("a sweep kind is asked for twice.", fix="Give each of rotational / axial once.")
    if out.exists() and overwrite and any(out.iterdir()) and not (out / MANIFEST_NAME).is_file():
        raise VolumeImportError("exists and is not a training-data folder (no dataset.json); it is not replaced.",
                                out, "Choose a new or empty output folder.")
    out.parent.mkdir(parents=True, exist_ok=True)
    entries, widths, gland_frames, total = [], [], [], 0
    with atomic_output(out, overwrite=overwrite, directory=True) as building:
        for case, image_path, label_path in tqdm(pairs, desc="sweep volumes", unit="volume",
                                                 disable=progress is False or None):
            image = read_volume(image_path)
            mask = read_label(label_path, image, label_value, label_channel)
            for setting in settings:
                try:
                    sweep = make_sweep(image, mask, setting, case_seed(seed, case, setting.kind))
                except VolumeImportError as error:
                    raise VolumeImportError(str(error), image_path) from None
                name = f"{case}_{setting.kind}"
                provenance = {"case": case, "image": str(image_path), "label": str(label_path),
                              "label_value": label_value, "label_channel": label_channel, "seed": seed}
                frames, masks = write_sweep(building / name, sweep, provenance)
                entries.append(Case(id=name, patient=case, view=VIEW_OF_KIND[setting.kind], split=splits[case],
                                    frames=frames, masks=masks))
                columns = sweep.masks.any(axis=1).sum(axis=1)
                widths.append(float(columns.max()) / setting.width)
                gland_frames.append(int((columns > 0).sum()))
                total += setting.frames
        manifest = write_manifest(Manifest(root=building, name=f"volume-sweeps-{out.name}", cases=entries))
    counts = {split: sorted(c for c, s in splits.items() if s == split) for split in ("train", "val", "test")}
    return {
        "manifest": str(out / manifest.name), "cases": len(entries), "volumes": len(pairs), "frames": total,
        "frames_with_gland": int(sum(gland_frames)),
        "patients": {split: len(names) for split, names in counts.items()},
        "val_patients": counts["val"], "test_patients": counts["test"],
        "gland_width_fraction": {"min": round(min(widths), 3), "median": round(float(np.median(widths)), 3),
                                 "max": round(max(widths), 3)},
    }
