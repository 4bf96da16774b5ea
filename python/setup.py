"""Builds tensorquant._tensorquant with the repository's CMake build.

The extension is defined once, in python/CMakeLists.txt. This build_ext
configures the whole repository (python/..) with the interpreter that runs
pip (so the extension matches it and the NumPy it sees), builds only the
target tq_python, and copies the module into the package. Used by
`pip install ./python` and `pip wheel ./python`, with or without build
isolation.
"""
import os
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def project_version():
    text = open(os.path.join(ROOT, "CMakeLists.txt"), encoding="utf-8").read()
    return re.search(r"project\(TensorQuant VERSION ([0-9.]+)", text).group(1)


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build = os.path.abspath(os.path.join(self.build_temp, "cmake"))
        os.makedirs(build, exist_ok=True)
        config = [
            "cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
            f"-DPython3_EXECUTABLE={sys.executable}", "-DTQ_BUILD_PYTHON=ON",
            "-DTQ_BUILD_TESTS=OFF", "-DTQ_BUILD_TOOLS=OFF",
            "-DTQ_BUILD_EXAMPLES=OFF", "-DTQ_BUILD_BENCH=OFF",
        ]
        if shutil.which("ninja") and not os.path.exists(
                os.path.join(build, "CMakeCache.txt")):
            config += ["-G", "Ninja"]
        subprocess.check_call(config)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
        subprocess.check_call(["cmake", "--build", build, "--target", "tq_python",
                               "-j", jobs])
        out_dir = os.path.join(build, "python", "tensorquant")
        built = [f for f in os.listdir(out_dir) if f.startswith("_tensorquant")
                 and f.endswith(".so")]
        if len(built) != 1:
            raise RuntimeError(f"expected one _tensorquant*.so in {out_dir}, "
                               f"found {built}")
        dest = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(os.path.join(out_dir, built[0]), dest)


setup(
    version=project_version(),
    ext_modules=[Extension("tensorquant._tensorquant", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
)
