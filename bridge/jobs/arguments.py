"""The jobs' numeric arguments checked in one place, for the CLI and for library callers alike:
a value outside its range is refused before any work with a BridgeError whose code names the
argument (stable: clients match on it) and whose message gives the range."""
from __future__ import annotations

import math
import numbers

from ..detection.hints import check_rect_numbers  # noqa: F401 (one of the checks, owned there)
from ..errors import BridgeError
from ..result.format import FOCAL_35MM_RANGE

# Sane ranges. Minimums: fewer steps or pixels do nothing useful (a 16-pixel silhouette carries no
# pose); maximums: more would run for hours, so a larger number is a typo.
ITERATIONS_RANGE = (1, 10_000)  # refine --iterations, reconstruct --refine (0 there: no refinement)
STEPS_RANGE = (1, 10_000)  # resolve-contact --steps
RESOLUTION_RANGE = (32, 4096)  # refine --resolution, rendered pixels along the longer side
WEIGHT_RANGE = (0.0, 1_000.0)  # refine --prior-weight, --rgb-weight


def _number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_whole(value) -> bool:
    if isinstance(value, numbers.Integral):
        return not isinstance(value, bool)
    return _number(value) and math.isfinite(value) and value == int(value)


def _whole(value, low: int, high: int, code: str, flag: str, what: str, allow_zero: bool = False) -> int:
    if not _is_whole(value) or not (low <= value <= high or (allow_zero and value == 0)):
        zero = "0 or " if allow_zero else ""
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise BridgeError(code, f"{flag} must be {zero}a whole number from {low} to {high} ({what}), not {shown}.",
                          f"Give {flag} {zero}{low} to {high}, or leave it out for the default.")
    return int(value)


def check_focal_35mm(value) -> float | None:
    """None (EXIF, else the default) or a 35 mm-equivalent focal length within FOCAL_35MM_RANGE."""
    if value is None:
        return None
    low, high = FOCAL_35MM_RANGE
    if not _number(value) or not math.isfinite(value) or not low <= value <= high:
        raise BridgeError("bad_focal", f"--focal-35mm must be from {low:g} to {high:g} mm (35 mm equivalent), "
                          f"not {value!r}.", f"Give the lens's 35 mm-equivalent focal length ({low:g}-{high:g}), "
                          "or leave --focal-35mm out to use the photo's EXIF (else 50 mm).")
    return float(value)


def check_refine_iterations(value, flag: str = "--iterations", allow_zero: bool = False) -> int:
    return _whole(value, *ITERATIONS_RANGE, "bad_iterations", flag, "refinement steps per fighter", allow_zero)


def check_steps(value) -> int:
    return _whole(value, *STEPS_RANGE, "bad_steps", "--steps", "optimisation steps")


def check_resolution(value) -> int:
    return _whole(value, *RESOLUTION_RANGE, "bad_resolution", "--resolution", "rendered pixels along the longer side")


def check_weight(value, flag: str) -> float:
    low, high = WEIGHT_RANGE
    if not _number(value) or not math.isfinite(value) or not low <= value <= high:
        raise BridgeError("bad_weight", f"{flag} must be a number from {low:g} to {high:g}, not {value!r}.",
                          f"Give {flag} {low:g} to {high:g}, or leave it out for the default.")
    return float(value)


def check_refine_settings(settings) -> None:
    """A RefineSettings' user-facing numbers (refine's flags)."""
    check_refine_iterations(settings.iterations)
    check_resolution(settings.resolution)
    check_weight(settings.prior_weight, "--prior-weight")
    check_weight(settings.rgb_weight, "--rgb-weight")


DEVICES = ("auto", "cpu", "cuda")


def check_device(value) -> str:
    if not isinstance(value, str) or value not in DEVICES:
        raise BridgeError("bad_device", f"--device must be one of {', '.join(DEVICES)}, not {value!r}.",
                          "Use --device auto (an NVIDIA GPU when there is one), cpu or cuda.")
    return value


def check_people(value) -> int:
    if value not in (1, 2) or isinstance(value, bool):
        raise BridgeError("bad_people", f"--people must be 1 or 2, not {value!r}.", "Use --people 1 or --people 2.")
    return int(value)


def check_reconstruct_arguments(people=1, focal_35mm=None, hints=None, refine_iterations=0, device="auto") -> None:
    """reconstruct's numbers and rectangles (hints: role -> FighterHints), before any work."""
    check_people(people)
    check_device(device)
    check_focal_35mm(focal_35mm)
    for role, hint in (hints or {}).items():
        if getattr(hint, "rect", None) is not None:
            check_rect_numbers(hint.rect, role)
    check_refine_iterations(refine_iterations, "--refine", allow_zero=True)


def check_refine_arguments(settings, window=None, device="auto") -> None:
    """refine's settings, refinement window (--crop) and device, before any work."""
    check_refine_settings(settings)
    check_device(device)
    if window is not None:
        check_rect_numbers(window, "the refinement window (--crop)")
