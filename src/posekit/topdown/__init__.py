"""The model's view of a person (the top-down pipeline, saved with the model): box geometry and the UDP
affine warp, the heatmap codec (UDP targets, DARK-UDP decoding), training augmentation, the processor that
joins them (:class:`posekit.topdown.processor.TopDownProcessor`) and the training dataset. Imports the base
layer and :mod:`posekit.datasets`."""
