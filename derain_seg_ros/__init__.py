"""Segmentation-aware deraining for autonomous vehicles (after Guo et al., ICONIP 2020).

Layers, each importing only those before it: ``nets`` → ``losses``/``metrics``/``labels`` →
``rain`` → ``data`` → ``runtime`` → ``ros`` (the live node) and ``bags`` (offline rosbag2 tools) →
``cli``. The paper's baselines and the training live outside the package, in ``train/``.
"""

__version__ = "0.1.0"
