"""Code that runs outside the CLI: the delete-r2 Lambda handler (and the Batch image's files)."""
