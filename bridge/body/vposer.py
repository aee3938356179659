"""VPoser (Pavlakos et al. 2019, SMPLify-X's learned pose prior) from the user's own checkpoint.

Why an in-repo definition instead of the human-body-prior package: the package on PyPI is the
2019 release (VPoser 1, whose checkpoints differ); VPoser 2 lives only in its source
repository, under a non-commercial licence, with PyTorch Lightning and OmegaConf behind it,
and its loader unpickles checkpoints with torch.load(weights_only=False), which runs any code a
file carries. The prior needs only VPoser 2's encoder: nine layers whose order and names match
the checkpoint's 'vp_model.encoder_net.*' weights. This file is the architecture alone; the
weights always come from the user's file, read with torch.load(weights_only=True).

The prior is the squared norm of the encoder's mean for a pose, as SMPLify-X's latent L2
penalty: poses VPoser saw often map near the origin of its latent space.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import BridgeError

BODY_JOINTS = 21  # SMPL-X joints 1..21: VPoser's body pose, without the root, jaw, eyes and hands
CHECKPOINT_HINT = ("Give VPoser 2's checkpoint (V02_05, the '.ckpt' in the 'snapshots' folder of the VPoser "
                   "download from smpl-x.is.tue.mpg.de), or leave --vposer out to use the L2 pose prior.")
RESAVE_HINT = ("If your checkpoint was saved with extra Python objects, save its weights alone once, for a file "
               "you trust: python -c \"import torch; c = torch.load('IN.ckpt', weights_only=False); "
               "torch.save(c['state_dict'], 'vposer_weights.pt')\" and pass vposer_weights.pt.")


class _GaussianHead(nn.Module):
    def __init__(self, features: int, latent: int):
        super().__init__()
        self.mu = nn.Linear(features, latent)
        self.logvar = nn.Linear(features, latent)  # kept so the checkpoint loads strictly; unused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mu(x)


class VPoserEncoder(nn.Module):
    """VPoser 2's encoder: a body pose (B, 21, 3) to its latent mean (B, latent)."""

    def __init__(self, hidden: int = 512, latent: int = 32):
        super().__init__()
        inputs = BODY_JOINTS * 3
        self.encoder_net = nn.Sequential(
            nn.Flatten(),
            nn.BatchNorm1d(inputs),
            nn.Linear(inputs, hidden),
            nn.LeakyReLU(),
            nn.BatchNorm1d(hidden),
            nn.Dropout(0.1),
            nn.Linear(hidden, hidden),
            nn.Linear(hidden, hidden),
            _GaussianHead(hidden, latent),
        )

    def forward(self, body_pose: torch.Tensor) -> torch.Tensor:
        return self.encoder_net(body_pose)


class VPoserPrior:
    """pose (B, J, 3) in SMPL-X joint order -> (B,) mean squared latent: about 1 for the poses
    VPoser was trained on, so it sits on the L2 prior's scale (not measured on real weights
    here: the tests use random ones)."""

    def __init__(self, encoder: VPoserEncoder, path: Path):
        self.encoder = encoder.eval().requires_grad_(False)
        self.path = path

    def __call__(self, pose: torch.Tensor) -> torch.Tensor:
        latent = self.encoder(pose[:, 1:1 + BODY_JOINTS].to(torch.float32))
        return (latent**2).mean(-1)


def _unreadable(path: Path, why: str, hint: str = CHECKPOINT_HINT) -> BridgeError:
    return BridgeError("vposer_unreadable", f"{path} cannot be loaded as a VPoser checkpoint: {why}.", hint)


def load_vposer(path) -> VPoserPrior:
    """The prior from a VPoser 2 checkpoint (a Lightning .ckpt or its bare state dict)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise BridgeError("vposer_missing", f"The VPoser checkpoint {path} does not exist.", CHECKPOINT_HINT)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds for a file it cannot read safely
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            raise _unreadable(path, "it needs Python objects that are never unpickled here",
                              CHECKPOINT_HINT + " " + RESAVE_HINT) from None
        raise _unreadable(path, f"it is not a PyTorch checkpoint ({reason[:120]})") from None
    state = checkpoint.get("state_dict", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise _unreadable(path, "it holds no weights")
    state = {key.removeprefix("vp_model."): value for key, value in state.items()}
    encoder_state = {key: value for key, value in state.items() if key.startswith("encoder_net.")}
    first, head = encoder_state.get("encoder_net.2.weight"), encoder_state.get("encoder_net.8.mu.weight")
    if first is None or head is None or first.shape[1] != BODY_JOINTS * 3:
        raise _unreadable(path, "it has no VPoser 2 encoder weights (encoder_net.*)")
    encoder = VPoserEncoder(hidden=first.shape[0], latent=head.shape[0])
    try:
        encoder.load_state_dict(encoder_state, strict=True)
    except RuntimeError as exc:
        raise _unreadable(path, f"its encoder weights do not fit VPoser 2 ({str(exc).splitlines()[0]})") from None
    return VPoserPrior(encoder, path)
