"""Stage 1: finding the fighters in a photo: keypoints, masks and roles (entry point: fighters.find_fighters)."""
