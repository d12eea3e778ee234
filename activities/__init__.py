"""All I/O of a training run: the Arkor cloud calls made on behalf of the workflow."""
