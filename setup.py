"""Build script for the compiled lookup kernels (metadata lives in pyproject.toml)."""
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

# -ffp-contract=off: the kernels must evaluate models with exactly the float operations
# of the numpy reference (no fused multiply-add), so that routing agrees bit for bit.
if sys.platform == "win32":
    compile_args = ["/O2", "/fp:precise"]
else:
    compile_args = ["-O3", "-ffp-contract=off", "-fno-fast-math"]

# (module, source): the B-tree's kernel lives with the baselines but reuses the shared
# lookup base of learnedidx._kernels.
KERNELS = [
    ("learnedidx._kernels.lookup", "learnedidx/_kernels/lookup.pyx"),
    ("learnedidx._kernels.rmi_kernel", "learnedidx/_kernels/rmi_kernel.pyx"),
    ("learnedidx.baselines._btree_kernel", "baselines/_btree_kernel.pyx"),
]

extensions = [Extension(name, [src], extra_compile_args=compile_args) for name, src in KERNELS]

setup(ext_modules=cythonize(extensions, language_level=3, include_path=["."],
                            compiler_directives={"embedsignature": True}))
