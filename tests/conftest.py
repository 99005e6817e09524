import perflab  # noqa: F401  (first: sets TRITON_INTERPRET=1 on machines without a GPU)
import pytest


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny ops: one torch thread is faster and steadier on a busy 2-core box (use with usefixtures)."""
    import torch
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
