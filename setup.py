"""The optional C extension only; everything else is in pyproject.toml.

The C hot loop of the crediting pass (domain/engine/by_class.py runs its Python loop when the
module is not built, say with no C compiler: the same results, about 20% slower)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "domain.engine._crediting",
            sources=["domain/engine/_crediting.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
