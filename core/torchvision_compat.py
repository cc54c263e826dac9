"""The one place that imports torchvision, working around a mismatched wheel.

Some environments pair a CPU build of torch with a CUDA build of torchvision. The
compiled extension then cannot load and ``import torchvision`` fails with
``RuntimeError: operator torchvision::nms does not exist``, because torchvision
registers Python fallbacks for operators whose schemas only the extension defines.
DefectSort uses torchvision's pure-Python models only, so declaring the two missing
schemas is enough. On matching wheels (Windows, macOS, most Linux installs) the
first import succeeds and nothing here runs.

Every other module does ``from core.torchvision_compat import torchvision``.
"""

import sys

import torch

_MISSING_OPS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_schema_library = None  # kept alive: the schemas vanish when the Library is collected


def _declare_missing_ops():
    """Declare the operator schemas torchvision expects from its compiled extension."""
    global _schema_library  # noqa: PLW0603 - the library must live as long as the process
    _schema_library = torch.library.Library("torchvision", "FRAGMENT")
    for schema in _MISSING_OPS:
        _schema_library.define(schema)


def _import_torchvision():
    try:
        import torchvision
    except RuntimeError as error:
        if "torchvision::" not in str(error):
            raise
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        _declare_missing_ops()
        import torchvision
    return torchvision


torchvision = _import_torchvision()
