"""The shipped model travels inside the wheel.

The model file is kept once, in the Slicer module's ``DTCSegmentation/Resources/Models/``, where
Slicer's CMake installs it beside ``DTCSegmentationLib/`` (``qt-scripted-modules/Resources/Models``).
A wheel has no such sibling folder, so the build copies the folder into the package, as
``DTCSegmentationLib/Resources/Models/``: the second place ``networks/default_model.py`` looks.
Everything else is configured in ``pyproject.toml``.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

MODELS = Path("DTCSegmentation") / "Resources" / "Models"


class BuildWithShippedModel(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "DTCSegmentationLib" / "Resources" / "Models"
        self.mkpath(str(target))
        for path in sorted(MODELS.iterdir()):
            if path.is_file():
                self.copy_file(str(path), str(target / path.name))


setup(cmdclass={"build_py": BuildWithShippedModel})
