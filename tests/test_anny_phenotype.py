"""The fit's phenotype -> blendshape coefficients is Anny's own function, values and gradients,
including phenotypes on the anchors and clamped outside them (where a one-sided gradient is chosen)."""
import torch

from bridge.body.anny_phenotype import PhenotypeCoefficients


def test_coefficients_and_gradients_equal_annys(body):
    model = body.model
    fast = PhenotypeCoefficients(model)
    torch.manual_seed(3)
    cases = [torch.rand(4, 6), torch.full((1, 6), 0.5), torch.tensor([[0.0] * 6, [1.0] * 6]),
             torch.tensor([[1 / 3, 2 / 3, 0.5, 0.25, 0.75, 0.1]]), torch.rand(3, 6) * 1.6 - 0.3]
    for values in cases:
        theirs_in, ours_in = values.clone().requires_grad_(True), values.clone().requires_grad_(True)
        _, phenotype, local, facial = model.get_tensor_inputs(None, theirs_in, None, None)
        theirs = model._get_phenotype_blendshape_coefficients(phenotype, local, facial)
        ours = fast(ours_in)
        # float32 noise on coefficients of order 1 is 1e-7; a wrong anchor or mix shows as 0.01-1
        assert torch.allclose(ours, theirs, atol=1e-5), values
        weights = torch.randn_like(theirs)
        (theirs * weights).sum().backward()
        (ours * weights).sum().backward()
        # float32 noise on gradients of order 1 is 1e-7; a wrong anchor or one-sided rule shows as 0.1-1
        assert torch.allclose(ours_in.grad, theirs_in.grad, atol=1e-4), values
