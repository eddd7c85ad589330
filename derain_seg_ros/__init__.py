"""Segmentation-aware deraining for autonomous vehicles (after Guo et al., ICONIP 2020).

Layers, each importing only those before it: ``nets`` → ``losses``/``metrics``/``labels`` →
``rain`` → ``data`` → ``runtime`` → ``ros`` → ``cli``. See DESIGN in the README.
"""

__version__ = "0.1.0"
