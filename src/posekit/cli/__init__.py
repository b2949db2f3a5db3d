"""The ``posekit`` command line (typer): ``posekit check | train | val | predict | export | convert | audit |
sigmas``, each command's options generated from its settings model (:mod:`posekit.cli.options`), each
calling its task (:mod:`posekit.tasks`)."""
