"""`gradjit.nn.functional` (torch.nn.functional)."""

from ..eager.nn_functional import (  # noqa: F401
                                   binary_cross_entropy,
                                   binary_cross_entropy_with_logits,
                                   conv2d,
                                   conv_transpose2d,
                                   cross_entropy,
                                   dropout,
                                   gelu,
                                   leaky_relu,
                                   linear,
                                   log_softmax,
                                   mse_loss,
                                   nll_loss,
                                   one_hot,
                                   relu,
                                   sigmoid,
                                   softmax,
                                   softplus,
                                   tanh,
)
