"""The ANI model: padding-invariant energies, smooth derivatives, clear element errors."""

import pytest
import torch

from phl.errors import InputError
from phl.models.ani import ANIModel


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return ANIModel(self_energies=[-0.5, -38.0, -54.5, -75.0])


def _water(dtype=torch.float64):
    return torch.tensor([[8, 1, 1]]), torch.tensor(
        [[[0.0, 0.0, 0.12], [0.0, 0.76, -0.48], [0.0, -0.76, -0.48]]], dtype=dtype
    )


def test_architecture_matches_the_paper(model):
    net = model.networks[0]
    sizes = [m.out_features for m in net if isinstance(m, torch.nn.Linear)]
    assert [net[0].in_features, *sizes] == [384, 256, 64, 256, 1]
    assert all(m.alpha == 0.1 for m in net if isinstance(m, torch.nn.CELU))
    assert next(model.parameters()).dtype == torch.float64


def test_padding_and_batching_do_not_change_energies(model):
    sp, xyz = _water()
    e1 = model(sp, xyz)
    sp_pad = torch.tensor([[8, 1, 1, -1, -1], [6, 1, 1, 1, 1]])
    xyz_pad = torch.zeros(2, 5, 3, dtype=torch.float64)
    xyz_pad[0, :3] = xyz[0]
    xyz_pad[1] = torch.tensor(
        [[0, 0, 0], [0.63, 0.63, 0.63], [-0.63, -0.63, 0.63], [-0.63, 0.63, -0.63], [0.63, -0.63, -0.63]]
    )
    xyz_pad[0, 3:] = 7.0  # garbage on padded atoms must not matter
    e2 = model(sp_pad, xyz_pad)
    torch.testing.assert_close(e2[0], e1[0], rtol=0, atol=1e-12)
    # self energies are included: O + 2 H
    assert abs(e1.item() - (-76.0)) < 5.0


def test_forces_are_translation_invariant_and_finite_difference_exact(model):
    sp, xyz = _water()
    xyz = xyz.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(model(sp, xyz).sum(), xyz)
    torch.testing.assert_close(g.sum(dim=1), torch.zeros(1, 3, dtype=torch.float64), rtol=0, atol=1e-10)
    d = torch.randn_like(xyz)
    h = 1e-5
    fd = (model(sp, xyz + h * d) - model(sp, xyz - h * d)) / (2 * h)
    torch.testing.assert_close(fd, (g * d).sum().reshape(1), rtol=1e-7, atol=1e-9)


def test_unknown_element_is_named(model):
    with pytest.raises(InputError, match=r"not \[16\]"):
        model(torch.tensor([[16, 1]]), torch.zeros(1, 2, 3, dtype=torch.float64))


def test_row_permutation_is_differentiable_to_third_order():
    from phl.models.ani import permute_rows

    torch.manual_seed(1)
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    order = torch.tensor([3, 0, 4, 1, 2])
    w = torch.randn(5, 3, dtype=torch.float64)
    f = lambda x: (permute_rows(x, order) ** 3 * w).sum()  # noqa: E731
    torch.testing.assert_close(permute_rows(x, order), x[order])
    assert torch.autograd.gradcheck(lambda x: permute_rows(x, order), (x,))
    assert torch.autograd.gradgradcheck(lambda x: permute_rows(x, order) ** 3, (x,))
    # third derivative of sum(w x[order]^3) along ones: 6 w[inverse] per element
    (g,) = torch.autograd.grad(f(x), x, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), x, create_graph=True)
    (t,) = torch.autograd.grad(h.sum(), x)
    inverse = torch.argsort(order)
    torch.testing.assert_close(t, 6 * w[inverse])


def test_energies_equal_per_atom_sum_of_element_networks(model):
    """The batched forward (atoms sorted by element) equals a plain loop over atoms."""
    sp = torch.tensor([[8, 1, 1, -1, -1], [6, 1, 1, 1, 1], [7, 1, 1, 1, -1]])
    torch.manual_seed(2)
    xyz = torch.randn(3, 5, 3, dtype=torch.float64)
    idx = model.element_indices(sp)
    aev = model.aev(idx, xyz)
    expected = torch.zeros(3, dtype=torch.float64)
    for m in range(3):
        for a in range(5):
            if idx[m, a] >= 0:
                k = int(idx[m, a])
                expected[m] += model.networks[k](aev[m, a]).squeeze() + model.self_energies[k]
    torch.testing.assert_close(model(sp, xyz), expected, rtol=0, atol=1e-10)
