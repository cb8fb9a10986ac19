// placeholder: filled in by its owner (issue 5)
