"""Sources of candidate people (base.py: Candidate, Request, Source). To add a detector: one
module here with a Source subclass, and an instance in SOURCES; consensus.py picks the fighters."""
from __future__ import annotations

from .artist_rects import ArtistRects
from .base import Candidate, Request, Source
from .keypoint_file import KeypointFile
from .mediapipe_crops import MediaPipeCrops
from .second_look import SecondLook

# In the order they run: the artist's word first, so that detectors see what it placed; a
# detector's people rank after those of the detectors before it. The second look reads the crop
# vote's people, so it runs after it. BlazePose
# (blazepose_people.BlazePosePeople, after MediaPipeCrops) is left out: better on the harder set's
# tune split, worse on its holdout (docs/decisions.md, "Detector interface").
SOURCES: list[Source] = [ArtistRects(), KeypointFile(), MediaPipeCrops(), SecondLook()]

__all__ = ["SOURCES", "Candidate", "Request", "Source"]
