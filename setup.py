"""Build wiring for the optional compiled extension (sources in ``_speedups/``).

ACTIVERECORD_NO_EXTENSIONS=1      skip the extension: a pure-Python install.
ACTIVERECORD_REQUIRE_EXTENSIONS=1 a failed compile is an error (CI uses this);
                                  otherwise a failed compile falls back to pure Python.
"""
import glob
import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

SKIP = os.environ.get("ACTIVERECORD_NO_EXTENSIONS", "") not in ("", "0")
REQUIRE = os.environ.get("ACTIVERECORD_REQUIRE_EXTENSIONS", "") not in ("", "0")


class OptionalBuildExt(build_ext):
    """Build each extension, but let a failure fall back to pure Python unless required."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # compiler missing, headers missing...
            self._failed(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._failed(exc, ext.name)

    def _failed(self, exc, name="extension"):
        if REQUIRE:
            raise
        sys.stderr.write(f"WARNING: could not compile {name} ({exc}); "
                         "activerecord will use its pure-Python path\n")


def extensions():
    if SKIP:
        return []
    sources = sorted(glob.glob("_speedups/*.pyx"))
    if not sources:
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        if REQUIRE:
            raise
        sys.stderr.write("WARNING: Cython is not installed; building pure Python only\n")
        return []
    from setuptools import Extension

    exts = []
    for src in sources:
        name = os.path.splitext(os.path.basename(src))[0]
        exts.append(Extension(f"activerecord._speedups.{name}", [src],
                              libraries=["sqlite3"], extra_compile_args=["-O2"]))
    try:
        return cythonize(exts, language_level=3, quiet=True,
                         compiler_directives={"boundscheck": False, "wraparound": False})
    except Exception as exc:
        if REQUIRE:
            raise
        sys.stderr.write(f"WARNING: cythonize failed ({exc}); building pure Python only\n")
        return []


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
