"""Reports for people: console tables, run-folder files, plots and pictures of evaluations."""
