"""Charts with matplotlib (Agg backend, no display): confusion matrix, curves, per-class bars."""

from __future__ import annotations

from pathlib import Path

from core.results.report.charts import pyplot


def _save(figure, path: Path) -> Path:
    plt = pyplot()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def plot_confusion(metrics: dict, path: Path) -> Path:
    """Draw the confusion matrix (counts, rows true, columns predicted)."""
    plt = pyplot()
    classes, matrix = metrics["classes"], metrics["confusion"]
    figure, axes = plt.subplots(figsize=(1.2 * len(classes) + 2, 1.1 * len(classes) + 1.5))
    axes.imshow(matrix, cmap="Blues")
    axes.set_xticks(range(len(classes)), classes, rotation=30, ha="right")
    axes.set_yticks(range(len(classes)), classes)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    top = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            axes.text(j, i, str(count), ha="center", va="center", color="white" if count > top / 2 else "black")
    axes.set_title(f"accuracy {metrics['accuracy']:.3f}, macro-F1 {metrics['macro_f1']:.3f}")
    return _save(figure, path)


def plot_history(history: list[dict], path: Path) -> Path:
    """Draw loss and accuracy per epoch, training and validation."""
    plt = pyplot()
    epochs = [h["epoch"] for h in history]
    figure, (loss_axes, acc_axes) = plt.subplots(1, 2, figsize=(10, 4))
    for split in ("train", "val"):
        loss_axes.plot(epochs, [h[f"{split}_loss"] for h in history], marker="o", label=split)
        acc_axes.plot(epochs, [h[f"{split}_accuracy"] for h in history], marker="o", label=split)
    loss_axes.set(title="loss", xlabel="epoch")
    acc_axes.set(title="accuracy", xlabel="epoch", ylim=(0, 1.02))
    loss_axes.legend()
    acc_axes.legend()
    return _save(figure, path)


def plot_per_class(metrics: dict, path: Path) -> Path:
    """Draw precision, recall and F1 per class as grouped bars."""
    plt = pyplot()
    names = list(metrics["per_class"])
    figure, axes = plt.subplots(figsize=(max(5, 1.5 * len(names)), 3.8))
    width = 0.27
    for offset, key in enumerate(("precision", "recall", "f1")):
        values = [metrics["per_class"][n][key] for n in names]
        axes.bar([i + (offset - 1) * width for i in range(len(names))], values, width, label=key)
    axes.set_xticks(range(len(names)), names)
    axes.set_ylim(0, 1.05)
    axes.legend(loc="lower right")
    return _save(figure, path)


def plot_reliability(bins: list[dict], path: Path, ece: float) -> Path:
    """Draw the reliability diagram: accuracy against confidence per bin."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    used = [b for b in bins if b["count"]]
    axes.bar(
        [(b["low"] + b["high"]) / 2 for b in used],
        [b["accuracy"] for b in used],
        width=0.09,
        edgecolor="black",
        label="accuracy",
    )
    axes.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    axes.set(xlabel="confidence", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1), title=f"ECE {ece:.3f}")
    axes.legend(loc="upper left")
    return _save(figure, path)


def write_training_report(bundle, folder: Path) -> list[Path]:
    """Write the training curves and validation charts of a fresh bundle into ``folder``."""
    folder = Path(folder)
    written = []
    if bundle.training.get("history"):
        written.append(plot_history(bundle.training["history"], folder / "training_curves.png"))
    validation = bundle.metrics.get("validation")
    if validation:
        written.append(plot_confusion(validation, folder / "confusion_matrix.png"))
        written.append(plot_per_class(validation, folder / "per_class.png"))
    return written
