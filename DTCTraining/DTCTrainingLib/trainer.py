"""The training loops of both DTC stages, with exact resumption and multi-process (DDP) support.

* ``teacher``: supervised BCE + Dice on labelled frames, with augmentation.
* ``student``: initialised from the teacher; on video clips it learns from
  equivariance pseudo-labels, distillation from the frozen teacher, confidence-weighted
  temporal consistency and dual-scale prototype alignment (METHOD.md weights).

Every epoch ends with validation Dice on the labelled frames of the validation cases,
an atomically written checkpoint (``{stage}_checkpoint.pt``: weights, optimiser,
scheduler, early-stopping state, RNG state - tensors and plain values only, loaded with
``weights_only=True``), and, when Dice improved, the best weights as a model file
(``{stage}.safetensors``) with its validation metrics.  Sample randomness is derived from
``(seed, epoch, index)``, so ``resume=True`` after a kill ends with the same weights as an
uninterrupted run on the same machine.  Progress is reported as JSON events.
"""

import hashlib
import json
import os
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
import torch.distributed as dist
from DTCSegmentationLib import __version__
from DTCSegmentationLib.atomic import atomic_output
from DTCSegmentationLib.errors import DTCError
from DTCSegmentationLib.inference.devices import resolve_device
from DTCSegmentationLib.inference.preprocessing import normalize
from DTCSegmentationLib.networks import FeatureTaps
from DTCSegmentationLib.networks.model_file import ModelInfo, load_model, save_model
from DTCSegmentationLib.temporal.flow import FlowSettings, warp_tensor
from torch import nn
from torch.utils.data import DataLoader

from DTCTrainingLib import run_folder
from DTCTrainingLib.config import TrainingConfig
from DTCTrainingLib.data.case_loading import load_case
from DTCTrainingLib.data.datasets import LabelledFrames, VideoClips
from DTCTrainingLib.data.flow_cache import FlowCache
from DTCTrainingLib.data.layouts import load_dataset
from DTCTrainingLib.losses import bce_dice_loss, distillation_loss, labelled_frames_loss, temporal_consistency_loss
from DTCTrainingLib.losses.prototype_alignment import prototype_alignment_loss
from DTCTrainingLib.losses.pseudo_labels import equivariance_pseudo_labels

Emit = Callable[[Dict], None]
STAGES = ("teacher", "student")


class TrainingError(DTCError):
    """A training run that cannot start or continue (no labelled frames, missing teacher, ...)."""


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (or the panel's Cancel) during a stage; ``str()`` says what the run folder kept."""


def weights_digest(model: nn.Module) -> str:
    """SHA-1 of all weights and buffers, to compare runs and ranks bit for bit."""
    digest = hashlib.sha1()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def dice_per_frame(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """``(N,)`` Dice of ``logits > 0`` against binary ``masks`` (both ``(N, 1, H, W)``); 1 when both are empty."""
    prediction = (logits > 0).float()
    intersection = (prediction * masks).sum(dim=(1, 2, 3))
    total = prediction.sum(dim=(1, 2, 3)) + masks.sum(dim=(1, 2, 3))
    return torch.where(total > 0, 2 * intersection / total.clamp_min(1e-6), torch.ones_like(total))


class _Distributed:
    """Rank and world size from torchrun's environment; a no-op for a single process."""

    def __init__(self, device: torch.device):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.enabled = self.world > 1
        if self.enabled and not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def share_buffers(self, model: nn.Module) -> None:
        """Copy rank 0's buffers (batch-norm statistics) to every rank.

        DDP averages gradients, so parameters stay identical, but each rank updates its
        running statistics from its own batches; without this the replicas drift apart.
        """
        if self.enabled:
            for buffer in model.buffers():
                dist.broadcast(buffer.data, src=0)


class Trainer:
    """One stage of training in ``run_dir``.

    Args:
        stage: ``teacher`` or ``student``.
        config: the resolved configuration (saved as ``run_dir/config.json``).
        run_dir: output folder of the run.
        teacher: the teacher model file (student stage only).
        emit: receives every progress event (a dict); JSON lines in ``run_dir/events.jsonl`` too.
        progress: wrap iterables with a progress bar (e.g. tqdm) or not.
    """

    def __init__(self, stage: str, config: TrainingConfig, run_dir: Path, teacher: Optional[Path] = None,
                 emit: Optional[Emit] = None, progress: Optional[Callable] = None):
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}")
        self.stage, self.config, self.run_dir = stage, config, Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.device = resolve_device(config.device)
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if self.device.type == "cuda" and "LOCAL_RANK" in os.environ:
            self.device = torch.device("cuda", local_rank)
        self.ddp = _Distributed(self.device)
        self._emit = emit
        self.progress = progress or (lambda iterable, **_: iterable)
        self.checkpoint_path = run_folder.checkpoint_path(self.run_dir, stage)
        self.model_path = run_folder.finished_model_path(self.run_dir, stage)
        self.best_so_far_path = run_folder.best_so_far_path(self.run_dir, stage)
        torch.manual_seed(config.seed)
        self.info, self.model, self.teacher = self._build_models(teacher)
        self.train_cases, self.val_cases = self._load_data()
        self.dataset = self._make_dataset()
        # channels-last convolutions are faster on oneDNN (CPU) and tensor cores alike.
        self.model.to(memory_format=torch.channels_last)
        if self.teacher is not None:
            self.teacher.to(memory_format=torch.channels_last)
        self.parameters = [p for p in self.model.parameters() if p.requires_grad]
        optim = config.optim
        self.optimizer = torch.optim.AdamW(self.parameters, lr=optim.lr, weight_decay=optim.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
            self.optimizer, T_0=optim.t0, T_mult=optim.t_mult, eta_min=optim.eta_min)
        self.amp = optim.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda") if self.amp else None
        self.network = self.model
        if self.ddp.enabled:
            self.network = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.state = {"epoch": 0, "best_dice": -1.0, "best_epoch": -1, "stale_epochs": 0}

    # ------------------------------------------------------------------ set-up
    def emit(self, event: Dict) -> None:
        if not self.ddp.main:
            return
        event = {"stage": self.stage, "time": round(time.time(), 3), **event}
        with open(run_folder.events_path(self.run_dir), "a") as handle:
            handle.write(json.dumps(event) + "\n")
        if self._emit:
            self._emit(event)

    def _build_models(self, teacher_path: Optional[Path]):
        config = self.config
        if self.stage == "teacher":
            info = ModelInfo(architecture=config.network.name, arguments=dict(config.network.arguments),
                             in_channels=config.data.in_channels, input_size=(config.data.height, config.data.width),
                             local_tap=config.student.local_tap, global_tap=config.student.global_tap)
            model = info.build().to(self.device)
            if config.teacher.init:
                self._start_from(model, info, Path(config.teacher.init))
            return info, model, None
        if teacher_path is None or not Path(teacher_path).is_file():
            unfinished = teacher_path is not None and run_folder.best_so_far_path(Path(teacher_path).parent, "teacher")
            if unfinished and unfinished.is_file():
                raise TrainingError(f"the teacher stage has not finished (only {unfinished.name} is there).",
                                    teacher_path, "Finish it with `dtc train teacher --resume`, or pass --teacher FILE.")
            raise TrainingError("the student stage needs a trained teacher model file.", teacher_path,
                                "Train the teacher first (`dtc train teacher`) or pass --teacher FILE.")
        # The student starts as a copy of the teacher (METHOD.md): same network, same weights.
        student, info = load_model(teacher_path, self.device)
        teacher, _ = load_model(teacher_path, self.device)
        teacher.eval().requires_grad_(False)
        info.local_tap = config.student.local_tap or info.local_tap
        info.global_tap = config.student.global_tap or info.global_tap
        if (config.data.height, config.data.width) != tuple(info.input_size):
            raise TrainingError(f"the teacher was trained at {tuple(info.input_size)}, the student config asks for "
                                f"{(config.data.height, config.data.width)}.", teacher_path,
                                "Use the same data.height and data.width for both stages.")
        return info, student.train(), teacher

    def _start_from(self, model: nn.Module, info: ModelInfo, path: Path) -> None:
        """Copy the weights of the model file ``path`` into ``model`` (same architecture and arguments)."""
        if not path.is_file():
            raise TrainingError("does not exist.", path, "Check teacher.init (a .safetensors model file).")
        source, source_info = load_model(path, self.device)
        same = (source_info.architecture, source_info.in_channels) == (info.architecture, info.in_channels)
        if not same or dict(source_info.arguments) != dict(info.arguments):
            raise TrainingError(
                f"is a {source_info.architecture} {dict(source_info.arguments)} with {source_info.in_channels} channel(s); "
                f"the run configures {info.architecture} {dict(info.arguments)} with {info.in_channels}.", path,
                f"Set network.name={source_info.architecture} and network.arguments to the file's, or start from "
                "another model.")
        model.load_state_dict(source.state_dict())

    def _load_data(self):
        config = self.config
        manifest = load_dataset(config.data.dataset, config.data.val, config.data.test)
        size, channels = tuple(self.info.input_size), self.info.in_channels
        load = lambda cases: [load_case(case, size, channels, self.info.resize_mode) for case in cases]
        train = load(manifest.split("train"))
        val = [case for case in load(manifest.split("val")) if case.labelled.any()]
        if self.stage == "teacher" and not any(case.labelled.any() for case in train):
            raise TrainingError("has no labelled frames in its train split.", config.data.dataset,
                                "Add masks for some training frames (see dataset.json).")
        if not val:
            raise TrainingError("has no labelled validation frames.", config.data.dataset,
                                "Put at least one case with masks in the val split (early stopping needs it).")
        return train, val

    def _make_dataset(self):
        config = self.config
        if self.stage == "teacher":
            return LabelledFrames(self.train_cases, self.info.normalization, config.teacher.augment, config.seed)
        cache_dir = self.run_dir / "flow_cache"
        dataset = VideoClips(self.train_cases, self.info.normalization,
                             FlowCache(cache_dir, FlowSettings(method=config.student.flow_method)),
                             config.data.clip_length, config.data.frame_gap, config.teacher.augment, config.seed)
        if not len(dataset):
            raise TrainingError(f"has no training case with {config.data.clip_length} frames.", config.data.dataset,
                                "Add longer recordings or lower data.clip_length.")
        dataset.precompute_flows(lambda pairs: self.progress(pairs, desc="optical flow (once)", unit="pair"))
        if config.student.cache_teacher:
            from_teacher = config.student.pseudo_label_source == "teacher"
            dataset.cache_teacher(self.teacher, self.device,
                                  pseudo_label_transforms=config.student.pseudo_label_transforms if from_teacher else ())
        return dataset

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self) -> None:
        if not self.ddp.main:
            return
        payload = {"stage": self.stage, "state": dict(self.state), "model": self.model.state_dict(),
                   "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                   "torch_rng": torch.get_rng_state()}
        if self.scaler is not None:
            payload["scaler"] = self.scaler.state_dict()
        with atomic_output(self.checkpoint_path, overwrite=True) as temporary:
            torch.save(payload, str(temporary))

    def load_checkpoint(self) -> bool:
        """Restore the last checkpoint if there is one; returns whether it did."""
        if not self.checkpoint_path.is_file():
            return False
        try:
            payload = torch.load(str(self.checkpoint_path), map_location=self.device, weights_only=True)
        except Exception as error:
            raise TrainingError(f"checkpoint cannot be read ({error}).", self.checkpoint_path,
                                "Delete it to start the stage again.") from None
        if payload.get("stage") != self.stage:
            raise TrainingError(f"is a {payload.get('stage')} checkpoint, not {self.stage}.", self.checkpoint_path,
                                "Resume the stage it belongs to.")
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        if self.scaler is not None and "scaler" in payload:
            self.scaler.load_state_dict(payload["scaler"])
        torch.set_rng_state(payload["torch_rng"].cpu())
        self.state = dict(payload["state"])
        return True

    def _save_best(self, metrics: Dict[str, float]) -> None:
        if not self.ddp.main:
            return
        self.info.metrics = metrics
        self.info.provenance = {
            "stage": self.stage, "dataset": str(self.config.data.dataset), "epoch": self.state["epoch"],
            "seed": self.config.seed, "dtc_version": __version__, "torch": torch.__version__,
            "config": self.config.to_dict(),
        }
        save_model(self.best_so_far_path, self.model, self.info, overwrite=True)

    def _finish_model(self) -> None:
        """The stage is over: its best weights become the finished model (renamed, so never half there)."""
        if not self.ddp.main:
            return
        if self.best_so_far_path.is_file():
            os.replace(self.best_so_far_path, self.model_path)
        elif not self.model_path.is_file():  # e.g. validation Dice never became a number
            raise TrainingError(f"{self.stage} training ended without a model: no epoch improved validation Dice "
                                f"(best {self.state['best_dice']}).", self.run_dir,
                                "Check the validation masks and the learning rate, then train again in a new --out.")

    def interrupted(self) -> TrainingInterrupted:
        """What an interruption leaves: the checkpoint to resume from and the unfinished best weights, by name."""
        state, epochs = self.state, self.config.optim.epochs
        if not self.checkpoint_path.is_file():
            return TrainingInterrupted(f"no {self.stage} epoch had finished, so {self.run_dir} holds no checkpoint or "
                                       "model of it")
        kept = f"kept {self.checkpoint_path} (epoch {state['epoch']} of {epochs}; continue with --resume)"
        if self.best_so_far_path.is_file():
            kept += (f" and the unfinished stage's best weights so far, {self.best_so_far_path} (epoch "
                     f"{state['best_epoch']}, validation Dice {state['best_dice']:.4f})")
        return TrainingInterrupted(kept)

    # ------------------------------------------------------------------ steps
    def _batches(self, epoch: int) -> DataLoader:
        """This rank's share of a deterministic per-epoch permutation, in batches."""
        order = np.random.default_rng([self.config.seed, epoch, 7]).permutation(len(self.dataset))
        steps = self.config.optim.steps_per_epoch
        per_rank = len(order) // self.ddp.world if self.ddp.enabled else len(order)
        order = order[self.ddp.rank::self.ddp.world][:per_rank]
        if steps:
            order = order[: steps * self.config.optim.batch_size]
        self.dataset.epoch = epoch
        return DataLoader(self.dataset, batch_size=self.config.optim.batch_size, sampler=order.tolist(),
                          num_workers=self.config.data.workers, drop_last=False)

    def _teacher_loss(self, batch) -> Dict[str, torch.Tensor]:
        logits = self.network(batch["image"].to(self.device, memory_format=torch.channels_last))
        loss = bce_dice_loss(logits.float(), batch["mask"].to(self.device), self.config.teacher.bce_weight)
        return {"total": loss, "supervised": loss}

    def _student_loss(self, batch) -> Dict[str, torch.Tensor]:
        student = self.config.student
        frames = batch["frames"].to(self.device)
        size, length = frames.shape[0], frames.shape[1]
        images = frames.flatten(0, 1).contiguous(memory_format=torch.channels_last)
        if "teacher_pseudo" in batch:
            pseudo = batch["teacher_pseudo"].to(self.device).flatten(0, 1)
        else:
            labeller = self.teacher if student.pseudo_label_source == "teacher" else self.model
            pseudo = equivariance_pseudo_labels(labeller, images, student.pseudo_label_transforms)
        if "teacher_logits" in batch:
            teacher_logits = batch["teacher_logits"].to(self.device).flatten(0, 1)
        else:
            with torch.no_grad():
                teacher_logits = self.teacher(images).float()
        with FeatureTaps(self.model, {"local": self.info.local_tap, "global": self.info.global_tap}) as taps:
            logits = self.network(images).float()
        segmentation = bce_dice_loss(logits, pseudo, hard_dice_target=student.hard_pseudo_dice)
        distillation = distillation_loss(logits, teacher_logits, student.kd_temperature)
        probabilities = torch.sigmoid(logits).unflatten(0, (size, length))
        local = taps.features["local"].float().unflatten(0, (size, length))
        bottleneck = taps.features["global"].float().unflatten(0, (size, length))
        flow = batch["flow"].to(self.device)
        confidence, valid = batch["confidence"].to(self.device), batch["valid"].to(self.device)
        consistency = prototype = logits.new_zeros(())
        for t in range(1, length):
            warped = warp_tensor(probabilities[:, t - 1], flow[:, t - 1])
            consistency = consistency + temporal_consistency_loss(
                probabilities[:, t], warped, confidence[:, t - 1], valid[:, t - 1], student.binarize_warped)
            prototype = prototype + prototype_alignment_loss(
                local[:, t - 1], local[:, t], bottleneck[:, t - 1], bottleneck[:, t],
                probabilities[:, t - 1], probabilities[:, t], flow[:, t - 1], student.foreground_quantile)
        consistency, prototype = consistency / (length - 1), prototype / (length - 1)
        total = (student.weight_seg * segmentation + student.weight_kd * distillation
                 + student.weight_consistency * consistency + student.weight_prototype * prototype)
        losses = {"segmentation": segmentation, "distillation": distillation, "consistency": consistency,
                  "prototype": prototype}
        if student.weight_supervised > 0:  # off by default: the paper's student sees no ground truth
            supervised = labelled_frames_loss(logits, batch["masks"].flatten(0, 1), batch["labelled"].flatten(0, 1),
                                              self.config.teacher.bce_weight)
            total = total + student.weight_supervised * supervised
            losses["supervised"] = supervised
        return {"total": total, **losses}

    def train_epoch(self, epoch: int) -> Dict[str, float]:
        self.model.train()
        if self.stage == "student" and self.config.student.freeze_batch_norm:
            # Keep the teacher's normalisation statistics: updating them from clip batches alone
            # moved validation Dice from 0.86 to 0.75 in one epoch with the learning rate at 0.
            for module in self.model.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        optim = self.config.optim
        loss_fn = self._teacher_loss if self.stage == "teacher" else self._student_loss
        sums: Dict[str, float] = {}
        loader = self._batches(epoch)
        self.optimizer.zero_grad(set_to_none=True)
        steps = 0
        for step, batch in enumerate(self.progress(loader, desc=f"{self.stage} epoch {epoch + 1}", unit="batch", leave=False)):
            autocast = torch.autocast("cuda", dtype=torch.float16) if self.amp else nullcontext()
            with autocast:
                losses = loss_fn(batch)
            scaled = losses["total"] / optim.accumulate
            (self.scaler.scale(scaled) if self.scaler else scaled).backward()
            if (step + 1) % optim.accumulate == 0 or step + 1 == len(loader):
                if self.scaler:
                    self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.parameters, optim.grad_clip)
                if self.scaler:
                    self.scaler.step(self.optimizer)
                    self.scaler.update()
                else:
                    self.optimizer.step()
                self.optimizer.zero_grad(set_to_none=True)
            values = {key: float(value.detach()) for key, value in losses.items()}
            for key, value in values.items():
                sums[key] = sums.get(key, 0.0) + value
            steps += 1
            self.emit({"event": "step", "epoch": epoch + 1, "step": step + 1, "steps": len(loader), "losses": values})
        self.scheduler.step()
        return {key: value / max(steps, 1) for key, value in sums.items()}

    @torch.no_grad()
    def validate(self) -> Dict[str, float]:
        """Mean per-frame Dice over the labelled frames of the validation cases."""
        self.model.eval()
        scores: List[float] = []
        normalization = self.info.normalization
        for case in self.val_cases:
            indices = np.flatnonzero(case.labelled)
            for start in range(0, len(indices), 16):
                chunk = indices[start:start + 16]
                images = torch.from_numpy(normalize(case.frames[chunk], normalization)).to(self.device)
                masks = torch.from_numpy(case.masks[chunk][:, None].astype(np.float32)).to(self.device)
                scores.extend(dice_per_frame(self.model(images).float(), masks).tolist())
        return {"dice": float(np.mean(scores)), "frames": len(scores)}

    # ------------------------------------------------------------------ loop
    def run(self, resume: bool = False) -> Path:
        """Train until the epoch budget or early stopping; returns the best model file.

        Raises:
            TrainingInterrupted: on Ctrl-C, saying what the run folder kept.
        """
        try:
            return self._run(resume)
        except KeyboardInterrupt:
            raise self.interrupted() from None

    def _run(self, resume: bool) -> Path:
        if resume and self.load_checkpoint():
            self.emit({"event": "resumed", "epoch": self.state["epoch"]})
        elif self.checkpoint_path.exists() and not resume:
            raise TrainingError("holds a checkpoint of an earlier run.", self.checkpoint_path,
                                "Pass --resume to continue it, or choose a new --out folder.")
        config = self.config
        self.emit({"event": "start", "epochs": config.optim.epochs, "train_samples": len(self.dataset),
                   "val_cases": len(self.val_cases), "device": str(self.device), "world_size": self.ddp.world})
        started = time.time()
        first_epoch = self.state["epoch"]
        if first_epoch and self.state["stale_epochs"] >= config.optim.patience:
            first_epoch = config.optim.epochs  # a resumed run that had stopped early stays stopped
        if self.state["epoch"] == 0 and config.teacher.init:
            # Fine-tuning (both stages of a run that starts from a model): the starting weights are the
            # bar to beat.  On real sweeps a few epochs on a few corrected frames scored below them on
            # validation (bench/bench_corrections.py), so a stage that never beats them returns them
            # rather than its least bad epoch.
            metrics = self.validate()
            self.state.update(best_dice=metrics["dice"], best_epoch=0)
            self._save_best({"val_dice": metrics["dice"], "val_frames": metrics["frames"], "epoch": 0})
            self.emit({"event": "initial", "val": metrics})
        for epoch in range(first_epoch, config.optim.epochs):
            losses = self.train_epoch(epoch)
            self.ddp.share_buffers(self.model)
            metrics = self.validate()
            self.state["epoch"] = epoch + 1
            improved = metrics["dice"] > self.state["best_dice"]
            if improved:
                self.state.update(best_dice=metrics["dice"], best_epoch=epoch + 1, stale_epochs=0)
                self._save_best({"val_dice": metrics["dice"], "val_frames": metrics["frames"], "epoch": epoch + 1})
            else:
                self.state["stale_epochs"] += 1
            self.save_checkpoint()
            self.ddp.barrier()
            elapsed = time.time() - started
            remaining = (config.optim.epochs - epoch - 1) * elapsed / (epoch + 1 - first_epoch)
            self.emit({"event": "epoch", "epoch": epoch + 1, "epochs": config.optim.epochs, "losses": losses,
                       "val": metrics, "best_dice": self.state["best_dice"], "improved": improved,
                       "lr": self.optimizer.param_groups[0]["lr"], "eta_seconds": round(remaining, 1)})
            if self.state["stale_epochs"] >= config.optim.patience:
                self.emit({"event": "early_stop", "epoch": epoch + 1, "best_epoch": self.state["best_epoch"]})
                break
        self._finish_model()
        self.ddp.barrier()
        digest = weights_digest(self.model)
        if self.ddp.enabled:  # every rank records its weights, so identical replicas can be checked
            (self.run_dir / f"{self.stage}_rank{self.ddp.rank}.sha1").write_text(digest + "\n")
        self.emit({"event": "done", "model": str(self.model_path), "best_dice": self.state["best_dice"],
                   "best_epoch": self.state["best_epoch"], "weights_sha1": digest})
        return self.model_path


def train(stage: str, config: TrainingConfig, run_dir: Path, teacher: Optional[Path] = None, resume: bool = False,
          emit: Optional[Emit] = None, progress: Optional[Callable] = None) -> Path:
    """Run one stage (``teacher`` or ``student``) and return the best model file."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(stage, config, run_dir, teacher, emit, progress)
    if trainer.ddp.main:
        config.save(run_dir / f"{stage}_config.json")
    return trainer.run(resume)
