"""Build-time code of the restoration models (make models) and their benchmark: never imported at run time."""
