"""One module per command (check, train, val, predict, export, audit, sigmas, convert): the only code that
makes run folders and calls :mod:`posekit.report`. The CLI and the Python API call these."""
