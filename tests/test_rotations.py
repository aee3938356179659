"""The fit's rotation functions are roma's, values and gradients: the nearest rotation on Anny's
own bone matrices (some nearly flat, some with a negative determinant) and random ones; rotation
matrices of rotation vectors, zero and tiny ones included (the bones the fit does not move)."""
import roma
import torch

from bridge.body.rotations import rotvec_to_rotmat, special_procrustes


def _bone_matrices(body, shapes):
    model = body.model
    coeffs = body._coefficients(shapes)
    return (model.bone_template_orientation_matrices[None]
            + torch.einsum("ba,akij->bkij", coeffs, model.bone_orientation_blendshapes)).detach()


def test_equals_romas_rotation_and_gradient(body):
    torch.manual_seed(5)
    anny = _bone_matrices(body, torch.cat([torch.rand(3, 6), torch.zeros(1, 6), torch.ones(1, 6)]))
    assert (torch.linalg.det(anny) < 0).any()  # the reflections are covered
    for matrices in (anny, torch.randn(64, 3, 3)):
        ours_in, theirs_in = matrices.clone().requires_grad_(True), matrices.clone().requires_grad_(True)
        ours, theirs = special_procrustes(ours_in), roma.special_procrustes(theirs_in)
        assert torch.allclose(torch.linalg.det(ours), torch.ones(()), atol=1e-4)
        # float32 noise on entries of order 1 is 1e-7; another rotation differs by 0.01-2
        assert torch.allclose(ours, theirs, atol=1e-4)
        weights = torch.randn_like(ours)
        (ours * weights).sum().backward()
        (theirs * weights).sum().backward()
        # gradients reach 10-100 on Anny's flattest matrices; a wrong formula is off by their size
        assert torch.allclose(ours_in.grad, theirs_in.grad, atol=1e-2, rtol=1e-3)


def test_rotation_matrices_equal_romas():
    torch.manual_seed(6)
    rotvecs = torch.randn(4, 104, 3) * 0.8
    rotvecs[:, 30:70] = 0.0
    rotvecs[0, 0] = torch.tensor([3e-7, 0.0, 0.0])
    rotvecs[1, 1] = torch.tensor([0.0, 3.1, 0.2])  # near a half turn
    ours_in, theirs_in = rotvecs.clone().requires_grad_(True), rotvecs.clone().requires_grad_(True)
    ours, theirs = rotvec_to_rotmat(ours_in), roma.rotvec_to_rotmat(theirs_in)
    # float32 noise is 1e-7; a wrong sign or axis differs by 0.1-2
    assert torch.allclose(ours, theirs, atol=1e-5)
    weights = torch.randn_like(ours)
    (ours * weights).sum().backward()
    (theirs * weights).sum().backward()
    assert torch.isfinite(ours_in.grad).all()
    assert torch.allclose(ours_in.grad, theirs_in.grad, atol=1e-4)
