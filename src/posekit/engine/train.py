"""Training engine behind ``posekit train`` and ``posekit.train``: an Accelerate loop for ViTPose.

One process or many (``torchrun``/``accelerate launch``), CPU or GPUs, with no code change. The result
of a run is a pure function of its configuration: data order and augmentation come from
``(seed, epoch, index)`` (:mod:`posekit.engine.sampler`) and the torch RNG (drop path) is re-seeded
from ``(seed, epoch, step, rank)`` before every step, so a run resumed from any checkpoint -- even after
a SIGKILL mid-epoch -- ends with the same weights as one never interrupted, and no RNG state needs to
be carried in checkpoints.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import DistributedDataParallelKwargs
from torch.utils.data import DataLoader

from posekit.device import loader_workers, resolve_device, resolve_precision
from posekit.distributed import Shard
from posekit.engine.checkpoint import (
    data_changes,
    data_fingerprint,
    find_resume_dir,
    interrupted_message,
    load_state,
    lock_run,
    save_checkpoint,
)
from posekit.engine.ema import ModelEMA
from posekit.engine.recipe import (
    Recipe,
    banner,
    choose_recipe,
    fit_epochs,
    no_weights_reason,
    same_images_warning,
)
from posekit.engine.runlog import RunLog
from posekit.engine.sampler import EpochBatchSampler, EpochItems
from posekit.errors import ConfigError, Interrupted, ModelError, PosekitError
from posekit.metrics.units import format_fraction
from posekit.models.presets import PRESETS, head_kind
from posekit.settings import BASE_BATCH, BASE_LR, DEFAULT_MODEL, TrainConfig, build_config

#: Where the step schedule multiplies the lr by 0.1, as fractions of the epochs (170 and 200 of 210).
STEP_MILESTONES = (170 / 210, 200 / 210)
#: Wall-clock seconds between in-epoch checkpoints when ``save_every`` is not set.
SAVE_PERIOD_S = 600.0
#: Settings that may change when a run is resumed (they do not change the result).
RESUMABLE = {"workers", "device", "save_every"}


def heatmap_loss(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """ViTPose's loss, mmpose 1.x ``KeypointMSELoss(use_target_weight=True)``: the squared error of each
    heatmap pixel times its keypoint's target weight, averaged over batch, keypoints and pixels."""
    return (F.mse_loss(pred, target, reduction="none") * weights[:, :, None, None]).mean()


def train(
    config: str | Path | None = None,
    resume: bool | str | Path | None = None,
    allow_data_change: bool = False,
    *,
    run_folder: Callable[[TrainConfig], Path],
    verbose: bool = True,
    **settings: Any,
) -> dict:
    """Train a ViTPose model; the keyword names are the ``posekit train`` flags (``batch_size=16``, ...).

    ``config`` is a YAML file of settings (keywords win). ``resume=True`` continues the latest run under
    ``project``; ``resume="runs/train/exp"`` that run, refused when its data changed since it started
    unless ``allow_data_change``. A new run is written to ``run_folder(settings)`` (called by the main
    process only: :mod:`posekit.tasks.train` makes it); ``verbose``: show progress and tables on the
    console. Returns the run summary (paths and metrics).
    """
    if resume:
        run_dir = find_resume_dir(settings.get("project") or "runs", None if resume is True else resume)
        changed = sorted(k for k, v in settings.items() if v is not None and k not in RESUMABLE | {"project"})
        if changed or config is not None:
            given = ", ".join("--" + k.replace("_", "-") for k in changed) or "--config"
            raise ConfigError(
                f"--resume: {given} cannot change when resuming {run_dir} (it continues with its args.yaml); "
                f"only {', '.join('--' + k.replace('_', '-') for k in sorted(RESUMABLE))} may be given"
            )
        cfg = build_config(run_dir / "args.yaml", **settings)
        trainer = Trainer(cfg, resume_dir=run_dir, allow_data_change=allow_data_change, verbose=verbose)
    else:
        trainer = Trainer(build_config(config, **settings), run_folder=run_folder, verbose=verbose)
    try:
        return trainer.fit()
    except KeyboardInterrupt:
        raise Interrupted(interrupted_message(trainer.run_dir)) from None
    finally:
        trainer.unlock()


class Trainer:
    """One training run: data, model, optimiser, schedule, checkpoints and the run folder."""

    def __init__(
        self,
        cfg: TrainConfig,
        resume_dir: Path | None = None,
        allow_data_change: bool = False,
        run_folder: Callable[[TrainConfig], Path] | None = None,
        verbose: bool = True,
    ) -> None:
        """``resume_dir``: the run to continue; else ``run_folder(cfg)`` makes the new run's folder (the
        main process calls it, every process gets its answer)."""
        self.cfg = cfg.model_copy()
        cfg = self.cfg
        cfg.device = resolve_device(cfg.device).type
        cuda = cfg.device == "cuda"
        if cfg.amp is None:  # bf16 on CPUs with AVX512-BF16/AMX too: epochs 1.45x faster, same loss
            precision = resolve_precision("auto", torch.device(cfg.device))
            cfg.amp = precision if precision in ("bf16", "fp16") else "no"
        if cfg.amp == "fp16" and not cuda:
            raise ConfigError("--amp: 'fp16' needs a GPU; on CPU use bf16 or no")
        self.accelerator = Accelerator(
            cpu=not cuda,
            mixed_precision=cfg.amp,
            kwargs_handlers=[
                DistributedDataParallelKwargs(find_unused_parameters=cfg.freeze_backbone_epochs > 0)
            ],
        )
        acc = self.accelerator
        self.rank, self.world = acc.process_index, acc.num_processes
        self.shard = Shard(self.rank, self.world)
        self.log = RunLog(enabled=acc.is_main_process, verbose=verbose)

        from posekit.datasets.data_config import resolve_data
        from posekit.samples import locate

        data = resolve_data(locate(cfg.data or "sample"))
        self.train_data, self.val_data = data.load_split("train"), data.load_split("val")
        if resume_dir is None and cfg.data and Path(cfg.data).exists():
            cfg.data = str(Path(cfg.data).resolve())  # args.yaml names the data wherever a resume runs
        self.data = data_fingerprint({"train": self.train_data, "val": self.val_data})
        self.allow_data_change = allow_data_change
        self.recipe: Recipe | None = None  # None when resuming: args.yaml holds every setting
        self._build_model(None if resume_dir is None else resume_dir / "weights" / "last")
        self._resolve_batch_and_schedule()
        self._build_loader()
        if self.cfg.epochs is None:  # --time: as many epochs as fit
            self._fit_epochs()
        self._build_optimizer()

        self.epoch, self.start_batch = 0, 0
        self.best_ap, self.best_epoch, self.bad_validations, self.stopped_early = -1.0, 0, 0, False
        self.history: list[dict[str, Any]] = []
        self.loss_sum, self.loss_count = 0.0, 0
        self.elapsed, self.t0 = 0.0, time.time()  # training seconds before this process, and its start
        if resume_dir is not None:
            self.run_dir = resume_dir
        elif run_folder is not None:
            self.run_dir = self.shard.share(lambda: run_folder(cfg))
        else:
            raise ValueError("Trainer needs resume_dir or run_folder")
        self._lock = lock_run(self.run_dir) if acc.is_main_process else None
        try:
            if resume_dir is not None:
                self._load(resume_dir / "weights" / "last")
            self.log.open(self.run_dir, self.cfg, self.schema, self.unwrapped.processor)
        except BaseException:
            self.unlock()
            raise

    def unlock(self) -> None:
        """Let the run folder be trained or resumed by another process."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    # ------------------------------------------------------------------ set-up
    def _build_model(self, checkpoint: Path | None) -> None:
        """The model of ``--model``/``--pretrained`` (or of the checkpoint being resumed) and the recipe that
        what was loaded calls for (:mod:`posekit.engine.recipe`): pretrained weights -> fine-tuning, none ->
        from scratch. A preset's own hub weights (``auto``) that cannot be had mean from scratch, said so."""
        from posekit.models.vitpose import weights_source

        cfg = self.cfg
        cfg.model = cfg.model or DEFAULT_MODEL
        cfg.pretrained = cfg.pretrained or "auto"
        weights = weights_source(cfg.model, cfg.pretrained)
        if checkpoint is not None:  # resuming: args.yaml holds the settings; the rule fills any it lacks
            self.model = self._load_model(checkpoint, "auto")
            choose_recipe(weights, "", self.train_data).fill(cfg)
            self.loaded = f"the run's last checkpoint {checkpoint}"
        else:
            if cfg.time is not None and cfg.epochs is not None:
                raise ConfigError("--time fits the epochs to the minutes given: drop --epochs or --time")
            reason, self.model = "", None
            if weights:
                try:
                    self.model = self._load_model(cfg.model, cfg.pretrained)
                except ModelError as error:
                    if cfg.pretrained != "auto" or cfg.model not in PRESETS:
                        raise
                    weights, reason = None, no_weights_reason(cfg.model, cfg.pretrained, error)
            self.recipe = choose_recipe(
                weights, reason or no_weights_reason(cfg.model, cfg.pretrained), self.train_data
            )
            self.recipe.fill(cfg)
            if self.model is None:
                self.model = self._load_model(cfg.model, "none")
            self.loaded = f"weights {weights}" if weights else "random weights"
        self.schema = self.model.schema
        cfg.input_size = tuple(self.model.input_size)
        cfg.head = head_kind(self.model.config)
        cfg.drop_path = self.model.drop_path
        cfg.layer_decay = self.model.layer_decay if cfg.layer_decay is None else cfg.layer_decay

    def _load_model(self, model: str | Path, pretrained: str) -> Any:
        from posekit.models.vitpose import load_model

        cfg = self.cfg
        torch.manual_seed(cfg.seed)  # the same initial weights on every process and every run
        return load_model(
            model,
            pretrained=pretrained,
            schema=self.train_data.schema,
            input_size=cfg.input_size,
            drop_path=cfg.drop_path,
            head=cfg.head,
        )

    def _resolve_batch_and_schedule(self) -> None:
        from posekit.topdown.augment import AugmentConfig
        from posekit.topdown.training_dataset import TopDownDataset

        cfg = self.cfg
        augment = AugmentConfig(**cfg.augment)
        # a model never shown mirrored people gains nothing from averaging in its mirrored prediction:
        # the flip-test policy saved with the model (and used for validation) follows the training
        self.model.processor = self.model.processor.updated(flip_test=augment.flip_prob > 0)
        self.train_set = TopDownDataset(
            self.train_data, self.model.processor, augment=augment, seed=cfg.seed, train=True
        )
        if cfg.batch_size == "auto":
            from posekit.engine.autobatch import auto_batch_size

            cfg.batch_size = auto_batch_size(
                self.model, cfg.input_size, cfg.amp, self.accelerator.device, self.log
            )
        self.micro_batch = cfg.batch_size  # halved on GPU out-of-memory; gradients accumulate over chunks
        self.sampler = EpochBatchSampler(len(self.train_set), cfg.batch_size, cfg.seed, self.rank, self.world)
        self.steps_per_epoch = len(self.sampler)
        cfg.lr = cfg.lr or BASE_LR * cfg.batch_size * self.world / BASE_BATCH
        if cfg.workers is None:
            cfg.workers = loader_workers(cfg.device, self.world)

    def _build_loader(self) -> None:
        from posekit.topdown.training_dataset import collate

        workers = self.cfg.workers
        self.loader = DataLoader(
            EpochItems(self.train_set),
            batch_sampler=self.sampler,
            num_workers=workers,
            collate_fn=collate,
            pin_memory=self.cfg.device == "cuda",
            persistent_workers=workers > 0,
        )

    def _build_optimizer(self) -> None:
        from posekit.engine.optim import build_optimizer, build_scheduler

        cfg = self.cfg
        total = cfg.epochs * self.steps_per_epoch
        cfg.warmup = min(500, total // 10) if cfg.warmup is None else cfg.warmup
        optimizer = build_optimizer(self.model, cfg.lr, cfg.weight_decay, cfg.layer_decay, kind=cfg.optimizer)
        # step decay: x0.1 where the ViTPose recipe puts it (epochs 170 and 200 of 210)
        milestones = [round(cfg.epochs * f) * self.steps_per_epoch for f in STEP_MILESTONES]
        self.scheduler = build_scheduler(
            optimizer, cfg.epochs * self.steps_per_epoch, cfg.warmup, cfg.schedule, milestones=milestones
        )
        self.model, self.optimizer = self.accelerator.prepare(self.model, optimizer)
        self.ema = ModelEMA(self.unwrapped) if cfg.ema else None

    def _fit_epochs(self, probes: int = 4) -> None:
        """``--time``: the epochs that fit, from the median time of forward and backward passes on the first
        batches (after one to warm up; the weights are not stepped, the optimiser step is not counted)."""
        cfg, device = self.cfg, self.accelerator.device
        model = self.model.to(device).train()
        self.sampler.set_epoch(0, 0)
        times, t0 = [], time.perf_counter()
        for _, batch in zip(range(probes + 1), self.loader, strict=False):  # loading included
            batch = {k: v.to(device) for k, v in batch.items() if isinstance(v, torch.Tensor)}
            pred = model(batch["pixel_values"])
            heatmap_loss(pred.float(), batch["heatmaps"], batch["target_weights"]).backward()
            times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
        model.zero_grad(set_to_none=True)
        step_s = float(np.median(times[1:] or times))
        val_people = len(self.val_data.annotations)
        epochs = fit_epochs(cfg.time, step_s, self.steps_per_epoch, cfg.batch_size, val_people, cfg.val_every)
        cfg.epochs = self.shard.share(lambda: epochs)  # the main process's estimate, for all
        self.log.print(
            f"--time {cfg.time:g}: {step_s:.2f} s a step on the first batches -> {cfg.epochs} epochs of "
            f"{self.steps_per_epoch} steps"
        )

    @property
    def unwrapped(self) -> Any:
        return self.accelerator.unwrap_model(self.model)

    @property
    def seconds(self) -> float:
        """Training wall time so far, over all the processes that worked on this run (resumes)."""
        return self.elapsed + time.time() - self.t0

    @property
    def eval_model(self) -> Any:
        """The weights to validate and save: the EMA when enabled."""
        return self.ema.module if self.ema is not None else self.unwrapped

    # ------------------------------------------------------------------ loop
    def fit(self) -> dict[str, Any]:
        cfg, acc = self.cfg, self.accelerator
        self.log.start(
            cfg,
            self.loaded,
            self.unwrapped.num_parameters(),
            len(self.train_set),
            len(self.val_data.annotations),
            self.world,
            self.steps_per_epoch,
        )
        if self.recipe is not None:
            for line in banner(self.recipe, cfg, len(self.train_set)):
                self.log.print(line)
        warning = same_images_warning(self.train_data, self.val_data)
        if warning:
            self.log.print(warning)
        self.t0 = self.last_save = time.time()
        for epoch in range(self.epoch, cfg.epochs):
            if self.stopped_early:
                break
            self.epoch = epoch
            self._train_epoch(epoch)
            row: dict[str, Any] = {
                "epoch": epoch + 1,
                "train_loss": self.loss_sum / max(1, self.loss_count),
                "lr": max(g["lr"] for g in self.optimizer.param_groups),
            }
            metrics = None
            if (epoch + 1) % cfg.val_every == 0 or epoch + 1 == cfg.epochs:
                metrics = self.validate()
                row.update(metrics["summary"])
                ap = metrics["summary"]["AP"]
                improved = ap > self.best_ap
                if improved:
                    self.best_ap, self.best_epoch, self.bad_validations = ap, epoch + 1, 0
                else:
                    self.bad_validations += 1
                self.stopped_early = cfg.patience > 0 and self.bad_validations >= cfg.patience
            row["time_s"] = round(self.seconds, 2)
            self.history.append(row)
            self.epoch, self.start_batch, self.loss_sum, self.loss_count = epoch + 1, 0, 0.0, 0
            if acc.is_main_process:
                if metrics is not None and self.best_epoch == epoch + 1:
                    save_checkpoint(self.run_dir / "weights" / "best", self.eval_model)
                    self.log.best_metrics(metrics)
                self._save_last()
                self.log.epoch_end(
                    self.history, metrics, self.val_data, cfg.epochs, self.best_epoch, self.best_ap
                )
            if self.stopped_early:
                self.log.print(
                    f"Stopping early: no better AP for {cfg.patience} validations "
                    f"(best AP {format_fraction(self.best_ap)} at epoch {self.best_epoch}; "
                    "--patience 0 never stops)."
                )
        acc.wait_for_everyone()
        summary = self.summary()
        self.log.finish(summary)
        acc.end_training()
        return summary

    def _train_epoch(self, epoch: int) -> None:
        cfg = self.cfg
        frozen = epoch < cfg.freeze_backbone_epochs
        self.unwrapped.net.backbone.requires_grad_(not frozen)
        self.model.train()
        self.sampler.set_epoch(epoch, self.start_batch)
        progress = self.log.progress(
            epoch, cfg.epochs, self.steps_per_epoch, self.start_batch, self.loss_sum, self.loss_count, frozen
        )
        with progress as bar:
            for i, batch in enumerate(self.loader, start=self.start_batch):
                if epoch == 0:
                    self.log.train_batch(batch, i)
                step_loss = self.train_step(batch, epoch, i)
                self.loss_sum += step_loss
                self.loss_count += 1
                bar.advance(step_loss, len(batch["pixel_values"]) * self.world, self.optimizer.param_groups)
                self.start_batch = i + 1
                if self._save_due():
                    self._save_last()

    def train_step(self, batch: dict[str, Any], epoch: int = 0, step: int = 0) -> float:
        """One optimiser step on a batch (split into micro-batches after a GPU out-of-memory); the loss."""
        acc = self.accelerator
        seed = np.random.SeedSequence((self.cfg.seed, epoch, step, self.rank)).generate_state(1)[0]
        torch.manual_seed(int(seed))
        device = acc.device
        pixels = batch["pixel_values"].to(device, non_blocking=True)
        targets = batch["heatmaps"].to(device, non_blocking=True)
        weights = batch["target_weights"].to(device, non_blocking=True)
        n = len(pixels)
        while True:
            try:
                loss = self._accumulate(pixels, targets, weights, n)
                break
            except torch.cuda.OutOfMemoryError:
                self._shrink_micro_batch()
        if not math.isfinite(loss) and self.accelerator.scaler is None:  # fp16's scaler skips such steps
            raise self._diverged(
                epoch * self.steps_per_epoch + step + 1, f"loss {'NaN' if math.isnan(loss) else loss}"
            )
        if self.cfg.grad_clip > 0:
            acc.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.optimizer.step()
        if not self.optimizer.step_was_skipped:  # fp16: the scaler skips steps with inf gradients
            self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.update(self.unwrapped)
        return loss

    def _accumulate(
        self, pixels: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor, n: int
    ) -> float:
        total = 0.0
        starts = range(0, n, self.micro_batch)
        for j, s in enumerate(starts):
            sl = slice(s, s + self.micro_batch)
            last = j == len(starts) - 1
            with nullcontext() if last else self.accelerator.no_sync(self.model):
                pred = self.model(pixels[sl])
                loss = heatmap_loss(pred.float(), targets[sl], weights[sl]) * (len(pixels[sl]) / n)
                self.accelerator.backward(loss)
            total += loss.item()
        return total

    def _diverged(self, step: int, what: str) -> PosekitError:
        return PosekitError(
            f"training diverged at step {step} ({what}): lower --lr (it is {self.cfg.lr:.3g}); the last "
            "checkpoint before it is kept"
        )

    def _shrink_micro_batch(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        torch.cuda.empty_cache()
        if self.world > 1 or self.micro_batch == 1:
            raise PosekitError(
                f"GPU out of memory at {self.micro_batch} sample(s) per step on each of {self.world} "
                "process(es); lower --batch-size or --input-size, or use a smaller --model"
            )
        self.micro_batch //= 2
        self.log.print(
            f"GPU out of memory: now {self.micro_batch} samples per forward pass with gradient accumulation "
            f"(the batch stays {self.cfg.batch_size})."
        )

    def _save_due(self) -> bool:
        if not self.accelerator.is_main_process or self.start_batch == self.steps_per_epoch:
            return False  # the end of the epoch saves anyway
        if self.cfg.save_every is not None:
            return self.start_batch % self.cfg.save_every == 0
        return time.time() - self.last_save > SAVE_PERIOD_S

    # ------------------------------------------------------------------ validation
    @torch.no_grad()
    def validate(self) -> dict[str, Any]:
        """OKS AP on the val split with ground-truth boxes (flip test when training flips): each process
        predicts a block of the people, the main one evaluates and shares ``summary`` (scalars),
        ``keypoints`` (per-keypoint rows, weakest first) and ``results`` (COCO)."""
        from posekit.engine.model_evaluation import evaluate_model

        if not all(torch.isfinite(p).all() for p in self.eval_model.parameters()):
            raise self._diverged(
                self.epoch * self.steps_per_epoch + self.start_batch, "weights NaN or infinite"
            )
        evaluation = evaluate_model(
            self.eval_model,
            self.val_data,
            batch_size=self.micro_batch,
            device=self.accelerator.device,
            shard=self.shard,
            parts=self.run_dir / "val_predictions",
        )
        if evaluation is None:
            return self.shard.share(dict)
        metrics = {
            "summary": evaluation.summary,
            "keypoints": evaluation.report.keypoints,
            "results": evaluation.results,
        }
        return self.shard.share(lambda: metrics)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        state = {
            "epoch": self.epoch,
            "step": self.start_batch,
            "best_ap": self.best_ap,
            "best_epoch": self.best_epoch,
            "bad_validations": self.bad_validations,
            "stopped_early": self.stopped_early,
            "history": self.history,
            "loss_sum": self.loss_sum,
            "loss_count": self.loss_count,
            "seconds": self.seconds,
            "micro_batch": self.micro_batch,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "data": self.data,
        }
        if self.accelerator.scaler is not None:
            state["scaler"] = self.accelerator.scaler.state_dict()
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
            state["model"] = self.unwrapped.state_dict()  # the directory holds the EMA weights
        return state

    def _save_last(self) -> None:
        save_checkpoint(self.run_dir / "weights" / "last", self.eval_model, self.state_dict())
        self.last_save = time.time()

    def _load(self, checkpoint: Path) -> None:
        """Restore the training state; the weights were loaded from the same directory (EMA ones when
        ``--ema``: then the live weights come from the state)."""
        state = load_state(checkpoint)
        changes = data_changes(state["data"], self.data) if "data" in state else []
        if changes and not self.allow_data_change:
            raise ConfigError(
                f"--resume: the data of {checkpoint.parents[1]} changed since the run started:\n  - "
                + "\n  - ".join(changes)
                + "\nResume it on the data it started with, or continue on this data with --allow-data-change"
            )
        if self.ema is not None:
            self.unwrapped.load_state_dict(state["model"])
            self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.accelerator.scaler is not None and "scaler" in state:
            self.accelerator.scaler.load_state_dict(state["scaler"])
        self.epoch, self.start_batch = state["epoch"], state["step"]
        self.best_ap, self.best_epoch = state["best_ap"], state["best_epoch"]
        self.bad_validations, self.history = state["bad_validations"], state["history"]
        self.stopped_early = state["stopped_early"]
        self.loss_sum, self.loss_count = state["loss_sum"], state["loss_count"]
        self.micro_batch, self.elapsed = state["micro_batch"], state["seconds"]
        self.log.print(
            f"Resuming {checkpoint.parents[1]} from epoch {self.epoch + 1}, step {self.start_batch}."
        )

    def summary(self) -> dict[str, Any]:
        last = next((row for row in reversed(self.history) if "AP" in row), {})
        return {
            "run_dir": str(self.run_dir),
            "best": str(self.run_dir / "weights" / "best") if self.best_epoch else None,
            "last": str(self.run_dir / "weights" / "last"),
            "best_epoch": self.best_epoch,
            "best_ap": self.best_ap,
            "final_ap": last.get("AP"),
            "final_metrics": last,
            "epochs": self.epoch,
            "stopped_early": self.stopped_early,
            "train_time_s": round(self.seconds, 2),
        }
