"""The jobs the CLI and the add-on run: reconstruct a photo, refine or resolve contact on a result folder."""
