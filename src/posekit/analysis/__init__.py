"""What keypoints measure, as pure functions on keypoint tracks: joint and segment angles with their
uncertainty (``angles``), repetitions (``reps``), gait events (``gait``), and the files other tools read
(``exports``); ``tracks`` reads prediction results into arrays. No run folders, no printing: the
``analyze`` task does that."""
