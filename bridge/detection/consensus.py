"""Which candidates (bridge.detection.sources) are the fighters, and their roles where known.

The artist's word wins: a rectangle's candidate is that fighter, and a keypoint file's people are
the only people (matched to the rectangles, else the most prominent). Otherwise the detectors'
credible, distinct people, most prominent first (two detections inside one person that a source
segmented are one person); of more than two, the pair in contact, leaving out one in a referee's
suit (referee.py).
"""
from __future__ import annotations

from ..errors import BridgeError
from ..keypoints import CONFIDENT, same_person, share_inside
from ..result.format import ROLES
from .keypoint_file import assign_people
from .pairing import APART, box_gap, fighters_in_contact, in_contact, plausible_fighters
from .sources import SOURCES, Candidate, Request, Source


def gathered(request: Request, sources: list[Source]) -> list[Candidate]:
    """Every source's candidates, in the sources' order."""
    candidates: list[Candidate] = []
    for source in sources:
        if source.applies(request, candidates):
            candidates += source.candidates(request, candidates)
    return candidates


def choose(request: Request, sources: list[Source] | None = None) -> tuple[list[Candidate], list, list[str]]:
    """The fighters' candidates (finished by their sources), their roles (None: to be read from
    the keypoints, both or neither) and warnings."""
    sources = SOURCES if sources is None else sources
    candidates = gathered(request, sources)
    if any(c.given for c in candidates):
        chosen, roles, warnings = _given(request, [c for c in candidates if c.given])
    else:
        chosen, roles, warnings = _detected(request, candidates)
    by_name = {source.name: source for source in sources}
    return [by_name[c.source].finish(c, request) for c in chosen], roles, warnings


def _given(request: Request, people: list[Candidate]):
    """People given in a file: assigned to the artist's rectangles, else the largest and most
    central (their score), named in the file's order: the first tori, the second uke, as the
    add-on writes its keypoints (a Fit that renamed them by size refitted each fighter to the
    other's keypoints)."""
    warnings, path, count = [], request.keypoints_file, request.count
    roles = request.ruled_roles()
    if roles:
        chosen = assign_people([(p.points, p.confidence) for p in people], [request.hints[r].rect for r in roles])
        missing = [role for role, index in zip(roles, chosen) if index is None]
        if missing:
            raise BridgeError("rect_empty", f"No person in {path} lies inside the rectangle for {', '.join(missing)}.",
                              "Draw the rectangle around that fighter, or leave it out.")
        picked = list(chosen)
    else:
        picked = sorted(sorted(range(len(people)), key=lambda index: -people[index].score)[:2][:count])
        if len(people) > count:
            warnings.append(f"{path} holds {len(people)} people; the {count} largest and most central were kept.")
    return [people[i] for i in picked], roles or list(ROLES[:len(picked)]), warnings


def _detected(request: Request, candidates: list[Candidate]):
    """Detected people: the rectangles' first, then the most prominent credible ones that are
    nobody already taken; two unnamed are named later from their final keypoints."""
    count, photo = request.count, request.photo
    found = [c for c in candidates if c.role is not None]
    roles = [c.role for c in found]
    people, doubtful = [], []  # distinct credible people, most prominent first
    owner = _owners([c for c in candidates if c.role is None])
    for candidate in (c for c in candidates if c.role is None):
        if candidate.doubt is not None:
            doubtful.append(candidate)
        elif not any(same_person(candidate.points, candidate.confidence, t.points, t.confidence) for t in found) and \
                not any(same_person(candidate.points, candidate.confidence, p.points, p.confidence) for p in people) \
                and (owner[id(candidate)] is None or owner[id(candidate)] not in {owner[id(p)] for p in people}):
            people.append(candidate)
    if not found and count == 2:  # a referee or spectator is not a fighter: the fighters touch
        people = plausible_fighters(request.rgb, request.scale, people)
        people = _with_partner(fighters_in_contact(people), people, candidates)
        if len(people) < 2:
            people = _distinct_pair(candidates) or people
    for candidate in people[:count - len(found)]:
        found.append(candidate)
        roles.append(None)
    if not found and doubtful:
        raise BridgeError("no_confident_person", f"No person was found with confidence in {photo.path}: the detector's "
                          f"only guess {doubtful[0].doubt}.",
                          "Use a photo where the fighters' bodies are visible, or give keypoints with --keypoints.")
    if not found:
        raise BridgeError("no_person", f"No person was found in {photo.path}.",
                          "Use a photo where the fighters' bodies are visible, or give keypoints with --keypoints.")
    warnings = []
    if len(found) < count:
        warnings.append(f"Only one person was found; fitted the person at {_box_text(found[0])} alone. Draw "
                        "--tori-rect and --uke-rect (or give a keypoint file) to fit both.")
    unassigned = [i for i, role in enumerate(roles) if role is None]
    if len(unassigned) < 2:  # one or none left to name: it takes the role no rectangle claimed
        for index, role in zip(unassigned, [role for role in ROLES if role not in roles]):
            roles[index] = role
    return found, roles, warnings


# A detection is the person a segmenting source cut out when most of its confident keypoints lie
# in that person's mask and few in any other's, and its joints lie near that person's own (within
# JOINTS_NEAR of its size): a mask can hold two fighters in contact (BlazePose's did: tori's mask
# covered uke), and another body inside it is not that person. Two detections of one such person
# are one person.
# And only when the segmenter itself saw two people in contact (box_gap <= APART): one that saw a
# single fighter (and a referee) likely holds the other fighter in that one's mask (the harder
# set's holdout, tomoe-nage v0: uke's detection lay 0.27 of tori's size from BlazePose's tori,
# inside its mask; a true second view of one fighter lay 0.28 away on the tune split, so joints
# alone do not tell them apart).
OWNS = 0.5
ELSEWHERE = 0.3
JOINTS_NEAR = 0.4


def _owners(candidates: list[Candidate]) -> dict[int, int | None]:
    """For each candidate (by id), the index of the segmented person whose mask holds it, or None;
    all None unless the sources cut out two people or more, two of them in contact."""
    segmented = [c for c in candidates if c.mask is not None]
    seen = [c for c in segmented if (c.confidence >= CONFIDENT).sum() >= 2]
    if not any(box_gap(a, b) <= APART for i, a in enumerate(seen) for b in seen[i + 1:]):
        segmented = []  # no pair in contact among the segmented: their masks are not trusted
    owners = {}
    for candidate in candidates:
        shares = [share_inside(candidate.points, candidate.confidence, s.mask) for s in segmented]
        owners[id(candidate)] = next((k for k, share in enumerate(shares) if len(segmented) >= 2 and share >= OWNS
                                      and all(other < ELSEWHERE for j, other in enumerate(shares) if j != k)
                                      and (candidate is segmented[k] or same_person(
                                          candidate.points, candidate.confidence, segmented[k].points,
                                          segmented[k].confidence, JOINTS_NEAR))), None)
    return owners


def _distinct_pair(candidates: list[Candidate]) -> list[Candidate] | None:
    """Where every credible detection counted as one person (a blend of two tangled fighters, seen
    in most views, lies near each of them), the first two credible detections that are not one
    person and touch: two fighters asked for, two distinct bodies seen (docs/decisions.md, "The
    heavy landmark model")."""
    credible = [c for c in candidates if c.role is None and c.doubt is None]
    for i, one in enumerate(credible):
        for other in credible[i + 1:]:
            if in_contact(one, other) and not same_person(one.points, one.confidence, other.points, other.confidence):
                return [one, other]
    return None


def _with_partner(pair: list[Candidate], people: list[Candidate], candidates: list[Candidate]) -> list[Candidate]:
    """The pair, unless a credible candidate was found touching one of the people with that one
    painted out (Candidate.partner: the second look, which looks only where the pair does not
    touch, or where the second person lies mostly on the first one's body): then those two."""
    beside = max((c for c in candidates if c.partner is not None and c.doubt is None
                  and any(c.partner is p for p in people)), key=lambda c: c.score, default=None)
    return pair if beside is None else [beside.partner, beside]


def _box_text(person) -> str:
    points = person.points[person.confidence >= CONFIDENT]
    x0, y0 = points.min(0)
    x1, y1 = points.max(0)
    return f"pixels ({x0:.0f}, {y0:.0f})-({x1:.0f}, {y1:.0f})"
