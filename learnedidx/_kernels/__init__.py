"""Compiled (Cython) lookup kernels; see ``rmi_kernel.pyx``."""
