"""SMPLify-style fit of one or two bodies to 2D keypoints in one known camera.

Why these choices: depth comes from torso length; a robust (Geman-McClure) reprojection loss
weighted by confidence so one wild detection cannot drag a limb; knees and elbows are hinges
whose angle may only be positive (they never bend backwards); an L2 pose prior and a shape
prior keep what 2D cannot decide near a plausible body; stages go from the torso and camera
to the whole body with the prior relaxed step by step; both facing directions are tried when
the shoulders are too close in the image to tell which way the person faces. Several people
are fitted in one batch (one forward pass for all), and two fighters then go through a joint
stage where they may not pass through each other and hands that grip the other stay on the
other's body (bridge.fitting.pair) and both stand on one floor (bridge.fitting.floor). Before
that, each limb's depth alternatives are refitted and ranked (bridge.fitting.hypotheses): the best
becomes the fit, the ranked list goes to the result.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import roma
import torch

from ..body import BodyModel, BodyOutput
from ..errors import BridgeError
from ..geometry.camera import project
from ..keypoints import INDEX, LIMBS, PersonTarget, keypoint_area
from ..metrics import keypoint_error_px
from .floor import FloorTerm, estimate_floor
from .hypotheses import (BACKWARD_KNEE_WEIGHT, HYPOTHESIS_WEIGHT, JOINT_LIMIT_WEIGHT, REFIT_STEPS, Hypothesis,
                         backward_knees, candidate_choices, describe, flipped_skeleton, limb_direction_targets)
from .losses import joint_limit_excess, joint_limit_loss, limb_direction_loss, robust_reprojection
from .pair import CLOSEST_REFRESH_STEPS, contact_sample

TORSO_POINTS = [INDEX[n] for n in ("neck", "right_shoulder", "left_shoulder", "mid_hip", "right_hip", "left_hip")]
PELVIS = INDEX["mid_hip"]
TORSO_LENGTH_M = 0.48  # neck to mid-hip of Anny's average body
# Anny's average body's limbs (BODY_25 keypoints, rest pose), for initial_placement's depth bounds.
LIMB_LENGTHS_M = [(f"{side}_{a}", f"{side}_{b}", length) for side in ("right", "left")
                  for a, b, length in (("hip", "knee", 0.377), ("knee", "ankle", 0.374), ("shoulder", "elbow", 0.259),
                                       ("elbow", "wrist", 0.232))]
FORESHORTENED = 1.5  # a torso depth this far beyond the limbs' bound is not believed
# A person's facing starts run through the torso stage only; then the best goes on alone
# (docs/decisions.md, "Fit settings").
PRUNE_AFTER_STAGES = 1
FIT_THREADS = 1


@dataclass
class FitSettings:
    """Iterations per stage and prior weights (the staged schedule of SMPLify)."""

    global_steps: int = 60
    body_steps: tuple[int, ...] = (80, 80, 100)
    pose_prior: tuple[float, ...] = (0.1, 0.03, 0.01)
    # Robust loss scale per body stage, as a fraction of the image's larger side: wide first so
    # far-off limbs still pull, narrow last so a wild detection cannot.
    robust_scale: tuple[float, ...] = (0.5, 0.2, 0.08)
    shape_prior: float = 0.5
    # Weight of the detector's own 3D estimate (limb directions): the depth cue 2D lacks.
    direction_weight: float = 1.0
    learning_rate: float = 0.04
    # The joint stage of two fighters (bridge.fitting.pair): steps and weights of its terms.
    pair_steps: int = 120
    pair_learning_rate: float = 0.01
    penetration_weight: float = 500.0  # docs/decisions.md, "Fit settings"
    grip_weight: float = 100.0
    # The keypoints' weight in the joint stage: high, so the bodies come apart without leaving the
    # photo (docs/decisions.md, "Fit settings").
    pair_keypoint_weight: float = 30.0
    # A fit from given parameters (the artist's pose after an edit, fit_people's `start`): one stage
    # of this many steps at the last stage's prior and robust scale, no facing candidates, and
    # this many joint steps for two (docs/decisions.md, "Warm bridge").
    start_steps: int = 30
    start_pair_steps: int = 16
    # Depth hypotheses refitted and ranked per person after the separate fit (0: none;
    # bridge.fitting.hypotheses).
    hypotheses: int = 8
    # Hips and shoulders past their published ranges of motion (losses.joint_limit_loss); 0: off,
    # as it changed no fit (docs/decisions.md, "Depth from one photo"); the ranking of hypotheses
    # uses the same limits (hypotheses.JOINT_LIMIT_WEIGHT).
    joint_limit_weight: float = 0.0
    # Both fighters on one floor in the joint stage (bridge.fitting.floor); 0: off.
    floor_weight: float = 1.0
    # Two fighters: steps that resize person 1 after it moved to where the two touch (so the photo
    # stays), and the weight per m^2 that holds both pelvises' depths from there (against the
    # keypoints' loss of weight 1; the joint stage multiplies both by pair_keypoint_weight;
    # docs/decisions.md, "The pair's placement").
    resize_steps: int = 40
    depth_hold_weight: float = 100.0


@dataclass
class FitResult:
    shape: torch.Tensor  # (S,)
    pose: torch.Tensor  # (J, 3)
    transl: torch.Tensor  # (3,)
    output: BodyOutput  # batch of one
    keypoint_error_px: float  # mean reprojection error over the confident keypoints
    # Ranked alternatives, best first (the first is this fit before the joint stage of two).
    hypotheses: list[Hypothesis] = dataclasses.field(default_factory=list)


Progress = Callable[[str, int, int, float], None]


def facing_yaws(points: np.ndarray, conf: np.ndarray) -> list[float]:
    """Candidate rotations about the vertical: the one the shoulders' left-right order says, then
    the other three quarter turns. Why all four: a fighter seen from the side, bent or turned in
    shows its facing poorly in 2D, and the wrong start settles into a wrong body that fits the
    keypoints as well in 2D. Pruned to the best start after the torso stage (PRUNE_AFTER_STAGES)
    it costs little time (docs/decisions.md, "Fit settings")."""
    rs, ls, neck, hip = (INDEX[n] for n in ("right_shoulder", "left_shoulder", "neck", "mid_hip"))
    yaw = 0.0
    if min(conf[rs], conf[ls]) > 0:
        # Upright and facing the camera, the left shoulder is on the image's right.
        across = points[ls] - points[rs]
        up = points[neck] - points[hip] if min(conf[neck], conf[hip]) > 0 else np.array([0.0, -1.0])
        yaw = 0.0 if across[0] * (-up[1]) - across[1] * (-up[0]) >= 0 else math.pi
    return [yaw + quarter * math.pi / 2 for quarter in range(4)]


def initial_placement(points: np.ndarray, conf: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Root position from the torso's pixel length (depth) and the hips' pixel (direction). A
    segment seen end-on looks short, so each limb's pixel length bounds the depth from above: a
    torso shorter than the limbs allow (bent towards the camera, seen from above) is foreshortened,
    and the limbs' bound (the second tightest, so one wrong keypoint cannot set it) is the depth."""
    neck, hip = INDEX["neck"], INDEX["mid_hip"]
    valid = conf > 0
    if valid[neck] and valid[hip]:
        torso_px = np.linalg.norm(points[neck] - points[hip])
    else:
        torso_px = 0.3 * np.ptp(points[valid][:, 1]) if valid.sum() >= 2 else 0.0
    depth = K[0, 0] * TORSO_LENGTH_M / max(torso_px, 1.0)
    bounds = sorted(K[0, 0] * length / max(float(np.linalg.norm(points[INDEX[a]] - points[INDEX[b]])), 1.0)
                    for a, b, length in LIMB_LENGTHS_M if valid[INDEX[a]] and valid[INDEX[b]])
    if len(bounds) >= 3 and depth > FORESHORTENED * bounds[1]:
        depth = bounds[1]
    centre = points[hip] if valid[hip] else points[valid].mean(axis=0)
    ray = np.linalg.solve(K, np.array([centre[0], centre[1], 1.0]))
    return ray * depth


def _roll(points: np.ndarray, conf: np.ndarray) -> float:
    """In-image rotation of the body's up direction (hips to neck) from the image's up: a
    fighter thrown upside down starts upside down instead of having to turn through the floor."""
    neck, hip = INDEX["neck"], INDEX["mid_hip"]
    if min(conf[neck], conf[hip]) <= 0:
        return 0.0
    up = points[neck] - points[hip]
    return math.atan2(up[0], -up[1])


class _Starts:
    """The parameters of a batch of starts (several per person): root orientation and position,
    free bone rotations, hinge angles and unconstrained shape values (the body maps them to its
    shape: logits of Anny's phenotype, SMPL-X's betas as they are), all optimised together."""

    NAMES = ["root", "transl", "free", "hinge", "shape_logit"]
    POSE = ["root", "transl", "free", "hinge"]

    def __init__(self, body: BodyModel, roots, transl, free=None, hinge=None, shape_logit=None):
        dtype = torch.float32
        batch = len(roots)
        self.body = body
        self.free_index = torch.tensor([body.bone_names.index(b) for b in body.free_bones])
        self.hinge_index = torch.tensor([body.bone_names.index(h.bone) for h in body.hinges])
        self.hinge_axes = torch.tensor([h.axis for h in body.hinges], dtype=dtype)
        self.hinge_max = torch.tensor([h.max_angle for h in body.hinges], dtype=dtype)
        leaf = lambda t: t.detach().clone().to(dtype).requires_grad_(True)  # noqa: E731
        self.root = leaf(roots)
        self.transl = leaf(transl)
        self.free = leaf(torch.zeros(batch, len(self.free_index), 3) if free is None else free)
        self.hinge = leaf(torch.full((batch, len(self.hinge_index)), 0.15) if hinge is None else hinge)
        self.shape_logit = leaf(torch.zeros(batch, len(body.shape_names)) if shape_logit is None else shape_logit)

    def take(self, rows: list[int]) -> "_Starts":
        return _Starts(self.body, self.root[rows], self.transl[rows], self.free[rows], self.hinge[rows],
                       self.shape_logit[rows])

    def assemble(self):
        batch = len(self.root)
        pose = torch.zeros(batch, len(self.body.bone_names), 3)
        pose[:, 0] = self.root
        pose[:, self.free_index] = self.free
        pose[:, self.hinge_index] = self.hinge[..., None] * self.hinge_axes
        return self.body.shape_from_unconstrained(self.shape_logit), pose

    def clamp_hinges(self):
        """Joint limits as a hard projection: hinges never bend backwards."""
        with torch.no_grad():
            self.hinge.copy_(torch.minimum(self.hinge.clamp(min=0.0), self.hinge_max))


class _Targets:
    """Per-row keypoint targets: each start row gathers its person's points and 3D guide."""

    def __init__(self, people: list[PersonTarget], owner: list[int]):
        dtype = torch.float32
        self.limb_a, self.limb_b = (torch.tensor(i) for i in zip(*LIMBS))
        self.points = torch.as_tensor(np.stack([people[o].points for o in owner]), dtype=dtype)
        self.weight = torch.as_tensor(np.stack([people[o].confidence for o in owner]), dtype=dtype) ** 2
        self.torso_weight = torch.zeros_like(self.weight)
        self.torso_weight[:, TORSO_POINTS] = self.weight[:, TORSO_POINTS]
        guides, guide_weight = [], []
        for row, o in enumerate(owner):
            guide = people[o].points3d
            limb_weight = torch.minimum(self.weight[row, self.limb_a], self.weight[row, self.limb_b])
            if guide is None:
                guides.append(torch.zeros(len(LIMBS), 3))
                guide_weight.append(torch.zeros(len(LIMBS)))
                continue
            guide = torch.as_tensor(guide, dtype=dtype)
            guides.append(torch.nn.functional.normalize(guide[self.limb_b] - guide[self.limb_a], dim=-1))
            guide_weight.append(limb_weight)
        # Per row, outside limb_direction_loss (which normalises its weights away).
        self.cue_scale = torch.tensor([people[o].points3d_weight for o in owner], dtype=dtype)
        self.guide_dirs = torch.stack(guides)
        self.guide_weight = torch.stack(guide_weight)
        self.has_guide = bool((self.guide_weight > 0).any())

    def loss(self, keypoints, pixels, point_weight, sigma, direction_weight):
        """Per-row robust reprojection loss plus the 3D limb-direction term."""
        total = robust_reprojection(pixels, self.points, point_weight, sigma)
        if self.has_guide:
            total = total + direction_weight * self.cue_scale * limb_direction_loss(
                keypoints, self.limb_a, self.limb_b, self.guide_dirs, self.guide_weight)
        return total


def _initial_starts(body: BodyModel, people: list[PersonTarget], K: np.ndarray):
    """Every person's starts (its facing candidates) and which person each row belongs to."""
    base = roma.rotvec_to_rotmat(body.base_orientation().to(torch.float32))
    roots, transl, owner = [], [], []
    for index, person in enumerate(people):
        roll = roma.rotvec_to_rotmat(torch.tensor([0.0, 0.0, _roll(person.points, person.confidence)]))
        place = torch.as_tensor(initial_placement(person.points, person.confidence, K), dtype=torch.float32)
        for yaw in facing_yaws(person.points, person.confidence):
            turn = roma.rotvec_to_rotmat(torch.tensor([0.0, yaw, 0.0]))
            roots.append(roma.rotmat_to_rotvec(roll @ turn @ base))
            transl.append(place)
            owner.append(index)
    return _Starts(body, torch.stack(roots), torch.stack(transl)), owner


def _given_starts(body: BodyModel, start) -> _Starts:
    """One start row per person from given parameters (objects with shape (S,), pose (J, 3) and
    transl (3,): a FitResult or a FighterState). Hinges keep their angle about their own axis;
    bones the fit does not move (neither root, free nor hinge) start, as always, at rest."""
    shape = torch.stack([torch.as_tensor(s.shape, dtype=torch.float32) for s in start])
    pose = torch.stack([torch.as_tensor(s.pose, dtype=torch.float32) for s in start])
    transl = torch.stack([torch.as_tensor(s.transl, dtype=torch.float32) for s in start])
    params = _Starts(body, pose[:, 0], transl)
    with torch.no_grad():
        params.free.copy_(pose[:, params.free_index])
        params.hinge.copy_((pose[:, params.hinge_index] * params.hinge_axes).sum(-1))
        params.shape_logit.copy_(body.unconstrained_shape(shape))
    params.clamp_hinges()
    return params


def fit_people(
    body: BodyModel,
    people: list[PersonTarget],
    K: np.ndarray,
    image_size: int,
    settings: FitSettings = FitSettings(),
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    pair=None,
    start: list | None = None,
    fixed: list[int] | None = None,
) -> list[FitResult]:
    """Fit each person's shape, pose and placement to its BODY_25 keypoints (pixels) in camera K,
    all in one batch. For two people, `pair` turns their separate fits into the joint stage's
    terms (bridge.fitting.pair.pair_terms), and that stage then moves both together.

    `start` (one per person: shape, pose, transl) fits from those parameters instead of from
    scratch: one stage of settings.start_steps at the last stage's weights, and
    settings.start_pair_steps joint steps; without it the fit is the staged one, unchanged.
    `fixed` (with `start`): the people who stay as they start, the others fitted around them: the
    fighter a one-fighter Fit does not refit still keeps the other out of its body."""
    # The fit's tensors are small: a second OpenMP thread gains little on an idle CPU and, when
    # anything else runs (Blender, a render), its spin-waiting made steps 20x slower (measured
    # 14 ms against 267 ms a step for two bodies on the 2-core machine).
    torch.set_num_threads(FIT_THREADS)
    if start is not None:
        if len(start) != len(people):
            raise ValueError(f"{len(start)} starts for {len(people)} people")
        starts, owner = _given_starts(body, start), list(range(len(people)))
    else:
        starts, owner = _initial_starts(body, people, K)
    targets = _Targets(people, owner)
    K_t = torch.as_tensor(K, dtype=torch.float32)
    if fixed:
        if start is None:
            raise ValueError("fixed people need a start")
        moving = torch.ones(len(people))
        moving[list(fixed)] = 0.0
        for name in _Starts.NAMES:  # no gradient, so Adam leaves them exactly where they start
            getattr(starts, name).register_hook(lambda grad: grad * moving.view(-1, *[1] * (grad.dim() - 1)))

    def row_losses(params, tgt, point_weight, prior_weight, robust_scale, mesh=False, row_extra=None, sample=None,
                   rigid=None):
        """Per-row loss; the posed mesh too (else None) where mesh is asked for: only the joint
        stage and the results need it, and the keypoint stages run 2-3x faster without. With
        `sample` (vertex indices), the mesh holds those vertices only (the joint stage's). With
        `rigid` (the body's rigid_keypoints for these params), the keypoints come from the root's
        rotation and the translation alone: a stage that moves nothing else."""
        sigma = robust_scale * image_size
        shape, pose = params.assemble()
        out = None
        if mesh:
            out = (body.forward(shape, pose, params.transl) if sample is None
                   else body.forward_sample(shape, pose, params.transl, sample))
        if mesh:
            keypoints = out.keypoints
        elif rigid is not None:
            keypoints = rigid(params.root, params.transl)
        else:
            keypoints = body.posed_keypoints(shape, pose, params.transl)
        pixels = project(K_t, keypoints)
        per_row = tgt.loss(keypoints, pixels, point_weight, sigma, settings.direction_weight)
        learned = body.learned_pose_prior  # VPoser where given, else L2 on the free bones
        per_row = per_row + prior_weight * ((params.free**2).sum((-1, -2)) if learned is None else learned(pose))
        per_row = per_row + settings.shape_prior * body.shape_prior(shape)
        per_row = per_row + torch.relu(0.5 - params.transl[:, 2]) ** 2 * 1e3  # stay in front of the camera
        if settings.joint_limit_weight > 0:
            per_row = per_row + settings.joint_limit_weight * joint_limit_loss(keypoints)
        if row_extra is not None:
            per_row = per_row + row_extra(keypoints)
        return per_row, out, pixels

    free_params = ["root", "transl"]
    # (steps, parameters that move (None: all), torso keypoints only, pose prior, robust scale)
    stages = [(settings.global_steps, free_params, True, settings.pose_prior[0], settings.robust_scale[0])]
    stages += [(steps, None, False, prior, scale)
               for steps, prior, scale in zip(settings.body_steps, settings.pose_prior, settings.robust_scale)]
    pair_steps = settings.pair_steps if pair is not None and len(people) == 2 else 0
    if start is not None:  # already in place and facing: the last stage's weights only
        # The pose only: an edit of keypoints does not change the fighter's build.
        stages = [(settings.start_steps, _Starts.POSE, False, settings.pose_prior[-1], settings.robust_scale[-1])]
        pair_steps = settings.start_pair_steps if pair is not None and len(people) == 2 else 0
    # Depth hypotheses only from scratch: a start from the artist's edits keeps the depths they set.
    hypothesis_steps = sum(REFIT_STEPS) if settings.hypotheses > 1 and start is None else 0
    resize_steps = settings.resize_steps if pair_steps and start is None else 0
    total = sum(s[0] for s in stages) + pair_steps + hypothesis_steps + resize_steps
    done = 0

    def run(params, tgt, steps, only, point_weight, prior_weight, robust_scale, extra=None, lr=settings.learning_rate,
            data_weight=1.0, row_extra=None, extra_params=(), sample=None):
        nonlocal done
        names = only or _Starts.NAMES
        for name in _Starts.NAMES:  # what does not move needs no gradient (and a fixed shape is computed once)
            getattr(params, name).requires_grad_(name in names)
        rigid = None
        if extra is None and set(names) <= {"root", "transl"} and hasattr(body, "rigid_keypoints"):
            with torch.no_grad():
                rigid = body.rigid_keypoints(*params.assemble())
        optimizer = torch.optim.Adam([getattr(params, n) for n in names] + list(extra_params), lr=lr)
        # Adam's steps jitter limbs by pixels at a fixed rate; anneal to settle each stage.
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps, eta_min=lr * 0.02)
        for _ in range(steps):
            optimizer.zero_grad()
            per_row, out, _ = row_losses(params, tgt, point_weight, prior_weight, robust_scale, mesh=extra is not None,
                                         row_extra=row_extra, sample=None if sample is None else sample(), rigid=rigid)
            loss = data_weight * per_row.sum()
            if extra is not None:
                loss = loss + extra(out)
            loss.backward()
            optimizer.step()
            schedule.step()
            params.clamp_hinges()
            done += 1
            if progress and (done % 10 == 0 or done == total):
                progress("fit", done, total, float(loss.detach()))
            if should_stop and should_stop():
                raise BridgeError("cancelled", "The fit was cancelled.", "")

    final = (settings.pose_prior[-1], settings.robust_scale[-1])
    start_hold = None
    if start is not None:
        # The keypoints barely decide how far along the camera's rays a fighter stands: that is
        # the pair's placement (the joint stage's, or the artist's), so a fit from the artist's
        # pose holds each pelvis at its depth, as the joint stage does, instead of letting it
        # drift back towards where its size alone would put it.
        with torch.no_grad():
            start_shape, start_pose = starts.assemble()
            start_hold = _depth_hold(body.posed_keypoints(start_shape, start_pose, starts.transl)[:, PELVIS, 2],
                                     settings.depth_hold_weight)
    for stage, (steps, only, torso_only, prior_weight, robust_scale) in enumerate(stages):
        if stage == PRUNE_AFTER_STAGES and start is None:  # each person's best start goes on alone
            with torch.no_grad():
                per_row, _, _ = row_losses(starts, targets, targets.weight, *final)
            best = [min((r for r, o in enumerate(owner) if o == p), key=lambda r: float(per_row[r]))
                    for p in range(len(people))]
            starts, owner = starts.take(best), list(range(len(people)))
            targets = _Targets(people, owner)
        run(starts, targets, steps, only, targets.torso_weight if torso_only else targets.weight, prior_weight,
            robust_scale, row_extra=start_hold)
    chosen, chosen_targets = starts, targets
    ranked = [[] for _ in people]
    if hypothesis_steps:
        chosen, ranked = _hypotheses(body, people, chosen, settings, row_losses, run, final)
        chosen_targets = _Targets(people, list(range(len(people))))

    def results():
        with torch.no_grad():
            _, out, pixels = row_losses(chosen, chosen_targets, chosen_targets.weight, *final, mesh=True)
            shape, pose = chosen.assemble()
        fits = []
        for index, person in enumerate(people):
            confident = person.confidence > 0
            fits.append(FitResult(
                shape=shape[index].detach(), pose=pose[index].detach(), transl=chosen.transl[index].detach(),
                output=BodyOutput(out.vertices[index:index + 1], out.keypoints[index:index + 1],
                                  out.bone_poses[index:index + 1]),
                keypoint_error_px=keypoint_error_px(pixels[index].numpy(), chosen_targets.points[index].numpy(), confident),
                hypotheses=ranked[index],
            ))
        return fits

    if pair_steps:
        # Two fighters fitted apart stand at depths their size prior gave each. Person 1 first
        # moves along the camera's rays to the middle of where the two touch (pair.depth_ratio)
        # and is resized there so the photo stays (a body further along the rays and larger in
        # proportion shows the same); both pelvises' depths are then held, loosely, through the
        # joint stage: placements and sizes first, then every parameter, gently, for what that
        # cannot resolve (an arm through the other's body); the keypoints weigh more than in the
        # separate fit, so the bodies come apart without leaving the photo (docs/decisions.md,
        # "The pair's placement"). A fit from the artist's pose keeps the placement they set.
        separate = results()
        # The contact terms test a thinned copy of each surface against the other's whole one, and
        # each step poses only the vertices they need (pair.PairTerms).
        terms = dataclasses.replace(pair(separate), refresh_steps=CLOSEST_REFRESH_STEPS, queries=contact_sample(body))

        def contact_vertices():
            if terms.due():  # the pairs are found on the whole meshes
                with torch.no_grad():
                    shape, pose = chosen.assemble()
                    terms.find(body.forward_sample(shape, pose, chosen.transl, None))
            return terms.index

        ratio = terms.depth_ratio if start is None else 1.0
        # The fighter the photo shows larger keeps the depth its size gave it and the other moves
        # to touch it (pair.depth_ratio is person 1's relative to person 0's).
        area = [keypoint_area(person.points, person.confidence) for person in people]
        moved = 1 if area[0] >= area[1] else 0
        scale = ratio if moved == 1 else 1.0 / ratio
        with torch.no_grad():
            held = torch.stack([f.output.keypoints[0, PELVIS, 2] for f in separate])
            held[moved] *= scale
            # Scaling about the camera's centre: the body moves here, its size follows below.
            chosen.transl[moved] += (scale - 1.0) * separate[moved].output.keypoints[0, PELVIS]
        depth_hold = _depth_hold(held, settings.depth_hold_weight)
        if resize_steps:
            run(chosen, chosen_targets, resize_steps, ["transl", "shape_logit"], chosen_targets.weight, *final,
                row_extra=depth_hold)
        joint = lambda out: terms.loss(out, settings)  # noqa: E731
        floor_params = []
        if settings.floor_weight > 0:
            floor = FloorTerm(estimate_floor(np.stack([f.output.keypoints[0].numpy() for f in separate])))
            floor_params = floor.parameters()
            joint = lambda out: (terms.loss(out, settings)  # noqa: E731
                                 + settings.floor_weight * floor.loss(out.keypoints))
        placement_steps = pair_steps // 2
        # From the artist's pose the build stays, as in its keypoint stage: placement, then pose.
        placing, posing = (["transl", "shape_logit"], None) if start is None else (["transl"], _Starts.POSE)
        for names, steps in ((placing, placement_steps), (posing, pair_steps - placement_steps)):
            run(chosen, chosen_targets, steps, names, chosen_targets.weight, *final, extra=joint,
                lr=settings.pair_learning_rate, data_weight=settings.pair_keypoint_weight, extra_params=floor_params,
                row_extra=depth_hold, sample=contact_vertices)
    return results()


def _depth_hold(depths: torch.Tensor, weight: float):
    """A per-row loss holding each person's pelvis at `depths` along the camera's axis."""
    held = depths.detach().clone()
    return lambda keypoints: weight * (keypoints[:, PELVIS, 2] - held) ** 2


def _hypotheses(body, people, chosen: _Starts, settings: FitSettings, row_losses, run, final):
    """Each person's depth hypotheses (bridge.fitting.hypotheses) refitted in one batch from
    the fit and ranked; returns the starts of each person's best and the ranked lists."""
    with torch.no_grad():
        shape, pose = chosen.assemble()
        fitted = body.posed_keypoints(shape, pose, chosen.transl).numpy()
    owner, skeletons, labels = [], [], []  # owner[r]: whose hypothesis row r is (and which row it starts from)
    for index, person in enumerate(people):
        for choice in candidate_choices(fitted[index], person.points3d, person.confidence, settings.hypotheses,
                                        person.points3d_weight):
            owner.append(index)
            skeletons.append(flipped_skeleton(fitted[index], choice))
            labels.append(describe(choice))
    starts, targets = chosen.take(owner), _Targets(people, owner)
    wanted = limb_direction_targets(np.stack(skeletons))
    limb_weight = torch.minimum(targets.weight[:, targets.limb_a], targets.weight[:, targets.limb_b])
    pull = lambda keypoints: HYPOTHESIS_WEIGHT * limb_direction_loss(  # noqa: E731
        keypoints, targets.limb_a, targets.limb_b, wanted, limb_weight)
    run(starts, targets, REFIT_STEPS[0], None, targets.weight, *final, lr=settings.learning_rate / 2, row_extra=pull)
    run(starts, targets, REFIT_STEPS[1], None, targets.weight, *final, lr=settings.learning_rate / 4)
    with torch.no_grad():
        per_row, _, _ = row_losses(starts, targets, targets.weight, *final)
        shape, pose = starts.assemble()
        keypoints = body.posed_keypoints(shape, pose, starts.transl)
        limits = sum(joint_limit_excess(keypoints).values()).numpy()
    scores = per_row.numpy() + BACKWARD_KNEE_WEIGHT * backward_knees(keypoints.numpy()) + JOINT_LIMIT_WEIGHT * limits
    ranked, best = [], []
    for index in range(len(people)):
        mine = sorted((r for r, o in enumerate(owner) if o == index), key=lambda r: scores[r])
        best.append(mine[0])
        ranked.append([Hypothesis(pose[r].detach().clone(), starts.transl[r].detach().clone(), float(scores[r]),
                                  labels[r]) for r in mine])
    return starts.take(best), ranked


def fit_fighter(body: BodyModel, points: np.ndarray, conf: np.ndarray, K: np.ndarray, image_size: int,
                settings: FitSettings = FitSettings(), progress: Progress | None = None,
                should_stop: Callable[[], bool] | None = None, points3d: np.ndarray | None = None) -> FitResult:
    """Fit one person (see fit_people)."""
    return fit_people(body, [PersonTarget(points, conf, points3d)], K, image_size, settings, progress, should_stop)[0]
