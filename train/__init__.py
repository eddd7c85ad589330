"""Training, evaluation and the Table-1 ablation (outside the package; imports derain_seg_ros)."""
