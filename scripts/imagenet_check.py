"""Show that the EfficientNet-Lite0 module really is pretrained: its ImageNet top-3 on real photos.

    .venv/bin/python scripts/imagenet_check.py PHOTO [PHOTO ...]

Centre crop, 224x224, inputs in [-1, 1] as the Lite models were trained. Class names come from
torchvision's table where torchvision is installed, else the class index is printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from derain_seg_ros.data.io import read_rgb  # noqa: E402
from derain_seg_ros.nets.efficientnet_lite import INPUT_MEAN, INPUT_STD, EfficientNetLite, load_imagenet  # noqa: E402


def class_names() -> list[str] | None:
    try:
        from torchvision.models._meta import _IMAGENET_CATEGORIES
    except Exception:  # noqa: BLE001 - any failure to import only loses the names
        return None
    return list(_IMAGENET_CATEGORIES)


def main(paths: list[str]) -> int:
    model = EfficientNetLite("efficientnet_lite0", classifier=True).eval()
    print(f"loaded {load_imagenet(model)} tensors from the wheel")
    names = class_names()
    mean, std = torch.tensor(INPUT_MEAN).view(1, 3, 1, 1), torch.tensor(INPUT_STD).view(1, 3, 1, 1)
    for path in paths:
        image = read_rgb(path)
        h, w = image.shape[:2]
        side = min(h, w)
        crop = image[(h - side) // 2 : (h + side) // 2, (w - side) // 2 : (w + side) // 2]
        x = (
            torch.from_numpy(cv2.resize(crop, (224, 224), interpolation=cv2.INTER_AREA)).permute(2, 0, 1)[None].float()
            / 255
        )
        with torch.no_grad():
            top = model.classify((x - mean) / std).softmax(1)[0].topk(3)
        guesses = ", ".join(
            f"{names[i] if names else i} {p:.2f}"
            for p, i in zip(top.values.tolist(), top.indices.tolist(), strict=True)
        )
        print(f"{Path(path).name}: {guesses}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
