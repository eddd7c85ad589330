"""commands layer of derain_seg_ros."""
