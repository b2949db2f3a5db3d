"""The ``posekit`` command line: ``posekit check | train | val | predict | export``."""
