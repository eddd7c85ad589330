"""The paper's four baselines (AGAN, PReNet, DuRN-S-P, ICSC) and their losses: research only.

They stand where A -> C -> SRRN stands, in front of the same frozen DeepLabv3+, trained by the one
loop (``jobs.py``). The package does not carry them: a baseline checkpoint runs in ``derain-seg
infer``, ``bag`` and the node through its ONNX export (``python train/baselines/export.py``).
"""
