r"""The KAN paper's sparsity penalty.

For layer :math:`\Phi_l` with edges :math:`\phi_{ij}`, on a batch of inputs
:math:`x^{(1)}, \dots, x^{(B)}`:

.. math::
    |\phi_{ij}|_1 = \frac{1}{B} \sum_{b=1}^{B} |\phi_{ij}(x_i^{(b)})|, \qquad
    |\Phi_l|_1 = \sum_{i,j} |\phi_{ij}|_1,

.. math::
    S(\Phi_l) = -\sum_{i,j} p_{ij} \log p_{ij}, \qquad
    p_{ij} = \frac{|\phi_{ij}|_1}{|\Phi_l|_1},

and the penalty added to the loss is

.. math::
    \lambda \Bigl(\mu_1 \sum_l |\Phi_l|_1 + \mu_2 \sum_l S(\Phi_l)\Bigr)
    + \lambda\,\mu_c \sum_{l,i,j,m} |c_{ijm}|
    + \lambda\,\mu_{d} \sum_{l,i,j,m} |c_{ij,m+1} - c_{ijm}|,

with :math:`\lambda` = ``lamb``, :math:`\mu_1` = ``lamb_l1``,
:math:`\mu_2` = ``lamb_entropy`` and the optional coefficient terms
:math:`\mu_c` = ``lamb_coef``, :math:`\mu_d` = ``lamb_coefdiff``.
The activations come from a subsample of the batch (see ``train.fit``).

:func:`spline_roughness` is a different, smoothness penalty: the P-spline
penalty of Eilers and Marx (1996), the squared second differences of every
live spline edge's coefficients (times the edge's spline scale),

.. math::
    R = \sum_{l,i,j} \sum_m \bigl(w_{ij} (c_{ij,m+2} - 2 c_{ij,m+1} + c_{ijm})\bigr)^2 .

On a uniform grid it is proportional to the integral of the squared second
derivative of the spline part; on a grid placed at data quantiles (after
``update_grid``) it penalises roughness per knot interval, where the data are.
It leaves the SiLU part and symbolic edges alone.
"""

from __future__ import annotations

import torch

__all__ = ["regularization", "edge_l1", "spline_roughness"]


def edge_l1(acts: torch.Tensor) -> torch.Tensor:
    """Mean absolute activation of every edge: (batch, n_in, n_out) -> (n_in, n_out)."""
    return acts.abs().mean(0)


def regularization(model, layer_inputs: list[torch.Tensor], lamb_l1: float = 1.0,
                   lamb_entropy: float = 2.0, lamb_coef: float = 0.0,
                   lamb_coefdiff: float = 0.0, eps: float = 1e-12) -> torch.Tensor:
    """The bracketed penalty above (without the leading ``lamb``).

    ``layer_inputs[l]`` holds the inputs of layer ``l`` on the (sub)sample, as
    returned by ``model.trace(x)[0][:-1]``, so a training step can reuse the
    values of its own forward pass.
    """
    total = layer_inputs[0].new_zeros(())
    for layer, h in zip(model.layers, layer_inputs):
        acts = layer.edge_activations(h)
        l1 = edge_l1(acts)
        layer_l1 = l1.sum()
        p = l1 / (layer_l1 + eps)
        entropy = -(p * torch.log(p + eps)).sum()
        total = total + lamb_l1 * layer_l1 + lamb_entropy * entropy
        if lamb_coef:
            total = total + lamb_coef * layer.coef.abs().sum()
        if lamb_coefdiff:
            total = total + lamb_coefdiff * layer.coef.diff(dim=-1).abs().sum()
    return total


def spline_roughness(model) -> torch.Tensor:
    """The P-spline roughness of a KAN's spline edges (see the module docstring):
    a differentiable scalar; pruned and symbolic edges do not count."""
    total = model.layers[0].coef.new_zeros(())
    for layer in model.layers:
        w_sp = layer._effective_weights()[1]           # (n_in, n_out, n_coef)
        if w_sp.shape[-1] >= 3:
            total = total + (w_sp[..., 2:] - 2 * w_sp[..., 1:-1] + w_sp[..., :-2]).pow(2).sum()
    return total
