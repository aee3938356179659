"""Stage 2: fitting body models to the keypoints: one or two fighters, the losses, the pair terms, contact resolution."""
