"""Thread limits for host (numpy, scikit-learn) work inside a call that also runs kernels."""

import contextlib


def single_threaded_blas():
    """Context in which the host BLAS libraries (OpenBLAS, MKL) use one thread.

    For host solvers that run between compiled model evaluations (scikit-learn's NMF: a
    sequential coordinate descent between small BLAS products). With several BLAS threads those
    products gain little, and the BLAS worker threads then spin-wait for work for a while after
    each product, taking the cores from the model evaluations that follow (on 2 cores, CRAFT's
    design scores ran 1.7x slower right after the NMF `transform`). Results are unchanged (the
    concepts tests compare an NMF bit for bit with scikit-learn's under the default threads),
    and the previous thread counts are restored on exit.
    """
    try:
        from threadpoolctl import threadpool_limits  # pylint: disable=import-outside-toplevel
    except ImportError:  # scikit-learn depends on it; a custom factorizer may not need it
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
