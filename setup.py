"""Build the Cython core; all metadata lives in pyproject.toml.

Environment switches:
  CHUANYU_CYTHON_DEBUG=1     bounds, wraparound and initialisation checks back on
  CHUANYU_CYTHON_TRACE=1     line tracing (coverage / profilers), implies CYTHON_TRACE macros
  CHUANYU_CYTHON_ANNOTATE=1  write the cython -a HTML next to each .pyx
"""
import os

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


debug = _flag("CHUANYU_CYTHON_DEBUG")
trace = _flag("CHUANYU_CYTHON_TRACE")

directives = {
    "language_level": 3,
    "boundscheck": debug,
    "wraparound": debug,
    "initializedcheck": debug,
    "cdivision": True,
    "embedsignature": True,
}
macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
if trace:
    directives["linetrace"] = True
    macros.append(("CYTHON_TRACE_NOGIL", "1"))

# the engine, the feed encoder, the daemon's batch stages, and the transport's C calls to libzmq
MODULES = ("matching._engine", "zmqio._router", "zmqio._publish", "feeds._encode", "gateway._intake", "exchange._reports",
           "exchange._sequence")
extensions = [
    Extension(
        name,
        [name.replace(".", "/") + ".pyx"],
        include_dirs=[numpy.get_include()],
        define_macros=macros,
        extra_compile_args=["-O3"] if not debug else ["-O0", "-g"],
    )
    for name in MODULES
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=directives,
        annotate=_flag("CHUANYU_CYTHON_ANNOTATE"),
    ),
)
