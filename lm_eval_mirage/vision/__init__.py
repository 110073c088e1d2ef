"""The vision experiment (Schaeffer et al. 2023, section 5), offline: inducing "emergence" with a metric.

A family of shallow autoencoders of growing width is trained on scikit-learn's bundled 8x8 digits; their test
mean squared error falls smoothly with size while ``Reconstruction_c`` (fraction of images reconstructed within
squared error c) stays at zero and then jumps. Same models, same reconstructions, two metrics.

    from lm_eval_mirage.vision import VisionConfig, run_experiment, write_vision_report
    run = run_experiment(VisionConfig())             # ~1-3 min on one CPU core, tqdm progress bar
    report = write_vision_report(run, "vision_report/")

torch is imported when training starts, scikit-learn when the digits are loaded (``pip install
'lm-eval-mirage[vision]'``), pandas and matplotlib when the report is written.
"""

from lm_eval_mirage.vision.autoencoder import autoencoder_param_count, build_autoencoder, reconstruct, train_autoencoder
from lm_eval_mirage.vision.data import DIGITS_LEVELS, DIGITS_PIXELS, DigitsSplit, load_digits_split
from lm_eval_mirage.vision.experiment import (
    DEFAULT_EPOCHS,
    DEFAULT_THRESHOLDS,
    DEFAULT_TOLERANCE,
    DEFAULT_WIDTHS,
    MICRO_CONFIG,
    TrainedAutoencoder,
    VisionConfig,
    VisionRun,
    run_experiment,
)
from lm_eval_mirage.vision.report import write_vision_report
from lm_eval_mirage.vision.results import TASK, results_table, samples_table, score_reconstructions

__all__ = [
    "DEFAULT_EPOCHS",
    "DEFAULT_THRESHOLDS",
    "DEFAULT_TOLERANCE",
    "DEFAULT_WIDTHS",
    "DIGITS_LEVELS",
    "DIGITS_PIXELS",
    "MICRO_CONFIG",
    "TASK",
    "DigitsSplit",
    "TrainedAutoencoder",
    "VisionConfig",
    "VisionRun",
    "autoencoder_param_count",
    "build_autoencoder",
    "load_digits_split",
    "reconstruct",
    "results_table",
    "run_experiment",
    "samples_table",
    "score_reconstructions",
    "train_autoencoder",
    "write_vision_report",
]
